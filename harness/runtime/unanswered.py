"""An engine that stopped answering in the middle of a run, said as such: docker-py raises the transport's error
(requests' ConnectionError with urllib3's wrapped text, "Max retries exceeded ... 10.0.0.12:2375"), which names no
engine and reads as a bug of the test. `stopped_answering` tells whether an error is one of those, and of which
engine of the topology, so a front-end can say it in one line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import docker.errors
import requests.exceptions

from harness.runtime.engine import _connect_timed_out, _reason, _timed_out

# where urllib3 and requests name the server they could not reach: host='10.0.0.12', port=2375 | http://host:port/
_URLLIB3 = re.compile(r"host='([^']+)', port=(\d+)")
_URL = re.compile(r"\b(?:https?|tcp)://([^/:\s'\"]+):(\d+)")


def _chain(error: BaseException) -> Iterable[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _transport(error: BaseException) -> bool:
    """Whether `error` (or what it wraps) is a failure to talk to the engine at all, not an answer of the engine."""
    return any(isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
               or (isinstance(e, docker.errors.DockerException) and not isinstance(e, docker.errors.APIError)
                   and "Error while fetching server API version" in str(e)) for e in _chain(error))


def _endpoint(address: str) -> tuple[str, int] | None:
    """("10.0.0.12", 2375) of a DOCKER_HOST-style `address` reached over TCP; None for a socket."""
    parts = urlsplit(address.replace("tcp://", "http://", 1))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname, parts.port or (2376 if parts.scheme == "https" else 2375)


def unreached(error: BaseException) -> set[tuple[str, int]]:
    """The (host, port) pairs a failure to connect (requests' or docker-py's transport error) names; empty for any
    other error (an answer, however bad)."""
    if not _transport(error):
        return set()
    # a request's own URL too: a connection reset while open ("Connection aborted.") names no host in its text
    texts = " ".join([str(e) for e in _chain(error)]
                     + [str(getattr(getattr(e, "request", None), "url", "") or "") for e in _chain(error)])
    return {(host, int(port)) for host, port in [*_URLLIB3.findall(texts), *_URL.findall(texts)]}


def why_unanswered(error: BaseException) -> str:
    """Why a call to an engine got no answer, in a few words: `no connection (timed out)` (no answer to its SYN: a
    machine gone or filtered), `it accepted the connection but did not answer in time`, or the system's words
    (`Connection refused`, `No route to host`, ...)."""
    if _connect_timed_out(error):
        return "no connection (timed out)"
    if _timed_out(error):
        return "it accepted the connection but did not answer in time"
    return _reason(next((e for e in _chain(error) if isinstance(
        e, (requests.exceptions.RequestException, docker.errors.DockerException))), error))


def calls_engine(address: str, error: BaseException) -> bool:
    """Whether `error` is a failure to reach the engine at `address` (DOCKER_HOST form): its host and port named, or,
    for an engine reached over a socket (unix, ssh), docker-py's own URL (`http+docker://...`) in the request."""
    endpoint = _endpoint(address)
    if endpoint is not None:
        return endpoint in unreached(error)
    return _transport(error) and any(
        str(getattr(getattr(e, "request", None), "url", "") or "").startswith("http+docker://")
        or isinstance(e, docker.errors.DockerException) for e in _chain(error))


def stopped_answering(engines: dict[str, str], error: BaseException) -> str | None:
    """`engine 'e2' (tcp://10.0.0.12:2375) stopped answering: Connection refused` when `error` is a failure to reach
    one of `engines` (name -> its DOCKER_HOST-style address), else None (an answer of an engine, a test's own call
    to a service, anything else: left as it is)."""
    reached = unreached(error)
    for name, address in engines.items():
        endpoint = _endpoint(address)
        if endpoint is not None and endpoint in reached:
            return f"engine '{name}' ({address}) stopped answering: {why_unanswered(error)}"
    return None
