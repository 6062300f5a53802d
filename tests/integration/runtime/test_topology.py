"""A real topology on the real engine: start order, reachability, control, teardown."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from harness import Topology, load_topology
from harness.pytest import _epoch
from harness.runtime.topology import StartEvent

from ..conftest import TOPOLOGIES, harness_resources


def get(url: str, method: str = "GET", timeout: float = 5) -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def in_container(topology: Topology, service: str, url: str) -> str:
    """Fetch `url` from inside `service`'s container (so over the topology's network)."""
    code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    result = topology[service].exec(["python", "-c", code])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def started() -> Iterator[tuple[Topology, list[StartEvent]]]:
    """The example topology and the events of its start: a test that reads the events starts it too when it runs
    alone (`-k`)."""
    events: list[StartEvent] = []
    with Topology.start(load_topology(TOPOLOGIES / "example.yaml"), progress=events.append) as topology:
        yield topology, events


@pytest.fixture(scope="module")
def example(started: tuple[Topology, list[StartEvent]]) -> Topology:
    return started[0]


@pytest.fixture(scope="module")
def events(started: tuple[Topology, list[StartEvent]]) -> list[StartEvent]:
    return started[1]


def test_every_service_is_reachable_from_the_host(example: Topology) -> None:
    for name in ("greeter", "relay", "counter"):
        assert get(example[name].url + "/health") == {"status": "ok", "role": name}
    assert example["redis"].host == "127.0.0.1"
    assert example["redis"].port(6379) == int(example["redis"].url.rsplit(":", 1)[1])


def test_services_reach_each_other_by_name_and_alias(example: Topology) -> None:
    assert get(example["relay"].url + "/relay") == {"relayed": {"greeting": "hello from greeter"}}
    assert json.loads(in_container(example, "counter", "http://hello:8000/hello")) == {"greeting": "hello from greeter"}


def test_a_service_uses_redis_over_the_network(example: Topology) -> None:
    first = get(example["counter"].url + "/count", "POST")["count"]
    assert get(example["counter"].url + "/count", "POST")["count"] == first + 1


def test_services_start_after_their_dependencies_are_ready(events: list[StartEvent]) -> None:
    order = [(e.service, e.kind) for e in events if e.kind in ("starting", "ready")]
    assert order.index(("relay", "starting")) > order.index(("greeter", "ready"))
    assert order.index(("counter", "starting")) > order.index(("redis", "ready"))
    # the three services share one build, built (or found in the cache) once; each is told which image it runs
    assert len([e for e in events if e.kind == "building" and not e.detail]) <= 1
    outcomes = [e for e in events if e.kind in ("built", "cached")]
    assert sorted(e.service for e in outcomes) == ["counter", "greeter", "relay"]
    assert len({(e.kind, e.detail) for e in outcomes}) == 1
    # the waiting line names the probe and the limit (the default `timeout`)
    waiting = {e.service: e.detail for e in events if e.kind == "waiting"}
    assert waiting["greeter"] == "http GET :8000/health -> 200, up to 60 s"
    assert waiting["redis"] == "log line 'Ready to accept connections', up to 60 s"


def test_independent_services_start_concurrently(events: list[StartEvent]) -> None:
    kinds = [(e.service, e.kind) for e in events]
    # greeter and redis depend on nothing: both start before either is ready
    first_ready = min(kinds.index(("greeter", "ready")), kinds.index(("redis", "ready")))
    assert kinds.index(("greeter", "starting")) < first_ready and kinds.index(("redis", "starting")) < first_ready


def test_logs_and_exec(example: Topology) -> None:
    since = time.time()
    get(example["greeter"].url + "/hello")
    deadline = time.monotonic() + 120  # the engine hands over log lines asynchronously (a bound for a loaded machine)
    while "greeter: GET /hello -> 200" not in example["greeter"].logs(since=since) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "greeter: GET /hello -> 200" in example["greeter"].logs(since=since)
    assert "listening" not in example["greeter"].logs(since=since)
    stamped = example["greeter"].logs(since=since, timestamps=True).splitlines()
    received = [_epoch(line.split(" ", 1)[0]) for line in stamped]  # what the plugin reads a failed test's lines by
    assert received and all(at is not None and since - 1 <= at <= time.time() + 1 for at in received), stamped
    assert example["greeter"].exec(["printenv", "GREETING"]).output.strip() == "hello from greeter"


def test_stop_and_start_keep_the_url(example: Topology) -> None:
    greeter = example["greeter"]
    url = greeter.url
    greeter.stop()
    assert greeter.status == "exited"
    with pytest.raises(urllib.error.HTTPError):  # relay is up but its peer is gone
        get(example["relay"].url + "/relay")
    greeter.start()
    assert greeter.url == url
    assert get(url + "/hello") == {"greeting": "hello from greeter"}


def test_pause_and_unpause(example: Topology) -> None:
    example["greeter"].pause()
    try:
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            get(example["greeter"].url + "/hello", timeout=1)
    finally:
        example["greeter"].unpause()
    assert get(example["greeter"].url + "/hello")


def test_disconnect_and_connect(example: Topology) -> None:
    example["greeter"].disconnect()
    try:
        with pytest.raises(urllib.error.HTTPError):
            get(example["relay"].url + "/relay")
    finally:
        example["greeter"].connect()
    assert get(example["relay"].url + "/relay")["relayed"]


def test_build_is_cached_on_the_next_start(example: Topology, docker_client) -> None:  # noqa: ANN001
    events: list[StartEvent] = []
    spec = load_topology(TOPOLOGIES / "example.yaml").model_copy(
        update={"services": {"greeter": load_topology(TOPOLOGIES / "example.yaml").services["greeter"]}})
    with Topology.start(spec, progress=events.append) as again:
        assert get(again["greeter"].url + "/hello")
    assert [e.kind for e in events if e.kind in ("built", "cached")] == ["cached"]


def test_compose_file_starts_the_same_way(docker_client) -> None:  # noqa: ANN001
    spec = load_topology(TOPOLOGIES / "compose" / "docker-compose.yml")
    assert "docker-compose.yml:43: services.counter.restart: ignored for a test run (containers live only for the " \
           "run; a service that stops is reported, not restarted)" in spec.notes
    assert spec.services["counter"].depends_on == ["redis"]
    assert spec.services["redis"].probe is not None and spec.services["redis"].probe.command == ["redis-cli", "ping"]
    with Topology.start(spec) as topology:
        assert get(topology["relay"].url + "/relay") == {"relayed": {"greeting": "hello from compose"}}
        assert get(topology["counter"].url + "/count", "POST")["count"] >= 1
        # compose's fixed host ports are replaced by free ports on 127.0.0.1
        assert topology["greeter"].port(8000) != 18000
    assert harness_resources(docker_client, "compose") == []


def test_close_removes_every_container_and_the_network(docker_client) -> None:  # noqa: ANN001
    topology = Topology.start(load_topology(TOPOLOGIES / "redis-only.yaml"))
    assert len(harness_resources(docker_client, "redis-only")) == 2
    topology.close()
    # everything removed, whatever the load; how fast (no 10 s `docker stop` grace period) is bench/startup.py's
    # teardown ratio against raw `docker rm -f`
    assert harness_resources(docker_client, "redis-only") == []


def test_start_after_stop_waits_for_a_fresh_log_line(example: Topology) -> None:
    redis = example["redis"]  # ready: {log: Ready to accept connections}; the old line must not count again
    redis.stop()
    redis.start()
    assert redis.logs().count("Ready to accept connections") == 2
    assert redis.exec(["redis-cli", "ping"]).output.strip() == "PONG"


def test_attach_finds_a_kept_topology(docker_client, tmp_path) -> None:  # noqa: ANN001
    # a copy: a kept run is found by its file, and another session (the other xdist worker) may keep the original
    file = tmp_path / "redis-only.yaml"
    shutil.copy(TOPOLOGIES / "redis-only.yaml", file)
    spec = load_topology(file)
    assert Topology.attach(spec) is None
    kept = Topology.start(spec, keep=True)
    try:
        attached = Topology.attach(spec)
        assert attached is not None and attached.run_id == kept.run_id
        assert attached["redis"].url == kept["redis"].url
        assert attached["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
    finally:
        kept.close()
    assert harness_resources(docker_client, "redis-only", file) == []
