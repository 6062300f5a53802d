"""A compose file's terminals and emptied entrypoints as Docker Compose runs them (trial t23g of issue 23), against
the real engine: a shell kept running by `stdin_open` + `tty` starts (it exited at once when they were ignored), its
log is the terminal's one stream, `exec` works in it; `entrypoint: []` and `""` run no ENTRYPOINT (the image's ran);
a service that ends is refused with what Compose would do with its `restart:` policy."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import ServiceExited

from ..conftest import harness_resources

TERMINALS = """
name: {name}
services:
  shell:
    image: python:3.11-slim
    command: bash
    stdin_open: true
    tty: true
  talker:
    image: python:3.11-slim
    command: ["sh", "-c", "echo said on stdout; echo said on stderr >&2; exec sleep infinity"]
    tty: true
  dbtools:
    image: postgres:15
    entrypoint: []
    command: ["sleep", "infinity"]
  backup:
    image: postgres:15
    entrypoint: ""
    command: ["sh", "-c", "exec sleep infinity"]
"""


def logged(service: object, text: str, seconds: float = 60.0) -> str:
    """The service's log once it holds `text` (Docker receives a line a little after it is written)."""
    deadline = time.monotonic() + seconds
    while True:
        log = service.logs()  # type: ignore[attr-defined]
        if text in log or time.monotonic() > deadline:
            return str(log)
        time.sleep(0.2)


def test_terminals_and_emptied_entrypoints_run_as_under_compose(tmp_path: Path,
                                                                docker_client: docker.DockerClient) -> None:
    name = f"f23h-tty-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(TERMINALS.format(name=name))
    spec = load_topology(tmp_path / "compose.yaml")
    assert spec.notes == []  # honoured: no "ignored" note
    with Topology.start(spec) as topology:
        shell = docker_client.containers.get(topology["shell"].container.id)
        assert (shell.status, shell.attrs["Config"]["Tty"], shell.attrs["Config"]["OpenStdin"]) == (
            "running", True, True)
        # as Compose (`docker run -dit`): stdin stays open when a `docker attach` ends
        assert (shell.attrs["Config"]["StdinOnce"], shell.attrs["Config"]["AttachStdin"]) == (False, False)
        result = topology["shell"].exec(["bash", "-c", "echo inside $0"])
        assert (result.exit_code, result.output.strip()) == (0, "inside bash")

        talker = topology["talker"]
        log = logged(talker, "said on stderr")
        assert [line for line in log.splitlines() if line.startswith("said")] == ["said on stdout", "said on stderr"]
        assert talker.logs(stream="stderr") == ""  # a terminal has one stream: Docker keeps it all as stdout
        assert "said on stderr" in talker.logs(stream="stdout")

        for service in ("dbtools", "backup"):  # the image's docker-entrypoint.sh does not run
            attrs = docker_client.containers.get(topology[service].container.id).attrs
            assert (attrs["Config"]["Entrypoint"], attrs["Path"]) == ([], "sleep" if service == "dbtools" else "sh")
    assert harness_resources(docker_client, name) == []


ENDED = """
name: {name}
services:
  done:
    image: python:3.11-slim
    command: ["python", "-c", "print('nothing to serve')"]
    {restart}
"""


@pytest.mark.parametrize("restart", ["restart: always", ""])
def test_a_service_that_ends_is_refused_with_what_compose_would_do(tmp_path: Path, restart: str,
                                                                   docker_client: docker.DockerClient) -> None:
    """`docker compose up --wait` refuses a service that exits 0 ("exited (0)"), unless its `restart:` has Docker
    start it again (measured with Compose v2.40.3: "Healthy"): only then does the message say Compose starts it."""
    name = f"f23h-end-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(ENDED.format(name=name, restart=restart))
    with pytest.raises(ServiceExited) as error, Topology.start(load_topology(tmp_path / "compose.yaml")):
        pass
    message = str(error.value)
    assert "service 'done' exited with code 0 during startup" in message
    if restart:
        assert "Under Docker Compose its `restart:` policy would have Docker start it again" in message
        assert "refuses it too" not in message
    else:
        assert "`docker compose up --wait` refuses it too (\"exited (0)\")" in message
    assert harness_resources(docker_client, name) == []
