"""A service with no probe and published TCP ports is ready once running (Compose's `up --wait`) and its ports
accept connections: a test's first call does not race the server's start. Docker's userland proxy accepts on the
published port before anything listens in the container, so the listener is looked for in the container's own
tables. Against the real engine."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.runtime import readiness
from harness.runtime.probes import listening
from harness.runtime.topology import StartEvent

from ..conftest import harness_resources
from ..model.test_compose_files import compose


def test_a_server_that_listens_late_is_ready_only_once_it_answers(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """The server listens 3 s after its container runs (a migration, an import): ready after the 0.5 s settle time,
    its URL refused the first call (the field case: a one-shot migration, then an app that reads the database)."""
    file = compose(tmp_path, """
        name: late-listener
        services:
          web:
            image: python:3.11-slim
            command: ["sh", "-c", "sleep 3 && exec python3 -m http.server 8000"]
            ports: ["8000"]
    """)
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        assert [e for e in events if e.kind == "note"] == []  # it answered within the grace: nothing to say
        with urllib.request.urlopen(topology["web"].url + "/", timeout=10) as response:
            assert response.status == 200
        assert listening(topology["web"].container, 8000) is True
        assert listening(topology["web"].container, 8001) is False
    assert harness_resources(docker_client, "late-listener") == []


def test_a_published_port_nothing_listens_on_does_not_refuse_the_start(tmp_path: Path, docker_client,  # noqa: ANN001
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose starts it (running is all `up --wait` asks of a service without a healthcheck): the harness waits for
    the port within LISTEN_GRACE, then counts it ready as Compose does. A server listening on loopback only is not
    reached through the published port: not a listener for it."""
    monkeypatch.setattr(readiness, "LISTEN_GRACE", 2.0)
    file = compose(tmp_path, """
        name: never-listens
        services:
          debug:
            image: python:3.11-slim
            command: ["python3", "-u", "-m", "http.server", "9000", "--bind", "127.0.0.1"]
            ports: ["9000"]
    """)
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        assert topology["debug"].status == "running"
        published = topology["debug"].port(9000)
        # ready as Compose counts it, and said: its URL reaches nothing
        assert [e.detail for e in events if e.kind == "note"] == [
            f"port 9000 at 127.0.0.1:{published} of service 'debug' accepts no connections after 2 s; ready as "
            "Compose counts it (running)"]
        deadline = time.monotonic() + 120  # (a condition, not a time: its start is slow on a loaded machine)
        while "Serving HTTP" not in topology["debug"].logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert listening(topology["debug"].container, 9000) is False
    assert harness_resources(docker_client, "never-listens") == []
