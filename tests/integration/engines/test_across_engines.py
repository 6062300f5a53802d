"""One topology across three Docker engines joined by a swarm overlay network (issue #27), against real engines:
three dockerd in network namespaces of their own (conftest.py). A Python service built on its engine calls a service
on another engine by name and Redis on the third by an alias; URLs use each engine's host; everything is removed from
every engine afterwards, also after a failure, an unreachable engine and a SIGKILL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import RemoteMount, Topology, load_topology
from harness.errors import DockerError, DockerUnavailable, ImageMissing, ServiceExited, TopologyFileError
from harness.runtime import labels as L
from harness.runtime.engines import connect_engines
from harness.runtime.fault_helper import HELPER_OF
from harness.runtime.topology import StartEvent
from harness.runtime.transfer import has_image
from tests.integration.engines.conftest import NAME, pair_topology
from tests.integration.engines.netns import netns_engines

APP = '''
import http.server, json, os, socket, urllib.request

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        else:  # the backend by its service name, Redis by an alias: both on other engines
            backend = os.environ["BACKEND"]
            hostname = urllib.request.urlopen(f"http://{backend}:8000/hostname", timeout=10).read().decode().strip()
            with socket.create_connection((os.environ["REDIS"], 6379), timeout=10) as redis:
                redis.sendall(b"PING\\r\\n")
                pong = redis.recv(64).decode().strip()
            body = json.dumps({"backend": hostname, "redis": pong}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
'''


def across(folder: Path, urls: list[str], front_command: str = "") -> Path:
    """backend (python:3.11-slim) on e0, the manager; front (built from ./front) on e1; cache (redis:7, alias
    `store`) on e2."""
    (folder / "front").mkdir(exist_ok=True)
    (folder / "front" / "app.py").write_text(APP)
    (folder / "front" / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY app.py /app.py\nCMD ["python", '
                                                 '"/app.py"]\n')
    engines = "\n".join(f"  - {{name: e{i}, host: \"{url}\"}}" for i, url in enumerate(urls))
    file = folder / "topology.yaml"
    file.write_text(f"""name: {NAME}
engines:
{engines}
services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000", "--directory", "/etc"]
    ports: [8000]
    ready: {{http: {{port: 8000, path: /hostname}}}}
  cache:
    image: redis:7
    placement: e2
    aliases: [store]
    ports: [6379]
    ready: {{tcp: 6379}}
  front:
    build: ./front
    placement: e1
    depends_on: [backend, cache]
    environment: {{BACKEND: backend, REDIS: store}}
    {front_command}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
""")
    return file


CALLS = """
import socket, urllib.request
try:
    backend = str(urllib.request.urlopen("http://backend:8000/hostname", timeout=10).status)
except OSError as error:
    backend = str(getattr(error, "reason", error))
with socket.create_connection(("store", 6379), timeout=10) as redis:
    redis.sendall(b"PING\\r\\n")
    print(backend, redis.recv(64).decode().strip())
