"""Which errors say that an engine of a topology stopped answering (runtime/unanswered.py), and how."""

from __future__ import annotations

import docker.errors
import requests
import requests.exceptions

from harness.runtime.unanswered import stopped_answering

ENGINES = {"e0": "tcp://10.0.0.10:2375", "e2": "tcp://10.0.0.12:2375"}


def refused(host: str, port: int) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(
        f"HTTPConnectionPool(host='{host}', port={port}): Max retries exceeded with url: /v1.41/containers/json "
        "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a "
        "new connection: [Errno 111] Connection refused'))")


def test_a_refused_connection_to_an_engine_names_it() -> None:
    assert stopped_answering(ENGINES, refused("10.0.0.12", 2375)) == (
        "engine 'e2' (tcp://10.0.0.12:2375) stopped answering: Connection refused")


def test_a_connection_reset_while_open_is_known_by_its_requests_url() -> None:
    request = requests.Request("GET", "http://10.0.0.12:2375/v1.41/containers/abc/logs").prepare()
    error = requests.exceptions.ConnectionError(
        ("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")), request=request)
    assert stopped_answering(ENGINES, error) == (
        "engine 'e2' (tcp://10.0.0.12:2375) stopped answering: Connection reset by peer")


def test_a_call_to_a_service_or_an_answer_of_an_engine_is_left_as_it_is() -> None:
    assert stopped_answering(ENGINES, refused("10.0.0.12", 31234)) is None  # a published port: the test's own call
    assert stopped_answering(ENGINES, refused("10.0.0.99", 2375)) is None  # no engine of the topology
    assert stopped_answering(ENGINES, docker.errors.NotFound("No such container: abc")) is None
    assert stopped_answering(ENGINES, ValueError("tcp://10.0.0.12:2375")) is None


def test_a_wrapped_error_is_followed_to_its_cause() -> None:
    try:
        try:
            raise refused("10.0.0.10", 2375)
        except requests.exceptions.ConnectionError as cause:
            raise RuntimeError("reading the log failed") from cause
    except RuntimeError as error:
        assert stopped_answering(ENGINES, error) == (
            "engine 'e0' (tcp://10.0.0.10:2375) stopped answering: Connection refused")
