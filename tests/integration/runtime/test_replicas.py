"""A service of several replicas at run time, against the real engine: `harness up` and `harness ps` show each
replica, `harness logs` gives all of them prefixed as Compose prefixes them, a kept run whose count changed replaces
the service's containers, `harness down` removes them all; `restore` puts back every replica; faults on a scaled
service are refused with the reason (tests/integration/model/test_compose_replicas.py: the containers against
Compose's)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import InvalidFault, ObserveError
from harness.observe import ObserveRun
from harness.runtime import labels as L

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
COMPOSE = """name: {name}
services:
  web:
    image: redis:7
    command: ["sh", "-c", "echo hello from $$(hostname); exec sleep infinity"]
    ports: ["6379"]
    scale: {scale}
  client:
    image: redis:7
    command: ["sleep", "infinity"]
"""


def harness(*words: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *words], cwd=cwd, capture_output=True, text=True, timeout=600)


def ps_rows(cwd: Path, name: str) -> list[list[str]]:
    """`harness ps` rows of topology `name`: [service, status] (a pipe: aligned columns)."""
    ps = harness("ps", cwd=cwd)
    assert ps.returncode == 0, ps.stderr
    rows = [re.split(" {3,}", line.strip()) for line in ps.stdout.splitlines()[1:]]
    return sorted(row[2:4] for row in rows if row[0] == name)


def test_up_ps_logs_a_changed_count_and_down(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name, scale=2))
    try:
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert re.search(r"web-1 +. http://127\.0\.0\.1:\d+", up.stdout) and re.search(r"web-2 +. http://", up.stdout)
        assert ps_rows(tmp_path, name) == [["client", "running"], ["web-1", "running"], ["web-2", "running"]]

        logs = harness("logs", "--topology", "compose.yaml", "web", cwd=tmp_path)
        assert logs.returncode == 0, logs.stderr
        hosts = {c.labels[L.REPLICA]: c.attrs["Config"]["Hostname"] for c in docker_client.containers.list(
            filters={"label": [f"{L.TOPOLOGY}={name}", f"{L.SERVICE}=web"]})}
        assert sorted(logs.stdout.splitlines()) == [f"web-1  | hello from {hosts['1']}",
                                                    f"web-2  | hello from {hosts['2']}"]
        assert harness("logs", "--topology", "compose.yaml", "client", cwd=tmp_path).stdout == ""  # one: no prefix
        one = harness("logs", "--topology", "compose.yaml", "web-2", cwd=tmp_path)  # a replica as `ps` shows it
        assert (one.returncode, one.stdout) == (0, f"hello from {hosts['2']}\n"), one.stderr

        # a changed count adds the replicas beyond it (the running ones and the others kept), as Compose does
        file.write_text(COMPOSE.format(name=name, scale=3))
        client_before, web_before = (sorted(c.id for c in docker_client.containers.list(filters={"label": [
            f"{L.TOPOLOGY}={name}", f"{L.SERVICE}={service}"]})) for service in ("client", "web"))
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert "  web scaled from 2 to 3 replicas: adding 1, its 2 running kept (as Docker Compose does)" in up.stderr
        assert "client unchanged: kept" in up.stderr
        assert set(web_before) < {c.id for c in docker_client.containers.list(filters={"label": [
            f"{L.TOPOLOGY}={name}", f"{L.SERVICE}=web"]})}
        assert ps_rows(tmp_path, name) == [["client", "running"], ["web-1", "running"], ["web-2", "running"],
                                           ["web-3", "running"]]
        assert [c.id for c in docker_client.containers.list(filters={"label": [
            f"{L.TOPOLOGY}={name}", f"{L.SERVICE}=client"]})] == client_before

        file.write_text(COMPOSE.format(name=name, scale=0))
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert ps_rows(tmp_path, name) == [["client", "running"]]
        again = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)  # 0 replicas is as the file says
        assert again.returncode == 0 and "reusing the running topology" in again.stderr, again.stderr
        none = harness("logs", "--topology", "compose.yaml", "web", cwd=tmp_path)  # as `docker compose logs web`
        assert (none.returncode, none.stdout, none.stderr) == (0, "", "")
        file.write_text(COMPOSE.format(name=name, scale=3))
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        assert "  web scaled from 0 to 3 replicas: starting it" in up.stderr, up.stderr
        assert ps_rows(tmp_path, name) == [["client", "running"], ["web-1", "running"], ["web-2", "running"],
                                           ["web-3", "running"]]
    finally:
        down = harness("down", "--topology", "compose.yaml", cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert harness_resources(docker_client, name) == []


def test_restore_puts_back_every_replica_and_faults_and_observing_a_scaled_service_are_refused(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name, scale=2))
    with Topology.start(load_topology(file)) as topology:
        web = topology["web"]
        web.replicas[1].stop()
        assert web.status == "running" and web.replicas[1].status == "exited"
        notes = topology.restore()
        assert len(notes) == 1 and notes[0].startswith("web-2 was left stopped (.stop()): started it again")
        assert web.replicas[1].status == "running"

        for fault in (lambda: topology.edge("client", "web"), lambda: web.faults.delay(ms=100),
                      lambda: topology.edge("web", "client")):
            with pytest.raises(InvalidFault) as raised:
                fault()
            assert "'web' runs 2 replicas; a fault is put in one container's network namespace" in str(raised.value)
        assert not topology.faults.active()
        with pytest.raises(ObserveError) as observing:
            ObserveRun(topology.spec, topology).start()
        assert str(observing.value).startswith(f"--observe: topology {name} has services of several replicas: 'web' "
                                               "(2); the capture runs in one container's network namespace")
    assert harness_resources(docker_client, name) == []


def test_a_failing_test_shows_each_replicas_log_lines(pytester: pytest.Pytester,
                                                      docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    (pytester.path / "compose.yaml").write_text(COMPOSE.format(name=name, scale=2))
    pytester.makepyfile("""
        def test_fails(topology):
            for replica in topology["web"].replicas:  # into the container's log (its process 1's stdout)
                code, output = replica.exec(["sh", "-c", f"echo marker of replica {replica.number} > /proc/1/fd/1"])
                assert code == 0, output
            assert False, "logged"
    """)
    result = pytester.runpytest_subprocess("--topology", "compose.yaml")
    result.assert_outcomes(failed=1)
    sections = result.stdout.str().split("Captured log of service ")[1:]
    by_replica = {section.split(" call")[0]: section for section in sections}
    assert sorted(by_replica) == ["web-1", "web-2"]  # the client logged nothing
    assert "marker of replica 1" in by_replica["web-1"] and "marker of replica 2" not in by_replica["web-1"]
    assert "marker of replica 2" in by_replica["web-2"]
    assert harness_resources(docker_client, name) == []


def test_up_detach_starts_what_is_stopped_in_a_kept_run_as_compose_up_wait_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """One replica stopped, and a whole service: `docker compose up -d --wait` starts them again and waits; so does
    `harness up --detach` on the kept run (it said "reusing", showed them exited and exited 0)."""
    from harness.model.compose_cli import compose_binary

    name = f"stopped-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name, scale=2))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def stop_some(label: str, service: str, number: str) -> None:
        for container in docker_client.containers.list(filters={"label": label}):
            if container.labels[service] == "client" or container.labels[number] == "2":
                container.stop(timeout=0)

    def statuses(label: str, service: str, number: str) -> list[tuple[str, str, str]]:
        return sorted((c.labels[service], c.labels[number], c.status)
                      for c in docker_client.containers.list(all=True, filters={"label": label}))

    by_compose = (f"com.docker.compose.project={name}", "com.docker.compose.service",
                  "com.docker.compose.container-number")
    by_harness = (f"{L.FILE}={file.resolve()}", L.SERVICE, L.REPLICA)
    try:
        compose("up", "-d", "--wait")
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        stop_some(*by_compose)
        stop_some(*by_harness)

        compose("up", "-d", "--wait")
        up = harness("up", "--detach", "--topology", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        expected = [("client", "1", "running"), ("web", "1", "running"), ("web", "2", "running")]
        assert statuses(*by_compose) == statuses(*by_harness) == expected
        assert "web-2 was stopped or killed (exit code 137): started it again (ready in" in up.stderr, up.stderr
        assert "client was stopped or killed (exit code 137): started it again (ready in" in up.stderr, up.stderr
        assert ps_rows(tmp_path, name) == [["client", "running"], ["web-1", "running"], ["web-2", "running"]]
    finally:
        compose("down", "-v", "--timeout", "0")
        down = harness("down", "--topology", "compose.yaml", cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert harness_resources(docker_client, name) == []
