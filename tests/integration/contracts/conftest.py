"""What the contract tests share: the broker test server of tests/broker, with a read-write and a read-only token, and
a base image built on this machine."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.broker.server import BrokerServer

TOKEN = "s3cret-broker-token"
READ_TOKEN = "read-only-token"


@pytest.fixture
def broker() -> Iterator[BrokerServer]:
    """A fresh, empty broker on 127.0.0.1, stopped at the end of the test."""
    with BrokerServer(token=TOKEN, read_token=READ_TOKEN) as server:
        yield server


@pytest.fixture
def local_base(tmp_path: Path) -> Iterator[str]:
    """An image built on this machine from a folder outside any checkout (no registry digest), removed after."""
    name = f"local-base-{uuid.uuid4().hex[:8]}:latest"
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nRUN echo org-base > /etc/org-base\n")
    subprocess.run(["docker", "build", "-q", "-t", name, str(folder)], check=True, capture_output=True)
    try:
        yield name
    finally:
        docker.from_env().images.remove(name, force=True)
