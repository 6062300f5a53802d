"""A restart, a start after a stop and a restore take with them what Docker Compose takes: `restart()` restarts what
`docker compose restart` restarts (depends_on `restart: true`, and `network_mode: service:X`, which Compose gives an
implied `restart: true`), and a container in another's network namespace ends up in that one's namespace of now
(a start after a stop, a restore at the end of a session or of a kept run, a container removed outside), so the
same test passes twice in a row under `--topology-reuse`."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness import load_topology
from harness.runtime import labels as L
from harness.runtime.topology import Topology

from ..conftest import harness_resources

FILE = """name: {name}
services:
  web: {{image: python:3.11-slim, command: ["python", "-m", "http.server", "8000"]}}
  metrics: {{image: python:3.11-slim, network_mode: "service:web", command: ["sleep", "infinity"]}}
  db: {{image: python:3.11-slim, command: ["sleep", "infinity"]}}
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    depends_on: {{db: {{condition: service_started, restart: true}}}}
  plain: {{image: python:3.11-slim, command: ["sleep", "infinity"], depends_on: [db]}}
"""
REACH = ["python", "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/', timeout=5).status)"]


@pytest.fixture
def compose_file(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    name = f"restarts-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(FILE.format(name=name))
    yield file
    compose(file, "down", "-v", "--timeout", "0")
    L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())  # what `harness down FILE` does
    assert harness_resources(docker_client, name, file) == []


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def started(client: docker.DockerClient, label: str) -> dict[str, str]:
    """service -> when its container last started (Docker's StartedAt)."""
    service = "com.docker.compose.service" if label.startswith("com.docker.compose") else L.SERVICE
    return {c.labels[service]: client.containers.get(c.id).attrs["State"]["StartedAt"]
            for c in client.containers.list(all=True, filters={"label": label})}


def restarted(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if after[name] != before[name])


def test_restart_restarts_what_docker_compose_restart_restarts(compose_file: Path,
                                                               docker_client: docker.DockerClient) -> None:
    """`docker compose restart web` restarts web, then metrics (its network namespace); `restart db` restarts db and
    api (restart: true), not plain; so does `restart()`, and metrics reaches web's server on 127.0.0.1 after it."""
    name = load_topology(compose_file).name
    by_compose = f"com.docker.compose.project={name}"
    up = compose(compose_file, "up", "-d", "--wait")
    assert up.returncode == 0, up.stderr
    seen: dict[str, list[list[str]]] = {"compose": [], "harness": []}
    for service in ("web", "db"):
        before = started(docker_client, by_compose)
        assert compose(compose_file, "restart", service).returncode == 0
        seen["compose"].append(restarted(before, started(docker_client, by_compose)))
    metrics = next(c for c in docker_client.containers.list(filters={"label": by_compose})
                   if c.labels["com.docker.compose.service"] == "metrics")
    assert metrics.exec_run(REACH).exit_code == 0
    compose(compose_file, "down", "-v", "--timeout", "0")

    by_harness = f"{L.FILE}={compose_file.resolve()}"
    with Topology.start(load_topology(compose_file)) as topology:
        for service in ("web", "db"):
            before = started(docker_client, by_harness)
            topology[service].restart()
            seen["harness"].append(restarted(before, started(docker_client, by_harness)))
        assert topology["metrics"].exec(REACH) == (0, "200\n")
        assert [s.left for s in topology] == [None] * 5  # as started: nothing for restore to put back
    assert seen["harness"] == seen["compose"] == [["metrics", "web"], ["api", "db"]]


def test_a_start_after_a_stop_and_a_restore_leave_no_container_in_an_old_namespace(
        compose_file: Path, docker_client: docker.DockerClient) -> None:
    """web stopped and started: metrics is restarted into web's new namespace (`docker compose start web` leaves it
    in the old one, where 127.0.0.1:8000 refuses); a stopped metrics stays stopped and joins the new one when
    started. A restore after web was left stopped, or restarted behind the harness's back (its restart policy, a
    session that ended first), says what it restarted."""
    with Topology.start(load_topology(compose_file)) as topology:
        web, metrics = topology["web"], topology["metrics"]
        web.stop()
        web.start()
        assert metrics.exec(REACH) == (0, "200\n")

        metrics.stop()
        web.stop()
        web.start()
        assert metrics.status == "exited"  # left as the test left it
        metrics.start()
        assert metrics.exec(REACH) == (0, "200\n")

        web.stop()
        notes = topology.restore()
        assert len(notes) == 1 and notes[0].startswith(
            "web was left stopped (.stop()): started it again (ready in "), notes
        assert notes[0].endswith("; restarted metrics in its network namespace (network_mode: service:web; theirs "
                                 "went away with its stop)"), notes
        assert metrics.exec(REACH) == (0, "200\n")

        docker_client.containers.get(web.container.id).restart(timeout=0)  # not through the harness
        assert metrics.exec(REACH).exit_code != 0
        assert topology.restore() == [
            "metrics was still in the network namespace web had before it last started (network_mode: service:web; "
            "it reached nothing on 127.0.0.1 but itself): restarted it"]
        assert metrics.exec(REACH) == (0, "200\n")
        assert topology.restore() == []  # as started now


TESTS = f"""
REACH = {REACH!r}


def test_metrics_reaches_web(topology):
    result = topology["metrics"].exec(REACH)
    assert result.exit_code == 0, result.output


def test_web_stopped(topology):
    topology["web"].stop()
"""


def test_a_kept_topology_whose_test_stops_a_service_passes_twice_in_a_row(
        compose_file: Path, docker_client: docker.DockerClient) -> None:
    """The new user's trial: `pytest --topology compose.yaml --topology-reuse` twice, a test stops web: both runs
    pass (the second failed: metrics was left in web's old namespace). Then web's container is removed outside the
    harness: the next run starts web again and recreates metrics in its namespace, as `docker compose up` does."""
    tests = compose_file.parent / "test_t2.py"
    tests.write_text(TESTS)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology",
                               str(compose_file), "--topology-reuse", str(tests)], capture_output=True, text=True,
                              cwd=compose_file.parent, timeout=600)

    for _ in range(2):
        done = run()
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout
        assert "web was left stopped (.stop()): started it again" in done.stdout

    by_harness = f"{L.FILE}={compose_file.resolve()}"
    ids = {c.labels[L.SERVICE]: c.id for c in docker_client.containers.list(filters={"label": by_harness})}
    docker_client.containers.get(ids["web"]).remove(force=True)
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("metrics unchanged: recreating it after web (its network_mode names web, whose container is new: Docker "
            "Compose recreates it too)") in done.stderr
    after = {c.labels[L.SERVICE]: c.id for c in docker_client.containers.list(filters={"label": by_harness})}
    assert sorted(s for s in ids if after[s] != ids[s]) == ["metrics", "web"]  # the others kept

    up = compose(compose_file, "up", "-d", "--wait")  # Compose, on the same event
    assert up.returncode == 0, up.stderr
    by_compose = f"com.docker.compose.project={load_topology(compose_file).name}"
    ids = {c.labels["com.docker.compose.service"]: c.id for c in docker_client.containers.list(
        filters={"label": by_compose})}
    docker_client.containers.get(ids["web"]).remove(force=True)
    up = compose(compose_file, "up", "-d", "--wait")
    assert up.returncode == 0, up.stderr
    after = {c.labels["com.docker.compose.service"]: c.id for c in docker_client.containers.list(
        filters={"label": by_compose})}
    assert sorted(s for s in ids if after[s] != ids[s]) == ["metrics", "web"]