"""


def test_a_fault_on_an_edge_across_engines(swarm: Any, tmp_path: Path) -> None:  # noqa: ANN401
    """front (e1) -> backend (e0) cut: the helper joins front's namespace on e1 (its image copied there), front's
    calls to backend are refused while its calls to Redis (e2) go through; undone, the helper is removed."""
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    with Topology.start(load_topology(file)) as topology:
        front = topology["front"]
        assert front.exec(["python", "-c", CALLS]).output.strip() == "200 +PONG"
        helpers = {"label": [f"{L.RUN}={topology.run_id}", HELPER_OF]}
        with topology.edge("front", "backend").cut():
            assert front.exec(["python", "-c", CALLS]).output.strip() == "[Errno 111] Connection refused +PONG"
            assert [f.describe() for f in topology.faults.active()] == ["front -> backend: cut (connections refused)"]
            on = [[c.labels[HELPER_OF] for c in engine.containers.list(filters=helpers)] for engine in engines]
            assert on == [[], ["front"], []]
        assert front.exec(["python", "-c", CALLS]).output.strip() == "200 +PONG"
        assert topology.faults.active() == []
        assert [engine.containers.list(all=True, filters=helpers) for engine in engines] == [[], [], []]
    assert [left(engine, file) for engine in engines] == [[], [], []]


def clients(swarm: Any) -> list[docker.DockerClient]:  # noqa: ANN401 - netns_engines.Engines
    return [docker.DockerClient(base_url=url, timeout=120) for url in swarm.urls]


def left(client: docker.DockerClient, file: Path) -> list[str]:
    """Containers, networks and volumes of topology `across` of `file` on the engine of `client`."""
    label = {"label": [f"{L.TOPOLOGY}={NAME}", f"{L.FILE}={file.resolve()}"]}
    return ([c.name for c in client.containers.list(all=True, filters=label)]
            + [n.name for n in client.networks.list(filters=label)]
            + [v.name for v in client.volumes.list(filters=label)])


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def test_a_topology_across_three_engines(swarm: Any, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    with Topology.start(load_topology(file)) as topology:
        for service, engine in (("backend", 0), ("front", 1), ("cache", 2)):
            running = topology[service]
            assert running.host == swarm.addresses[engine]
            assert [c.name for c in engines[engine].containers.list(filters={"label": f"{L.SERVICE}={service}"})
                    ] == [running.container.name]
        assert topology["front"].url == f"http://{swarm.addresses[1]}:{topology['front'].port(8000)}"
        answer = json.loads(get(topology["front"].url + "/"))
        # the front on e1 reached the backend on e0 by name, and Redis on e2 by its alias
        assert answer == {"backend": topology["backend"].container.attrs["Config"]["Hostname"], "redis": "+PONG"}
        assert get(topology["backend"].url + "/hostname").strip() == answer["backend"]
        network = engines[0].networks.get(topology.network)
        assert network.attrs["Driver"] == "overlay"
        assert network.attrs["Attachable"] is True
        assert L.labels_of(network)[L.RUN] == topology.run_id
        # built on this machine's engine (the engines have no route out), copied (save/load) to the engine that
        # runs it and only there, with its content tag; the base images likewise, each only where it runs
        built = topology["front"].container.image
        assert docker_client.images.get(built.tags[0]).id == built.id
        assert engines[1].images.get(built.tags[0]).id == built.id
        for other in (engines[0], engines[2]):
            with pytest.raises(docker.errors.ImageNotFound):
                other.images.get(built.id)
        assert [has_image(engine, "redis:7") for engine in engines] == [False, False, True]
        assert [has_image(engine, "python:3.11-slim") for engine in engines] == [True, False, False]
        assert left(docker_client, file) == []
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_a_service_that_fails_on_one_engine_removes_what_started_on_the_others(swarm: Any, tmp_path: Path) -> None:
    file = across(tmp_path, swarm.urls, front_command='command: ["python", "-c", "raise SystemExit(3)"]')
    with pytest.raises(ServiceExited) as raised:
        Topology.start(load_topology(file))
    assert "service 'front'" in str(raised.value)
    assert "service 'front' exited with code 3 during startup" in str(raised.value)
    for engine in clients(swarm):
        assert left(engine, file) == []


def test_an_engine_that_does_not_answer_is_named_and_nothing_is_left(swarm: Any, tmp_path: Path) -> None:
    unreachable = f"tcp://{swarm.addresses[1]}:2399"  # the engine's machine, a port nothing listens on
    file = across(tmp_path, [swarm.urls[0], unreachable, swarm.urls[2]])
    with pytest.raises(DockerUnavailable) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value) == (f"engine 'e1' ({unreachable}) of topology {NAME} does not answer: Connection "
                                 "refused.\nStart that engine, or fix its address under `engines:` in the topology "
                                 "file.")
    for engine in clients(swarm):
        assert left(engine, file) == []


def test_the_first_engine_must_be_the_swarms_manager(swarm: Any, tmp_path: Path) -> None:
    file = across(tmp_path, [swarm.urls[1], swarm.urls[0], swarm.urls[2]])
    with pytest.raises(DockerUnavailable) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).startswith(f"engine 'e0' ({swarm.urls[1]}), the first of topology {NAME}'s engines, "
                                        "is not a Docker Swarm manager (swarm: active)")
    assert str(raised.value).endswith("its overlay network joins the engines.\nIt is a worker of a swarm, which the "
                                      "harness does not change: put that swarm's manager first under `engines:`.")


def test_a_kept_run_across_engines_is_reused_and_a_moved_service_is_started_again_on_its_new_engine(
        swarm: Any, tmp_path: Path) -> None:
    """As on one engine: the same file reuses the kept run (its containers on each engine); a service whose
    `placement:` changed is replaced on its new engine, the others are kept, and names still resolve; `harness down
    FILE` removes it from every engine."""
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    said: list[str] = []
    try:
        first = Topology.kept_or_started(load_topology(file), say=said.append)
        run = f"{L.RUN}={first.run_id}"
        again = Topology.kept_or_started(load_topology(file), say=said.append)
        assert (again.run_id, again.reused, said[-1]) == (first.run_id, True,
                                                          f"reusing the running topology {NAME} (run {first.run_id})")
        assert {s.name: (s.container.id, s.host) for s in again} == {
            s.name: (s.container.id, s.host) for s in first}
        attached = Topology.attach(load_topology(file))  # harness fault, pytest --topology-reuse
        assert attached is not None and attached["cache"].host == swarm.addresses[2]
        file.write_text(file.read_text().replace("placement: e2", "placement: e1"))  # backend stays on e0
        moved = Topology.kept_or_started(load_topology(file), say=said.append)
        assert moved.run_id == first.run_id
        assert "  cache changed (engine): replacing it" in said
        assert "  front unchanged: kept (it depends on cache; Docker Compose does not replace a dependent either)" \
            in said
        assert engines[2].containers.list(all=True, filters={"label": run}) == []
        assert [c.id for c in engines[1].containers.list(filters={"label": [run, f"{L.SERVICE}=cache"]})] == [
            moved["cache"].container.id]
        assert moved["cache"].host == swarm.addresses[1]
        assert [moved[s].container.id for s in ("backend", "front")] == [first[s].container.id
                                                                         for s in ("backend", "front")]
        answer = json.loads(get(moved["front"].url + "/"))
        assert answer["redis"] == "+PONG"  # the kept front reaches the moved cache by its alias
        assert Topology.kept_or_started(load_topology(file), say=said.append).run_id == first.run_id
        assert said[-1] == f"reusing the running topology {NAME} (run {first.run_id})"
    finally:
        down = harness("down", str(file))
    assert down.returncode == 0, down.stderr
    assert f"removed 3 container(s) of topology {NAME} from 3 engines" in down.stdout
    assert [left(engine, file) for engine in engines] == [[], [], []]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "harness"), *args], capture_output=True, text=True,
                          timeout=300)


def killed_run(file: Path, manager: docker.DockerClient, *options: str) -> str:
    """`harness up OPTIONS FILE` in the foreground, SIGKILLed once its start finished: its run id (left on the
    engines)."""
    process = subprocess.Popen([str(Path(sys.executable).parent / "harness"), "up", *options, str(file)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        label = {"label": [f"{L.FILE}={file.resolve()}", f"{L.STARTED}=true"]}
        deadline = time.monotonic() + 300
        while not (started := manager.volumes.list(filters=label)):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "harness up did not finish its start"
            time.sleep(0.5)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    return L.labels_of(started[0])[L.RUN]


def test_after_a_sigkill_the_next_start_and_harness_down_remove_the_run_from_every_engine(
        swarm: Any, tmp_path: Path) -> None:
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    first = killed_run(file, engines[0])
    run = {"label": f"{L.RUN}={first}"}
    assert all(engine.containers.list(all=True, filters=run) for engine in engines)  # left on each engine
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:  # removes the dead owner's run
        assert topology.run_id != first
        assert [e.detail for e in events if e.kind == "note"] == [
            "removed 3 container(s) from 3 engines of runs whose process ended (a SIGKILL, a crash)"]
        for engine in engines:
            assert engine.containers.list(all=True, filters=run) == []
    second = killed_run(file, engines[0])
    down = harness("down", str(file))
    assert down.returncode == 0, down.stderr
    assert f"removed 3 container(s) of topology {NAME} from 3 engines" in down.stdout
    assert "Traceback" not in down.stderr
    for engine in engines:
        assert left(engine, file) == []
        assert engine.containers.list(all=True, filters={"label": f"{L.RUN}={second}"}) == []


def harness_on(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` against the engine at `url` (DOCKER_HOST), as someone on that engine's machine runs it."""
    return subprocess.run([str(Path(sys.executable).parent / "harness"), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "DOCKER_HOST": url, "COLUMNS": "200"}, cwd="/")


