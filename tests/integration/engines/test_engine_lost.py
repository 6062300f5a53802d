"""An engine that goes away under pytest (issue #27, point 5), as a machine does: its link is taken down, so nothing
there answers any more (neither its dockerd nor its services' published ports). Engines of each test's own (network
namespaces: fixtures/engines/netns_engines.py), removed at its end; nothing of them is left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.runtime import labels as L
from tests.integration.engines.conftest import pair_topology
from tests.integration.engines.netns import netns_engines
from tests.integration.runtime.test_docker_errors import WEB

TOPOLOGY = "b27-lost"  # its runs, by name


def cable(engines: Any, i: int, state: str) -> list[str]:  # noqa: ANN401
    """The command that sets engine i's port on the hub's bridge `state` ("down": a cable pulled out, cutting it off
    the others and this machine; "up": plugged in again)."""
    return ["ip", "-n", engines.namespaces[0], "link", "set", f"port{i}", state]


def unplug(engines: Any, i: int) -> str:  # noqa: ANN401
    """cable(engines, i, "down") as a test's own code writes it."""
    return repr(cable(engines, i, "down"))


def assert_removed(script: Any, engines: Any) -> None:  # noqa: ANN401
    """`down` removed the set: its namespaces, its link, its folder, its processes."""
    script.down(engines)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [name for name in engines.namespaces if name in listed], listed
    assert engines.host_link not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not Path(engines.folder).exists()
    # (a daemon this process started stays a zombie until reaped: its command line is empty)
    assert not [pid for pid in engines.pids + engines.dns_pids if running(pid)]


def running(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def test_a_tests_own_call_to_a_service_on_an_engine_gone_names_the_engine(pytester: pytest.Pytester) -> None:
    """A pair of engines of its own: the first test unplugs the worker's engine and calls the service there itself
    (requests): its failure keeps its traceback and has a section with the one line naming the engine and the service;
    the next test is not run, in one line that refers to it; the run is removed from the manager."""
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    pair = script.up(2, ["python:3.11-slim"], owner=os.getpid())
    try:
        file = pair_topology(pytester.path, pair.urls, name=TOPOLOGY)
        pytester.makepyfile(test_call=f"""
import subprocess
import requests

def test_calls(topology):
    assert requests.get(topology["front"].url + "/", timeout=30).status_code == 200
    subprocess.run({unplug(pair, 1)}, check=True)
    requests.get(topology["front"].url + "/", timeout=10)

def test_after(topology):
    pass
""")
        result = pytester.runpytest_subprocess("--topology", str(file), "-p", "no:cacheprovider",
                                               "--junitxml", str(pytester.path / "junit.xml"))
        output = result.stdout.str()
        result.assert_outcomes(failed=1, errors=1)
        gone = f"topology {TOPOLOGY}: engine 'e1' ({pair.urls[1]}) stopped answering: "
        said = [line for line in output.splitlines() if line.startswith(gone)]
        assert len(said) == 1, output
        # why, as the system said it: no ARP answer (no route), or no answer to the SYN in time
        assert said[0].removeprefix(gone).startswith((
            "No route to host; ", "Host is unreachable; ", "no connection (timed out); ")), said[0]
        assert said[0].endswith(f"; it runs service front, which the test called at {pair.addresses[1]}:"
                                f"{said[0].rsplit(':', 1)[1]}") and said[0].rsplit(":", 1)[1].isdigit(), said[0]
        # its own traceback kept: requests' ConnectionError or ConnectTimeout (no answer to its SYN in time)
        assert "engine of the service called" in output and "requests.exceptions.Connect" in output
        assert f"not run: {said[0]} (met in test_call.py::test_calls)" in output.splitlines(), output
        junit = (pytester.path / "junit.xml").read_text()
        assert junit.count("<failure ") == 1 and junit.count("<error ") == 1, junit
        manager = docker.DockerClient(base_url=pair.urls[0], timeout=120)
        assert manager.containers.list(all=True, filters={"label": f"{L.TOPOLOGY}={TOPOLOGY}"}) == []

        # the engine back (the cable plugged in again): `harness down FILE` removes what is left on both engines; the
        # manager may list a task of a container removed on e1 a moment longer ("network ... is in use by task"),
        # which it waits out, or says in words with the command to run again (trial t27b: a raw traceback, exit 4)
        subprocess.run(cable(pair, 1, "up"), check=True)
        harness = str(Path(sys.executable).parent / "harness")
        down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=300)
        assert "Traceback" not in down.stderr and "internal error" not in down.stderr, down.stderr
        if down.returncode != 0:  # under load the swarm may take longer than the harness waits: said, then done
            assert down.returncode == 3 and "did not remove the run's overlay network" in down.stderr, down.stderr
            down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr
        label = {"label": f"{L.TOPOLOGY}={TOPOLOGY}"}
        for url in pair.urls:
            engine = docker.DockerClient(base_url=url, timeout=120)
            assert engine.containers.list(all=True, filters=label) == [] and engine.networks.list(filters=label) == []
    finally:
        assert_removed(script, pair)


def test_the_one_engine_of_a_run_gone_errors_the_tests_after_in_one_line_each(pytester: pytest.Pytester) -> None:
    """One engine of its own (DOCKER_HOST), no `engines:`: the first test unplugs it and reads a service's log
    (a call to the engine): its report is the one line naming the engine; the tests after it error, not run, each in
    one line that refers to it (JUnit: one failure, two errors, every test with a verdict); the session ends with
    the teardown error said once (exit 3)."""
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    one = script.up(1, ["python:3.11-slim"], owner=os.getpid(), swarm=False)
    try:
        file = pytester.path / "topology.yaml"
        file.write_text(WEB.format(name=TOPOLOGY).lstrip())
        pytester.makepyfile(test_die=f"""
import subprocess

def test_dies(topology):
    subprocess.run({unplug(one, 0)}, check=True)
    topology["web"].logs()

def test_after(topology):
    pass

def test_later(topology):
    pass
""")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DOCKER_HOST", one.urls[0])
            result = pytester.runpytest_subprocess("--topology", str(file), "-p", "no:cacheprovider",
                                                   "--junitxml", str(pytester.path / "junit.xml"))
        output = result.stdout.str()
        assert result.ret == 3, output
        result.assert_outcomes(failed=1, errors=2)
        gone = f"topology {TOPOLOGY}: the Docker engine ({one.urls[0]}) stopped answering: "
        said = [line for line in output.splitlines() if line.startswith(gone)]
        assert len(said) == 1, output
        not_run = [line for line in output.splitlines() if line.startswith("not run: ")]
        assert not_run == [f"not run: {said[0]} (met in test_die.py::test_dies)"] * 2, output
        assert "Traceback" not in output and "Max retries exceeded" not in output, output
        assert output.count("the topology could not be removed") == 1, output
        junit = (pytester.path / "junit.xml").read_text()
        assert junit.count("<testcase ") == 3 and junit.count("<failure ") == 1, junit
        assert junit.count("<error ") == 2, junit
    finally:
        assert_removed(script, one)