def test_a_one_shot_service_that_exited_0_is_said_to_have_run_again(tmp_path: Path,
                                                                      docker_client: docker.DockerClient) -> None:
    """A service (not a job) whose command ended with 0 after its start (one that ends during the start fails it, as
    under `docker compose up --wait`): a restore runs it again, as `docker compose up` starts an exited container, and
    says so in those words (not "died"). It ends when /run/go/now exists: a tmpfs, empty again at each start."""
    name = f"seed-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(f'name: {name}\nservices:\n  seed: {{image: python:3.11-slim, tmpfs: [/run/go], command: ["sh", '
                    '"-c", "while [ ! -f /run/go/now ]; do sleep 0.1; done"]}\n')
    with Topology.start(load_topology(file)) as topology:
        topology["seed"].exec(["touch", "/run/go/now"])
        assert topology["seed"].container.wait(timeout=60)["StatusCode"] == 0
        notes = topology.restore()
        assert len(notes) == 1 and notes[0].startswith("seed had exited (exit code 0): ran it again (in "), notes
        assert notes[0].endswith(" s)"), notes  # no log lines: nothing went wrong
    assert harness_resources(docker_client, name, file) == []


NAMESPACES = """name: {name}
services:
  web: {{image: python:3.11-slim, ipc: shareable, command: ["sleep", "infinity"]}}
  shm: {{image: python:3.11-slim, ipc: "service:web", command: ["sleep", "infinity"]}}
  top: {{image: python:3.11-slim, pid: "service:web", command: ["sleep", "infinity"]}}
"""