def test_after_a_sigkill_harness_down_on_any_engine_removes_the_run_from_every_engine(
        swarm: Any, tmp_path: Path) -> None:
    """`harness down --all` on the manager, and `harness down --run RUN` on a worker, learn the run's other engines
    from its objects' labels: nothing of it is left anywhere (the file is not given)."""
    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    first = killed_run(file, engines[0])
    assert all(engine.containers.list(all=True, filters={"label": f"{L.RUN}={first}"}) for engine in engines)
    down = harness_on(swarm.urls[0], "down", "--all")
    assert (down.returncode, down.stdout.strip(), down.stderr) == (0, "removed 3 container(s) from 3 engines", "")
    assert [left(engine, file) for engine in engines] == [[], [], []]
    second = killed_run(file, engines[0])
    down = harness_on(swarm.urls[2], "down", "--run", second)  # cache's engine, a worker
    assert (down.returncode, down.stdout.strip(), down.stderr) == (
        0, f"removed 3 container(s) of run {second} (topology {NAME})", "")
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_services_without_placement_are_spread_by_weight_and_shown_with_their_engine(
        swarm: Any, tmp_path: Path) -> None:
    """No `placement:`: the heaviest (backend, weight 3) on the first engine, the two services of one build context
    together on the second, the cache on the third; `harness up`'s table and `harness ps` (given any engine) say
    each service's engine, and the containers are there."""
    file = across(tmp_path, swarm.urls)
    text = file.read_text().replace("    placement: e2\n", "").replace("    placement: e1\n", "")
    text = text.replace("  backend:\n", "  backend:\n    weight: 3\n")
    file.write_text(text + "  worker:\n    build: ./front\n")
    engines = clients(swarm)
    # from this machine (its engine builds, as for any run across engines: the test engines have no base image)
    up = subprocess.run([str(Path(sys.executable).parent / "harness"), "up", "--detach", str(file)],
                        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"}, cwd="/")
    try:
        assert up.returncode == 0, up.stderr
        expected = {"backend": "e0", "cache": "e2", "front": "e1", "worker": "e1"}
        for service, engine in expected.items():
            assert re.search(rf"^ {service} {{3,}}{engine} {{3,}}", up.stdout, re.M), up.stdout
        ps = harness_on(swarm.urls[2], "ps")
        assert ps.returncode == 0, ps.stderr
        header, *lines = [re.split(" {3,}", line.strip()) for line in ps.stdout.splitlines()]
        assert header[:6] == ["topology", "run", "service", "engine", "status", "ports (container -> host:port)"]
        assert {cells[2]: cells[3] for cells in lines} == expected
        # each service's ports on its own engine's host (the engines publish on several hosts)
        hosts = {cells[2]: cells[5].split(" -> ")[1].rsplit(":", 1)[0] for cells in lines if cells[5] != "-"}
        assert hosts == {"backend": swarm.addresses[0], "cache": swarm.addresses[2], "front": swarm.addresses[1]}
        for service in ("backend", "front"):  # and the URL column of `harness up`'s table is each one's too
            assert re.search(rf"^ {service} {{3,}}{expected[service]} {{3,}}http://"
                             rf"{re.escape(swarm.addresses[int(expected[service][1])])}:\d+\s", up.stdout, re.M), up.stdout
        for service, engine in expected.items():
            index = int(engine[1])
            assert engines[index].containers.list(filters={"label": [f"{L.FILE}={file.resolve()}",
                                                                       f"{L.SERVICE}={service}"]})
    finally:
        down = harness("down", str(file))
    assert down.returncode == 0, down.stderr
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_pytest_topology_across_engines(swarm: Any, pytester: pytest.Pytester) -> None:
    file = across(pytester.path, swarm.urls)
    pytester.makepyfile(f"""
        import json, urllib.request

        def test_front(topology):
            assert topology["front"].url.startswith("http://{swarm.addresses[1]}:")
            answer = json.loads(urllib.request.urlopen(topology["front"].url + "/", timeout=30).read())
            assert answer["redis"] == "+PONG"
    """)
    result = pytester.runpytest_subprocess("--topology", str(file))
    result.assert_outcomes(passed=1)
    for engine in clients(swarm):
        assert left(engine, file) == []


@pytest.mark.parametrize("dies", [1, 0], ids=["worker", "manager"])
def test_an_engine_that_dies_mid_run_is_named_and_the_others_are_cleaned(dies: int, tmp_path: Path) -> None:
    """A set of two engines of its own (the worker's or the manager's dockerd is killed): close() removes what runs
    on the other, says which engine did not answer, what the other still lists (the run's overlay network: a swarm
    network is the manager's), why in words (not the swarm's RPC error), and the command that removes the rest."""
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    pair = script.up(2, ["python:3.11-slim"], owner=os.getpid())
    try:
        file = pair_topology(tmp_path, pair.urls)
        topology = Topology.start(load_topology(file))
        os.kill(pair.pids[dies], signal.SIGKILL)
        with pytest.raises(DockerError) as raised:
            topology.close()
        said = str(raised.value)
        assert said.startswith(f"run {topology.run_id} could not be removed from engine 'e{dies}' "
                               f"({pair.urls[dies]}): no answer; "), said
        assert f"Start that engine again and run `harness down --topology {file.resolve()}`" in said
        assert "rpc error" not in said and "What ran elsewhere is removed" not in said
        other = docker.DockerClient(base_url=pair.urls[1 - dies], timeout=120)
        run = {"label": f"{L.RUN}={topology.run_id}"}
        assert other.containers.list(all=True, filters=run) == []
        listed = [network.name for network in other.networks.list(filters=run)]
        why = ("the manager keeps the run's overlay network while it lists a container of 'e1' attached to it; the "
               "network goes once that engine answers again and the run is removed there" if dies else
               "a swarm's network is removed from its engines by the manager only")
        # what is said is what the engine that answered lists (the network, or nothing)
        assert (f"still listed: engine 'e{1 - dies}' ({pair.urls[1 - dies]}): network {listed[0]} ({why})" if listed
                else "the engines that answered list nothing of it") in said, said
    finally:
        script.down(pair)


def pact(folder: Path, consumer: str, provider: str, path: str, body: str) -> None:
    """A V3 pact of `consumer` on `provider`: GET `path` answers 200 with `body`."""
    folder.mkdir(exist_ok=True)
    (folder / f"{consumer}-{provider}.json").write_text(json.dumps({
        "consumer": {"name": consumer}, "provider": {"name": provider},
        "interactions": [{"description": f"GET {path}", "request": {"method": "GET", "path": path},
                          "response": {"status": 200, "body": body}}],
        "metadata": {"pactSpecification": {"version": "3.0.0"}}}))


def test_pacts_are_verified_against_providers_on_their_engines(swarm: Any, tmp_path: Path) -> None:
    """The verifier runs here and reaches each provider on its engine's host: the containers decide the verdicts (a
    wrong body fails), and nothing is left on any engine."""
    file = across(tmp_path, swarm.urls)
    pact(tmp_path / "pacts", "reader", "front", "/health", "ok")  # front on e1 answers "ok"
    pact(tmp_path / "pacts", "auditor", "backend", "/hostname", "not its hostname\n")  # backend on e0: wrong
    done = harness("verify", "--topology", str(file), "--pacts", str(tmp_path / "pacts"), "--report",
                   str(tmp_path / "reports"))
    assert done.returncode == 1, done.stdout + done.stderr
    matrix = json.loads((tmp_path / "reports" / "contract-matrix.json").read_text())
    assert sorted((edge["consumer"], edge["provider"], edge["status"]) for edge in matrix["edges"] if edge["pact"]) \
        == [("auditor", "backend", "failed"), ("reader", "front", "verified")]
    assert "Traceback" not in done.stderr
    assert [left(engine, file) for engine in clients(swarm)] == [[], [], []]


def test_a_docker_context_names_an_engine(swarm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        pytest.skip("needs the docker CLI")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    subprocess.run([docker_cli, "context", "create", "third", "--docker", f"host={swarm.urls[2]}"], check=True,
                   capture_output=True, timeout=30)
    file = across(tmp_path, [swarm.urls[0], swarm.urls[1], "third"])
    engines = connect_engines(load_topology(file))
    assert [(e.name, e.address, e.host) for e in engines.values()] == [
        (f"e{i}", url, address) for i, (url, address) in enumerate(zip(swarm.urls, swarm.addresses, strict=True))]
    file = across(tmp_path, [swarm.urls[0], swarm.urls[1], "fourth"])
    with pytest.raises(TopologyFileError) as raised:  # a value of the file: exit 2, at its line
        connect_engines(load_topology(file))
    assert str(raised.value).startswith(f"topology.yaml:5: engines[2].host: the Docker context 'fourth' (engine 'e2' "
                                        f"of topology {NAME}) does not exist: there is no ")
    assert str(raised.value).endswith("Create it (`docker context create NAME --docker host=...`) or fix `engines:` "
                                      "in the topology file.")


def test_a_bind_mount_on_a_remote_engine_is_refused_before_anything_starts(swarm: Any, tmp_path: Path) -> None:
    file = across(tmp_path, swarm.urls)
    (tmp_path / "conf").write_text("x\n")
    file.write_text(file.read_text().replace("    placement: e1\n", "    placement: e1\n    mounts: "
                                             "[{source: conf, target: /etc/conf}]\n"))
    with pytest.raises(RemoteMount) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value) == (
        f"topology {NAME}: a bind mount would name a path on its engine's machine, not on this one: service 'front' "
        f"on engine 'e1' ({swarm.urls[1]}): conf -> /etc/conf\nDeclare each as a copy in the topology file, uploaded "
        "before the service starts: `mounts: [{source: ..., target: ..., copy: true}]`; or place the service on a "
        "local engine.")
    assert [left(engine, file) for engine in clients(swarm)] == [[], [], []]


def test_pytest_xdist_workers_share_one_topology_across_engines(swarm: Any, pytester: pytest.Pytester) -> None:  # noqa: ANN401
    """`pytest -n 2 --topology FILE` with the topology across three engines: one worker starts it, the other attaches
    to the same containers on each engine; an edge fault across engines (front on e1 -> backend on e0, exclusive)
    runs on each worker in turn; the controller removes the run from every engine at the end."""
    file = across(pytester.path, swarm.urls)
    pytester.makepyfile(f"""
        import json, os, urllib.request
        from pathlib import Path

        import pytest

        CALLS = {CALLS!r}

        def test_both_engines_answer(topology):
            assert topology["cache"].host == "{swarm.addresses[2]}"
            answer = json.loads(urllib.request.urlopen(topology["front"].url + "/", timeout=30).read())
            assert answer["redis"] == "+PONG"
            Path("ids").mkdir(exist_ok=True)
            Path("ids", os.environ["PYTEST_XDIST_WORKER"]).write_text(
                " ".join(s.container.id for s in topology))

        @pytest.mark.edge_fault("front", "backend", cut="reject")
        def test_the_cut_edge(topology):
            out = topology["front"].exec(["python", "-c", CALLS]).output.strip()
            assert out == "[Errno 111] Connection refused +PONG"
    """)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each")
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=4)
    assert re.search(rf"\[gw[01]\] using topology {NAME} \(run \w+\), started by worker gw[01]", output), output
    ids = {path.name: path.read_text() for path in (pytester.path / "ids").iterdir()}
    assert set(ids) == {"gw0", "gw1"} and len(set(ids.values())) == 1  # the same containers on each engine
    for engine in clients(swarm):
        assert left(engine, file) == []
        assert engine.containers.list(all=True, filters={"label": HELPER_OF}) == []


