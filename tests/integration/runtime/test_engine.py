"""An engine that cannot be used is one clear error, soon: also one that accepts connections and never answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

HARNESS = str(Path(sys.executable).parent / "harness")
REPOSITORY = Path(__file__).parent.parents[2]


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """tcp://127.0.0.1:PORT where connections are accepted and never answered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("command", [["ps"], ["logs", "web"], ["down", "--all"]])
def test_an_engine_that_never_answers_is_an_error_not_a_hang(silent_engine: str, tmp_path: Path,
                                                             command: list[str]) -> None:
    done = subprocess.run([HARNESS, *command], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"DOCKER_HOST": silent_engine, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 3
    assert done.stderr.startswith(f"error: the Docker engine at DOCKER_HOST={silent_engine} accepted the connection "
                                  "but did not answer within 5 s.\nThe engine is hung or overloaded: restart it")
    assert "Traceback" not in done.stderr


def test_the_project_script_is_named_only_inside_this_repository(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "tcp://127.0.0.1:1", "PATH": "/usr/bin:/bin"}
    outside = subprocess.run([HARNESS, "ps"], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    inside = subprocess.run([HARNESS, "ps"], capture_output=True, text=True, timeout=60, cwd=REPOSITORY, env=env)
    for done in (outside, inside):
        assert done.returncode == 3
        assert "no Docker engine answers at DOCKER_HOST=tcp://127.0.0.1:1: Connection refused." in done.stderr
        assert "https://docs.docker.com/engine/install/" in done.stderr
    assert "ensure-engine.sh" not in outside.stderr
    assert "in this repository, `bash fixtures/images/ensure-engine.sh` does it" in inside.stderr