def namespace(container: docker.models.containers.Container, kind: str) -> str:
    """The inode of the container's `kind` (ipc, pid) namespace, as /proc names it; "" when it is not running."""
    container.reload()
    return container.exec_run(["readlink", f"/proc/self/ns/{kind}"]).output.decode() \
        if container.status == "running" else ""


def test_ipc_and_pid_joiners_are_restarted_with_their_namespace_as_compose_restarts_them(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`docker compose restart web` restarts shm (`ipc: service:web`) and top (`pid: service:web`) with it, into its
    new namespaces; so does `restart()`. Restarted outside the harness, web leaves shm in its old IPC namespace and
    top killed (the kernel ends a pid namespace's processes with its first): `restore()` finds both and says so."""
    name = f"nsjoin-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(NAMESPACES.format(name=name))
    by_compose = f"com.docker.compose.project={name}"
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        before = started(docker_client, by_compose)
        assert compose(file, "restart", "web").returncode == 0
        by_docker_compose = restarted(before, started(docker_client, by_compose))
    finally:
        compose(file, "down", "-v", "--timeout", "0")
    assert by_docker_compose == ["shm", "top", "web"]

    by_harness = f"{L.FILE}={file.resolve()}"
    with Topology.start(load_topology(file)) as topology:
        web, shm, top = (docker_client.containers.get(topology[s].container.id) for s in ("web", "shm", "top"))
        before = started(docker_client, by_harness)
        topology["web"].restart()
        assert restarted(before, started(docker_client, by_harness)) == by_docker_compose
        assert namespace(shm, "ipc") == namespace(web, "ipc") != ""
        assert namespace(top, "pid") == namespace(web, "pid") != ""

        web.restart(timeout=0)  # not through the harness
        assert namespace(shm, "ipc") != namespace(web, "ipc")
        assert namespace(top, "pid") == ""  # killed with web's pid namespace
        notes = topology.restore()
        assert notes[0] == ("shm was still in the IPC namespace web had before it last started (ipc: service:web; it "
                            "shared no memory with it): restarted it"), notes
        assert notes[1].startswith("top was killed with the pid namespace of web (pid: service:web; every process in "
                                   "it ends when web stops): started it again (ready in "), notes
        assert len(notes) == 2 and "log lines" not in notes[1], notes
        assert namespace(shm, "ipc") == namespace(web, "ipc")
        assert namespace(top, "pid") == namespace(web, "pid") != ""
        assert topology.restore() == []
    assert harness_resources(docker_client, name, file) == []