def test_observed_traffic_across_engines(swarm: Any, pytester: pytest.Pytester) -> None:  # noqa: ANN401
    """`--observe`: each capture helper runs in its service's namespace on that service's engine (its image built
    here and copied), and `harness ps` shows it so, after its service; front's calls (e1) to backend (e0) and Redis
    (e2) are attributed to their edges, the test's own call to the outside; nothing is left on any engine."""
    file = across(pytester.path, swarm.urls)
    pytester.makepyfile(f"""
        import os
        import re
        import subprocess
        import sys
        import urllib.request
        from pathlib import Path

        import docker

        from harness.runtime.observe import OBSERVES

        URLS = {swarm.urls!r}

        def test_ps_shows_the_capture_helpers(topology):
            ps = subprocess.run([str(Path(sys.executable).parent / "harness"), "ps", "--topology", {str(file)!r}],
                                capture_output=True, text=True, timeout=300, env={{**os.environ, "COLUMNS": "250"}})
            assert ps.returncode == 0, ps.stderr
            rows = [re.split(" {{3,}}", line.strip()) for line in ps.stdout.splitlines()[1:]]
            assert [(cells[2], cells[3]) for cells in rows if cells[1] == topology.run_id] == [
                ("backend", "e0"), ("(observes backend)", "e0"), ("cache", "e2"), ("(observes cache)", "e2"),
                ("front", "e1"), ("(observes front)", "e1")], ps.stdout

        def test_calls(topology):
            for _ in range(3):
                urllib.request.urlopen(topology["front"].url + "/", timeout=30).read()
            assert urllib.request.urlopen(topology["backend"].url + "/hostname", timeout=30).status == 200
            helpers = [sorted(c.labels[OBSERVES] for c in docker.DockerClient(base_url=url).containers.list(
                filters={{"label": [OBSERVES, "{L.RUN}=" + topology.run_id]}})) for url in URLS]
            assert helpers == [["backend"], ["front"], ["cache"]]
    """)
    result = pytester.runpytest_subprocess("--topology", str(file), "--observe")
    output = result.stdout.str()
    result.assert_outcomes(passed=2)
    assert "front -> backend: 3 HTTP call(s), no pact covers this edge" in output, output
    assert "front -> cache: 3 other connection(s) on port 6379 (39 bytes, not inspected)" in output
    assert "from outside the topology (the tests, the harness; not between services, not counted):\n" \
        "  (tests) -> backend: 1 HTTP call(s)\n" in output
    assert "not in the topology" not in output
    for engine in clients(swarm):
        assert left(engine, file) == []


