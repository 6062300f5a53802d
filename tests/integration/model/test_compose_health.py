"""A compose healthcheck decides readiness as Docker Compose decides it, against the real engine: a test that takes
longer than its `timeout` fails (Docker counts it failed), and a service Docker marks unhealthy is refused at once,
naming Docker's verdict; Docker Compose (`up --wait`) is the oracle."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import ServiceNotReady

from ..conftest import harness_resources

TOO_SLOW = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD-SHELL", "sleep 3; true"], interval: 1s, timeout: 1s, retries: 2}}
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    depends_on: {{db: {{condition: service_healthy}}}}
"""

ALWAYS_FAILS = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 2}}
"""


# `ready:` passes at once, Docker's healthcheck never does: Compose refuses it, and so must the harness (it took the
# `ready:` probe alone: a false "ready")
READY_BUT_UNHEALTHY = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 2}}
    x-topology: {{ready: {{command: ["true"]}}}}
"""

# `ready:` passes at once, Docker's healthcheck only once /tmp/ok exists (3 s after the start)
READY_BEFORE_HEALTHY = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep infinity"]
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/ok"], interval: 1s, retries: 30}}
    x-topology: {{ready: {{command: ["true"]}}}}
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    depends_on: {{db: {{condition: service_started}}}}
"""


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def written(folder: Path, text: str) -> Path:
    file = folder / "compose.yaml"
    file.write_text(textwrap.dedent(text).lstrip())
    return file


@pytest.mark.parametrize(("text", "docker_says"), [
    (TOO_SLOW, "Health check exceeded timeout (1s)"),
    (ALWAYS_FAILS, "marked it unhealthy: exit code 1 (no output). Its log is empty."),  # each outcome once
    (READY_BUT_UNHEALTHY, "exit code 1"),
], ids=["test-longer-than-timeout", "test-always-fails", "ready-probe-passes"])
def test_an_unhealthy_service_is_refused_by_both(text: str, docker_says: str, tmp_path: Path,
                                                 docker_client: docker.DockerClient) -> None:
    name = f"health-{uuid.uuid4().hex[:8]}"
    file = written(tmp_path, text.format(name=name))
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode != 0 and "is unhealthy" in up.stderr, up.stderr
    finally:
        compose(file, "down", "-v", "--timeout", "0")

    with pytest.raises(ServiceNotReady) as raised:
        Topology.start(load_topology(file))
    message = str(raised.value)
    assert raised.value.service == "db"
    assert message.startswith("service 'db' is not ready: Docker's healthcheck marked it unhealthy: "), message
    assert docker_says in message, message
    assert "Docker Compose refuses an unhealthy dependency too" in message
    assert "Traceback" not in message
    assert harness_resources(docker_client, name) == []


def test_a_ready_probe_and_a_healthcheck_must_both_hold(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`ready:` passes at once, Docker's healthcheck 3 s later: the service is ready (and its dependent starts) only
    once Docker calls it healthy, as `docker compose up --wait` waits for it; the waiting line says so, with the
    limit."""
    from harness.runtime import labels as L
    from harness.runtime.topology import StartEvent

    name = f"health-{uuid.uuid4().hex[:8]}"
    file = written(tmp_path, READY_BEFORE_HEALTHY.format(name=name))
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
    finally:
        compose(file, "down", "-v", "--timeout", "0")

    events: list[StartEvent] = []
    health_when_ready: list[str] = []

    def progress(event: StartEvent) -> None:
        events.append(event)
        if (event.service, event.kind) == ("db", "ready"):  # what Docker says when the harness calls it ready
            db = docker_client.containers.list(filters={"label": [f"{L.TOPOLOGY}={name}", f"{L.SERVICE}=db"]})
            health_when_ready.extend(c.attrs["State"]["Health"]["Status"] for c in db)

    with Topology.start(load_topology(file), progress=progress):
        assert health_when_ready == ["healthy"]
        waiting = [e.detail for e in events if (e.service, e.kind) == ("db", "waiting")]
        # the limit covers Docker's decision: (1 s interval + 30 s default timeout) * 31 + 10 s
        assert waiting == ["command `true` exits 0, and Docker's healthcheck says healthy, up to 971 s"], waiting
    assert harness_resources(docker_client, name) == []


