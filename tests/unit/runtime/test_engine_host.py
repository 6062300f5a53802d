"""Where published ports are reached and published, from DOCKER_HOST, TOPOLOGY_HOST and TOPOLOGY_PUBLISH_ADDRESS."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runtime.engine import publish_address, remote_engine, service_host


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "TOPOLOGY_HOST", "TOPOLOGY_PUBLISH_ADDRESS", "TC_HOST",
                 "TESTCONTAINERS_HOST_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.testcontainers.properties, no Docker context


@pytest.mark.parametrize(("docker_host", "remote", "host", "published_on"), [
    (None, None, "127.0.0.1", "127.0.0.1"),
    ("unix:///run/podman/podman.sock", None, "127.0.0.1", "127.0.0.1"),
    ("tcp://127.0.0.1:2375", None, "127.0.0.1", "127.0.0.1"),
    ("tcp://localhost:2375", None, "127.0.0.1", "127.0.0.1"),
    ("tcp://10.250.3.2:2375", "10.250.3.2", "10.250.3.2", "0.0.0.0"),
    ("ssh://ci@build-box.example:2222", "build-box.example", "build-box.example", "0.0.0.0"),
    ("tcp://[fd00::2]:2375", "fd00::2", "fd00::2", "0.0.0.0"),
])
def test_the_engine_address_decides(monkeypatch: pytest.MonkeyPatch, docker_host: str | None, remote: str | None,
                                    host: str, published_on: str) -> None:
    if docker_host:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert (remote_engine(), service_host(), publish_address()) == (remote, host, published_on)


def test_topology_host_and_publish_address_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://ci@build-box.example")
    monkeypatch.setenv("TOPOLOGY_HOST", "10.0.0.7")
    monkeypatch.setenv("TOPOLOGY_PUBLISH_ADDRESS", "10.0.0.7")
    assert (service_host(), publish_address()) == ("10.0.0.7", "10.0.0.7")