def test_harness_logs_and_prune_across_engines(swarm: Any, tmp_path: Path,  # noqa: ANN401
                                              docker_client: docker.DockerClient) -> None:
    """`harness logs` prints a service's log from its engine (given the file, or any engine of the run); `harness
    prune --topology FILE` removes the built image's copy from the engine that ran it, and names an engine that does
    not answer (exit 3)."""
    file = across(tmp_path, swarm.urls)
    with (tmp_path / "front" / "app.py").open("a") as app:  # an image of this folder's own (not a cached twin)
        app.write(f"# {tmp_path}\n")
    engines = clients(swarm)

    def run(*args: str, host: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200", **({"DOCKER_HOST": host} if host else {})}
        return subprocess.run([str(Path(sys.executable).parent / "harness"), *args], capture_output=True, text=True,
                              timeout=300, env=env, cwd=tmp_path)

    try:
        up = run("up", "--detach", "--topology", str(file))
        assert up.returncode == 0, up.stderr
        front = engines[1].containers.list(filters={"label": [f"{L.FILE}={file.resolve()}", f"{L.SERVICE}=front"]})
        tag = front[0].image.tags[0]
        logs = run("logs", "front", "--topology", str(file))  # front runs on e1, this machine's engine runs nothing
        assert (logs.returncode, logs.stderr) == (0, "")
        assert '"GET /health HTTP/1.1" 200' in logs.stdout
        logs = run("logs", "backend", host=swarm.urls[2])  # given cache's engine: backend runs on e0
        assert (logs.returncode, logs.stderr) == (0, "")
        assert '"GET /hostname HTTP/1.1" 200' in logs.stdout
    finally:
        down = run("down", "--topology", str(file))
    assert down.returncode == 0, down.stderr
    assert has_image(engines[1], tag)  # the copy stays on the engine that ran it until pruned
    pruned = run("prune", "--topology", str(file))
    assert pruned.returncode == 0, pruned.stderr
    assert f"removed {tag} from engine 'e1'\n" in pruned.stdout
    assert [has_image(engine, tag) for engine in [docker_client, *engines]] == [False, False, False, False]
    unreachable = f"tcp://{swarm.addresses[1]}:2399"
    across(tmp_path, [swarm.urls[0], unreachable, swarm.urls[2]])
    pruned = run("prune", "--topology", str(file))
    assert pruned.returncode == 3, pruned.stdout + pruned.stderr
    assert f"engine 'e1' ({unreachable}) of topology {NAME} did not answer: its images are left there" \
        in pruned.stderr
    assert f"run `harness prune --topology {file}` again" in pruned.stderr
    assert "Traceback" not in pruned.stderr


def test_an_image_missing_on_another_engine_names_that_engine(swarm: Any, tmp_path: Path) -> None:  # noqa: ANN401
    file = across(tmp_path, swarm.urls)
    file.write_text(file.read_text().replace("    image: redis:7\n", "    image: pytest-topology-test/absent:1\n"))
    with pytest.raises(ImageMissing) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).startswith(
        f"1 image(s) of topology {NAME} are not in engine 'e2' ({swarm.urls[2]}), nor in this machine's engine to "
        "copy them from, and could not be pulled:\n  pytest-topology-test/absent:1 (needed by service 'cache'): "
        "pulling it failed: ")
    assert "local" not in str(raised.value).split("\n")[0]
    assert [left(engine, file) for engine in clients(swarm)] == [[], [], []]
