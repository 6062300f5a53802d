"""Which errors say that an engine of a topology stopped answering (runtime/unanswered.py), and how."""

from __future__ import annotations

import docker.errors
import requests
import requests.exceptions

from harness.runtime.unanswered import calls_engine, stopped_answering, why_unanswered

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


def test_why_says_a_connection_never_made_apart_from_one_not_answered() -> None:
    timed_out = requests.exceptions.ConnectTimeout(
        "HTTPConnectionPool(host='10.0.0.12', port=2375): Max retries exceeded with url: /_ping (Caused by "
        "ConnectTimeoutError(<HTTPConnection(host='10.0.0.12', port=2375)>, 'Connection to 10.0.0.12 timed out. "
        "(connect timeout=5)'))")
    unanswered = requests.exceptions.ReadTimeout(
        "HTTPConnectionPool(host='10.0.0.12', port=2375): Read timed out. (read timeout=5)")
    unreachable = requests.exceptions.ConnectionError(
        "HTTPConnectionPool(host='10.0.0.12', port=2375): Max retries exceeded with url: /_ping (Caused by "
        "NewConnectionError(\"HTTPConnection(host='10.0.0.12', port=2375): Failed to establish a new connection: "
        "[Errno 113] No route to host\"))")
    assert why_unanswered(timed_out) == "no connection (timed out)"
    assert why_unanswered(unanswered) == "it accepted the connection but did not answer in time"
    assert why_unanswered(unreachable) == "No route to host"


def test_a_call_to_an_engine_is_known_by_its_address_or_docker_pys_own_url() -> None:
    assert calls_engine("tcp://10.0.0.12:2375", refused("10.0.0.12", 2375))
    assert not calls_engine("tcp://10.0.0.12:2375", refused("10.0.0.12", 31234))  # a service's published port
    socket = requests.Request("GET", "http+docker://localhost/v1.41/containers/json").prepare()
    gone = requests.exceptions.ConnectionError(("Connection aborted.", FileNotFoundError(2, "No such file")),
                                               request=socket)
    assert calls_engine("unix:///var/run/docker.sock", gone)
    assert not calls_engine("unix:///var/run/docker.sock", refused("127.0.0.1", 31234))  # a test's own call
    assert not calls_engine("unix:///var/run/docker.sock", docker.errors.NotFound("No such container: abc"))
