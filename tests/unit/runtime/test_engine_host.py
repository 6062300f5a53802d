"""Where published ports are reached and published, from DOCKER_HOST, TOPOLOGY_HOST and TOPOLOGY_PUBLISH_ADDRESS."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests.exceptions

from harness.runtime.engine import (
    _connect_timed_out,
    _reason,
    _timed_out,
    publish_address,
    publish_note,
    remote_engine,
    service_host,
)


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


@pytest.mark.parametrize(("variable", "value", "published_on"), [
    ("TC_HOST", "192.0.2.2", "0.0.0.0"),
    ("TESTCONTAINERS_HOST_OVERRIDE", "host.docker.internal", "0.0.0.0"),
    ("TOPOLOGY_HOST", "10.0.0.7", "0.0.0.0"),
    ("TC_HOST", "localhost", "127.0.0.1"),
])
def test_a_local_engine_publishes_where_the_urls_host_reaches(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                              value: str, published_on: str) -> None:
    """URLs at TC_HOST with ports on loopback would reach nothing: every interface, as testcontainers publishes."""
    monkeypatch.setenv(variable, value)
    assert (service_host(), publish_address()) == (value, published_on)
    if published_on == "127.0.0.1":
        assert publish_note() is None
    else:
        assert publish_note() == (
            f"{variable}={value} with a local engine: ports are published on every interface (0.0.0.0, as "
            f"testcontainers publishes them) so that URLs at {value} reach them; set TOPOLOGY_PUBLISH_ADDRESS to "
            "publish on one address only")
    monkeypatch.setenv("TOPOLOGY_PUBLISH_ADDRESS", "10.0.0.9")  # said where: nothing to add
    assert (publish_address(), publish_note()) == ("10.0.0.9", None)


def test_no_note_for_a_remote_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.250.3.2:2375")
    monkeypatch.setenv("TC_HOST", "10.250.3.2")
    assert (publish_address(), publish_note()) == ("0.0.0.0", None)


@pytest.mark.parametrize(("text", "reason"), [
    ("Error while fetching server API version: HTTPConnectionPool(host='10.250.144.99', port=2375): Max retries "
     "exceeded with url: /version (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at "
     "0x7f3a>: Failed to establish a new connection: [Errno 113] No route to host'))", "No route to host"),
    ("HTTPConnectionPool(host='10.250.144.99', port=2375): Max retries exceeded with url: /version (Caused by "
     "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a>: Failed to establish a new "
     "connection: [Errno 111] Connection refused'))", "Connection refused"),
    ("HTTPConnectionPool(host='h', port=2375): Max retries exceeded with url: /version (Caused by "
     "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a>: Failed to establish a new "
     "connection: [Errno 99] Cannot assign requested address'))", "Cannot assign requested address"),
])
def test_an_engine_that_does_not_answer_is_said_in_the_systems_words(text: str, reason: str) -> None:
    assert _reason(requests.exceptions.ConnectionError(text)) == reason


def test_a_connection_never_made_in_time_is_told_from_one_made_and_not_answered() -> None:
    never = requests.exceptions.ConnectTimeout("HTTPConnectionPool(host='10.250.144.99', port=2375): Max retries "
                                               "exceeded (Caused by ConnectTimeoutError(..., 'Connection to "
                                               "10.250.144.99 timed out. (connect timeout=5)'))")
    silent = requests.exceptions.ReadTimeout("HTTPConnectionPool(host='h', port=2375): Read timed out.")
    assert (_connect_timed_out(never), _timed_out(never)) == (True, True)
    assert (_connect_timed_out(silent), _timed_out(silent)) == (False, True)