def test_a_ready_probe_that_passed_is_not_ready_while_docker_says_starting(tmp_path: Path,
                                                                           docker_client: docker.DockerClient) -> None:
    """Docker's first check comes only after an hour: within its `timeout` the service is not ready, and the error
    says that the probe passed and what Docker said (`docker compose up --wait` would wait the hour)."""
    name = f"health-{uuid.uuid4().hex[:8]}"
    file = written(tmp_path, f"""
        name: {name}
        services:
          db:
            image: python:3.11-slim
            command: ["sleep", "infinity"]
            healthcheck: {{test: ["CMD", "true"], interval: 1h}}
            x-topology: {{ready: {{command: ["true"]}}, timeout: 20}}
    """)
    with pytest.raises(ServiceNotReady) as raised:
        Topology.start(load_topology(file))
    message = str(raised.value)
    assert message.startswith("service 'db' was not ready after 2"), message
    assert ("probe command `true` exits 0 passed, but Docker's healthcheck never called it healthy (last: the probe "
            "passed; Docker's healthcheck says starting, not healthy); a service with both is ready when both hold, "
            "as `docker compose up --wait` waits for healthy.") in message, message
    assert raised.value.hint is not None and "fix the healthcheck" in raised.value.hint
    assert "Traceback" not in message
    assert harness_resources(docker_client, name) == []


# the test writes when it runs (nanoseconds since the epoch), and passes from the start: Docker first runs it 3 s
# (`interval`) after the container started (moby's daemon/health.go), and the harness never runs it itself
RECORDS_ITS_RUNS = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD-SHELL", "date +%s%N >> /tmp/asked"], interval: 3s, retries: 3}}
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    depends_on: {{db: {{condition: service_healthy}}}}
"""


def test_docker_s_healthy_decides_and_the_harness_runs_no_test_itself(tmp_path: Path,
                                                                       docker_client: docker.DockerClient) -> None:
    """A test that passes early (postgres' `pg_isready` over the socket while the image initialises, on a server that
    takes no TCP connection) must not make a service ready where Docker would not call it healthy: as `docker compose
    up --wait`, the harness waits for Docker's healthy and never runs the test between Docker's runs — every run of
    the test comes `interval` or more after the start and after the run before it, and the waiting line says so.
    Lower bounds only: they hold on a loaded machine too."""
    from datetime import datetime
    from itertools import pairwise

    from harness.runtime import labels as L
    from harness.runtime.topology import StartEvent

    name = f"health-{uuid.uuid4().hex[:8]}"
    file = written(tmp_path, RECORDS_ITS_RUNS.format(name=name))
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append):
        db = docker_client.containers.list(filters={"label": [f"{L.TOPOLOGY}={name}", f"{L.SERVICE}=db"]})[0]
        assert db.attrs["State"]["Health"]["Status"] == "healthy"
        started = datetime.fromisoformat(db.attrs["State"]["StartedAt"][:26].rstrip("Z") + "+00:00").timestamp()
        runs = [int(line) / 1e9 for line in db.exec_run(["cat", "/tmp/asked"]).output.decode().split()]
        assert runs and min(runs) - started >= 3.0, (started, runs)
        assert all(later - earlier >= 3.0 for earlier, later in pairwise(runs)), runs  # Docker's cadence only
        waiting = [e.detail for e in events if (e.service, e.kind) == ("db", "waiting")]
        assert waiting == ["Docker's healthcheck says healthy (command `/bin/sh -c 'date +%s%N >> /tmp/asked'` exits "
                           "0; Docker's first check 3 s after the start), up to 142 s"], waiting
    assert harness_resources(docker_client, name) == []
