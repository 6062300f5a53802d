"""What a new user's trial of a topology across three engines found (issue #27), against real engines: three dockerd
in network namespaces of their own (conftest.py), which have no route out (a helper image built there fails).

- a fault whose consumer runs on the manager keeps its run what it is: `harness fault` lists and clears it, and the
  next start reuses the kept run (its helper carries the run's labels, its engines too);
- `harness fault` builds the helper image on this machine's engine and copies it, as a start does;
- a copy of an image to an engine is said in the start's progress;
- an engine that dies under pytest is named in one line by the test that meets it, the tests after it error in one
  line that refers to it (not run), and the session ends with exit 3."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.runtime import labels as L
from harness.runtime.fault_helper import HELPER_OF
from tests.integration.engines.conftest import NAME, pair_topology
from tests.integration.engines.netns import netns_engines
from tests.integration.engines.test_across_engines import across, clients, harness, left


def test_a_fault_on_a_consumer_on_the_manager_keeps_its_kept_run(swarm: Any, tmp_path: Path,  # noqa: ANN401
                                                                   docker_client: docker.DockerClient) -> None:
    """backend runs on e0 (the manager); `harness fault FILE backend cache --delay 1500` after `harness up
    --detach`: the fault is listed, a start reuses the kept run with every container as it was, and --clear removes
    the fault and its helper."""
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    up = harness("up", "--detach", str(file))
    assert up.returncode == 0, up.stderr
    try:
        run_id = L.labels_of(engines[0].networks.list(filters={"label": f"{L.FILE}={file.resolve()}"})[0])[L.RUN]
        run = {"label": f"{L.RUN}={run_id}"}
        before = sorted(c.id for engine in engines for c in engine.containers.list(all=True, filters=run))
        added = harness("fault", str(file), "backend", "cache", "--delay", "1500")
        assert added.returncode == 0, added.stderr
        assert "backend -> cache: delay 1500 ms" in added.stdout
        helper, = engines[0].containers.list(filters={"label": [f"{L.RUN}={run_id}", HELPER_OF]})
        service = engines[0].containers.list(filters={"label": [f"{L.RUN}={run_id}", f"{L.SERVICE}=backend"]})[0]
        assert L.run_labels_of(helper) == L.run_labels_of(service)  # its engines too
        tag = helper.image.tags[0]  # built on this machine's engine and copied: the same image id
        assert helper.image.id == docker_client.images.get(tag).id

        listed = harness("fault", str(file))
        assert listed.returncode == 0, listed.stderr
        assert "backend -> cache: delay 1500 ms" in listed.stdout

        said: list[str] = []
        kept = Topology.kept_or_started(load_topology(file), say=said.append)  # as pytest --topology-reuse
        assert (kept.run_id, said[-1]) == (run_id, f"reusing the running topology {NAME} (run {run_id})")
        assert [f.describe() for f in kept.faults.active()] == ["backend -> cache: delay 1500 ms"]
        after = sorted(c.id for engine in engines for c in engine.containers.list(all=True, filters=run))
        assert after == sorted([*before, helper.id])

        cleared = harness("fault", str(file), "--clear")
        assert cleared.returncode == 0, cleared.stderr
        assert f"removed from topology {NAME}:" in cleared.stdout
        assert "backend -> cache: delay 1500 ms" in cleared.stdout
        assert [e.containers.list(all=True, filters={"label": [f"{L.RUN}={run_id}", HELPER_OF]})
                for e in engines] == [[], [], []]
    finally:
        down = harness("down", str(file))
    assert down.returncode == 0, down.stderr
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_an_image_copied_to_an_engine_is_said_as_it_begins_and_ends(swarm: Any, tmp_path: Path,  # noqa: ANN401
                                                                     docker_client: docker.DockerClient) -> None:
    """An `image:` only this machine's engine has is copied to the engine that runs it (no registry): `harness up`
    says so when the copy begins (it may take a while) and when it is done."""
    name = f"pytest-topology-test/copied:{uuid.uuid4().hex[:8]}"  # an image id no engine of the swarm has
    docker_client.images.build(fileobj=io.BytesIO(f"FROM python:3.11-slim\nLABEL probe={name}\n".encode()), tag=name,
                               rm=True)
    engines = clients(swarm)
    file = tmp_path / "topology.yaml"
    file.write_text(f"""name: {NAME}
engines:
  - {{name: e0, host: "{swarm.urls[0]}"}}
  - {{name: e1, host: "{swarm.urls[1]}"}}
services:
  probe:
    image: {name}
    placement: e1
    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {{tcp: 8000}}
""")
    try:
        up = harness("up", "--detach", str(file))
        assert up.returncode == 0, up.stderr
        lines = [line.split() for line in up.stderr.splitlines()]
        assert ["copy", "probe", name, "to", "engine", "'e1'"] in lines
        copied, = [line for line in lines if line[:2] == ["copied", "probe"]]
        assert copied[2].endswith("s") and copied[3:] == [name, "to", "engine", "'e1'"]
        assert engines[1].images.get(name).id == docker_client.images.get(name).id
    finally:
        down = harness("down", str(file))
        for client in (engines[1], docker_client):
            client.images.remove(name, force=True)
    assert down.returncode == 0, down.stderr
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_an_engine_that_dies_under_pytest_is_named_in_one_line_and_the_session_exits_3(
        pytester: pytest.Pytester) -> None:
    """A pair of engines of its own: the first test kills the worker's dockerd and reads a log there; its report
    names the engine in one line (not docker-py's transport traceback), the next tests error, not run, each in one
    line that refers to it (no restore tried, no service logs), and the session ends with the teardown error said
    once in the summary, exit 3, nothing left on the manager."""
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    pair = script.up(2, ["python:3.11-slim"], owner=os.getpid())
    try:
        file = pair_topology(pytester.path, pair.urls)
        pytester.makepyfile(test_die=f"""
import os, signal

def test_dies(topology):
    os.kill({pair.pids[1]}, signal.SIGKILL)  # the worker's dockerd
    topology["front"].logs()

def test_after(topology):
    topology["backend"].logs()

def test_later(topology):
    pass
""")
        result = pytester.runpytest_subprocess("--topology", str(file), "-p", "no:cacheprovider")
        output = result.stdout.str()
        gone = f"topology {NAME}: engine 'e1' ({pair.urls[1]}) stopped answering: "
        assert result.ret == 3, output
        result.assert_outcomes(failed=1, errors=2)
        # the failure of test_dies in one line (refused; or reset, on a connection its client had open when dockerd
        # died), and the tests after it not run, each in one line that refers to it
        said = [line.removeprefix(gone) for line in output.splitlines() if line.startswith(gone)]
        assert len(said) == 1 and said[0] in {"Connection refused", "Connection reset by peer"}, output
        not_run = [line for line in output.splitlines() if line.startswith("not run: ")]
        assert not_run == [f"not run: {gone}{said[0]} (met in test_die.py::test_dies)"] * 2, output
        assert output.count("Captured log of service backend") == 1, output  # test_dies's
        assert "Traceback" not in output and "Max retries exceeded" not in output
        assert "the topology could not be removed" in output
        assert f"could not be removed from engine 'e1' ({pair.urls[1]}): no answer" in output
        manager = docker.DockerClient(base_url=pair.urls[0], timeout=120)
        assert manager.containers.list(all=True, filters={"label": f"{L.TOPOLOGY}={NAME}"}) == []
    finally:
        script.down(pair)

