"""pytest-xdist: `-n 2 --topology F` shares one topology between the workers (removed when the run ends, also when a
worker crashed); `--topology-per-worker` gives each worker its own."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L

from ..conftest import FUZZ_CALM_PYTEST, TOPOLOGIES, write_topology

REDIS = "name: {name}\nservices:\n  redis:\n    image: redis:7\n    ports: [6379]\n    ready: {{tcp: 6379}}\n"
# each worker writes the container it was given to ids/<worker>.txt
RECORD_ID = """
import os
from pathlib import Path

def test_records_the_container(topology):
    Path("ids").mkdir(exist_ok=True)
    Path("ids", os.environ["PYTEST_XDIST_WORKER"] + ".txt").write_text(topology["redis"].container.id)
"""


def left_behind(client: docker.DockerClient, file: Path) -> list[str]:
    """Containers, networks and volumes of `file`'s topology still on the engine, by label."""
    label = {"label": f"{L.FILE}={file.resolve()}"}
    return ([c.id for c in client.containers.list(all=True, filters=label, sparse=True)]
            + [n.name for n in client.networks.list(filters=label)]
            + [v.name for v in client.volumes.list(filters=label)])


def ids_by_worker(path: Path) -> dict[str, str]:
    return {file.stem: file.read_text() for file in sorted((path / "ids").glob("*.txt"))}


def test_two_workers_share_one_topology_removed_at_the_end(pytester: pytest.Pytester,
                                                          docker_client: docker.DockerClient) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-shared"))
    pytester.makepyfile(RECORD_ID)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)
    ids = ids_by_worker(pytester.path)
    assert set(ids) == {"gw0", "gw1"}
    assert len(set(ids.values())) == 1  # the same container for both
    output = result.stdout.str() + result.stderr.str()
    assert re.search(r"\[gw[01]\]  ready redis", output), output  # progress lines name the worker
    assert re.search(r"\[gw[01]\] using topology xdist-shared \(run \w+\), started by worker gw[01]", output)
    assert left_behind(docker_client, file) == []


def test_a_failing_pre_stop_hook_of_the_shared_topology_fails_the_run_after_removing_it(
        pytester: pytest.Pytester, docker_client: docker.DockerClient) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-prestop")
                          + "    pre_stop:\n      - command: [sh, -c, 'exit 7']\n")
    pytester.makepyfile(RECORD_ID)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    assert "- service 'redis': its pre_stop hook ['sh', '-c', 'exit 7'] exited with 7" in result.stdout.str()
    assert left_behind(docker_client, file) == []


def test_a_crashed_worker_leaks_nothing(pytester: pytest.Pytester, docker_client: docker.DockerClient) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-crash"))
    pytester.makepyfile(test_crash=RECORD_ID + """

def test_crashes_on_gw0(topology):
    if os.environ["PYTEST_XDIST_WORKER"] == "gw0":
        os._exit(3)  # no teardown, no sessionfinish in this worker
""")
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each",
                                           "--max-worker-restart", "0", "--topology-report", "page.html")
    result.assert_outcomes(passed=3, failed=1)  # gw1's two tests and gw0's first; gw0's crash is a failure
    assert "worker 'gw0' crashed while running 'test_crash.py::test_crashes_on_gw0'" in result.stdout.str()
    # the page is written by the controller, and says that it lacks what the crashed worker saw
    assert "- worker gw0 ended without sending them" in result.stdout.str()
    assert (pytester.path / "page.html").exists()
    assert len(set(ids_by_worker(pytester.path).values())) == 1
    assert left_behind(docker_client, file) == []


def test_per_worker_gives_each_worker_its_own_topology(pytester: pytest.Pytester,
                                                       docker_client: docker.DockerClient) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-per-worker"))
    pytester.makepyfile(RECORD_ID)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each",
                                           "--topology-per-worker")
    result.assert_outcomes(passed=2)
    ids = ids_by_worker(pytester.path)
    assert set(ids) == {"gw0", "gw1"} and len(set(ids.values())) == 2
    assert left_behind(docker_client, file) == []


def test_shared_with_reuse_keeps_one_topology_for_the_next_run(pytester: pytest.Pytester,
                                                              docker_client: docker.DockerClient) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-reuse"))
    pytester.makepyfile(RECORD_ID)
    try:
        pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each",
                                      "--topology-reuse").assert_outcomes(passed=2)
        first = set(ids_by_worker(pytester.path).values())
        kept = [c.id for c in docker_client.containers.list(filters={"label": f"{L.FILE}={file.resolve()}"})]
        assert len(first) == 1 and kept == list(first)
        second = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each",
                                               "--topology-reuse")
        second.assert_outcomes(passed=2)
        assert set(ids_by_worker(pytester.path).values()) == first
        output = second.stdout.str() + second.stderr.str()
        assert re.search(r"using topology xdist-reuse \(run \w+\), reused by worker gw[01]", output), output
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())


FUZZED = f"""name: xdist-exclusive
services:
  items:
    build: {TOPOLOGIES / "fuzz-app"}
    environment: {{BASE: /api/v1}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
"""
# each test writes when it ran (wall clock, from its start to its end) to spans/<worker>-<test>.txt
SPANS = """
import os
import time
from pathlib import Path

import pytest

def record(name, started):
    Path("spans").mkdir(exist_ok=True)
    Path("spans", os.environ["PYTEST_XDIST_WORKER"] + "-" + name + ".txt").write_text(f"{started} {time.time()}")

@pytest.mark.topology_exclusive
def test_stops_the_service(topology):
    started = time.time()
    topology["items"].stop()
    time.sleep(2)  # a fuzz run or another worker's test now would find it gone
    topology["items"].start()
    record("exclusive", started)

def test_uses_the_service(topology):
    import requests

    started = time.time()
    assert requests.get(topology["items"].url + "/api/v1/items/1", timeout=10).status_code == 200
    time.sleep(0.5)
    record("plain", started)
"""


def test_an_exclusive_test_runs_alone_also_beside_fuzz_runs(pytester: pytest.Pytester,
                                                            docker_client: docker.DockerClient) -> None:
    """Every worker runs every test (--dist each): a topology_exclusive test never overlaps another worker's test,
    nor the fuzz runs another worker started and that go on between its fuzz items."""
    file = write_topology(pytester.path, FUZZED)
    pytester.makepyfile(test_spans=SPANS)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each", "--fuzz",
                                           "--fuzz-max-examples", "5", *FUZZ_CALM_PYTEST, "-p", "no:schemathesis",
                                           "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=2 * (2 + 4))  # per worker: 2 tests; fuzz: the service, 2 operations, stateful
    spans = {f.stem: tuple(map(float, f.read_text().split())) for f in (pytester.path / "spans").glob("*.txt")}
    assert sorted(spans) == ["gw0-exclusive", "gw0-plain", "gw1-exclusive", "gw1-plain"]
    for worker, other in (("gw0", "gw1"), ("gw1", "gw0")):
        start, end = spans[f"{worker}-exclusive"]
        for name in ("exclusive", "plain"):
            other_start, other_end = spans[f"{other}-{name}"]
            assert end <= other_start or other_end <= start, (worker, name, spans)
    assert left_behind(docker_client, file) == []


# each process writes the service's log at its session's end to logs/<worker or main>.txt
LOG_AT_END = """
import os
from pathlib import Path

import pytest

@pytest.hookimpl(tryfirst=True)  # before the plugin removes the topology
def pytest_sessionfinish(session):
    owner = session.config.pluginmanager.get_plugin("harness-topology")
    if owner is not None and owner.topology is not None:
        Path("logs").mkdir(exist_ok=True)
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path("logs", name + ".txt").write_text(owner.topology["items"].logs())
"""


def fuzz_requests(path: Path) -> int:
    """The most fuzzing requests (calls of /api/v1/items...) a process saw in the service's log at its end."""
    return max(sum(1 for line in file.read_text().splitlines() if line.startswith("items: ")
                   and " /api/v1/items" in line) for file in (path / "logs").glob("*.txt"))


def test_workers_sharing_a_topology_fuzz_it_once(pytester: pytest.Pytester) -> None:
    """Two workers that both run every fuzz item (--dist each) send the requests of one fuzz run, not of two: as many
    as one process does with the same seed (a second run would double them)."""
    file = write_topology(pytester.path, FUZZED.replace("xdist-exclusive", "xdist-fuzz-once"))
    pytester.makeconftest(LOG_AT_END)
    fuzz = ["--topology", str(file), "--fuzz", "--fuzz-seed", "7", "--fuzz-max-examples", "10", *FUZZ_CALM_PYTEST,
            "-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    pytester.runpytest_subprocess(*fuzz).assert_outcomes(passed=4)
    alone = fuzz_requests(pytester.path)
    for old in (pytester.path / "logs").glob("*.txt"):
        old.unlink()
    pytester.runpytest_subprocess(*fuzz, "-n", "2", "--dist", "each").assert_outcomes(passed=8)
    assert sorted(f.stem for f in (pytester.path / "logs").glob("*.txt")) == ["gw0", "gw1"]
    shared = fuzz_requests(pytester.path)
    assert alone > 10 and shared < 1.5 * alone, (alone, shared)


def test_the_controller_reports_the_pacts_every_worker_verified(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Each worker verifies some of the pacts; the contract matrix and the report page are written once, by the
    controller, with every pact's verdict (a worker's partial matrix would show the others' edges as missing)."""
    from tests.integration.contracts.test_contracts_verdicts import pact, project

    consumers = ["web-frontend", "mobile", "kiosk", "back-office", "partner", "reporting"]
    pacts = {f"{name}-shop.json": pact(name, "shop", f"items for {name}") for name in consumers}
    pacts["reporting-shop.json"]["interactions"][0]["response"]["status"] = 418  # the shop answers 200
    topology = project(tmp_path, "xdist", False, pacts)
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-n", "2", "-v",
                                           "--topology-report", "page.html")
    result.assert_outcomes(passed=11, failed=1)  # two interactions per pact
    output = result.stdout.str()
    assert {worker for worker in ("gw0", "gw1") if re.search(rf"\[{worker}\].*pact\[", output)} == {"gw0", "gw1"}
    written = re.search(r"matrix written to (\S+\.json)", output)
    assert written, output
    edges = json.loads(Path(written.group(1)).read_text())["edges"]
    assert sorted((e["consumer"], e["status"]) for e in edges if e["pact"]) == sorted(
        [(name, "verified") for name in consumers[:-1]] + [("reporting", "failed")])
    page = (pytester.path / "page.html").read_text()
    for name in consumers:
        assert f"{name}-shop.json" in page
    assert output.count("matrix written to") == 1


@pytest.mark.parametrize("mode", ["shared", "per worker"])
def test_a_topology_that_cannot_start_is_one_error_per_worker_with_its_exit_code(
        pytester: pytest.Pytester, docker_client: docker.DockerClient, mode: str) -> None:
    """Under xdist as without it: the reason in the report and in JUnit, the error's exit code (3: an image the
    engine does not have), the workers stopped, nothing left."""
    file = write_topology(pytester.path, "name: xdist-broken\nservices:\n  web:\n    image: no-such-image-xdist:1\n")
    pytester.makepyfile("\n".join(f"def test_{n}(topology):\n    pass\n" for n in range(6)))
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--junitxml", "junit.xml",
                                           *(["--topology-per-worker"] if mode == "per worker" else []))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, output
    assert "AssertionError" not in output and "Traceback" not in output
    assert "topology xdist-broken did not start" in output and "no-such-image-xdist:1" in output
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    errors = [case.find("error") for case in cases if case.find("error") is not None]
    assert 1 <= len(errors) <= 2  # the item each worker was running; the others were not run
    assert all("no-such-image-xdist:1" in (error.get("message", "") + (error.text or "")) for error in errors)
    assert left_behind(docker_client, file) == []


def test_no_engine_under_xdist_is_one_error_in_junit_with_exit_3(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    file = write_topology(pytester.path, REDIS.format(name="xdist-no-engine"))
    pytester.makepyfile(RECORD_ID)
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-engine-xdist.sock")
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--junitxml", "junit.xml")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 3, output
    assert "Traceback" not in output
    errors = list(ET.parse(pytester.path / "junit.xml").getroot().iter("error"))
    assert len(errors) == 1 and "no Docker engine answers at DOCKER_HOST=unix:///tmp/no-engine-xdist.sock" in (
        errors[0].get("message", "") + (errors[0].text or ""))


def test_what_a_worker_that_died_in_an_exclusive_test_left_is_put_back(pytester: pytest.Pytester,
                                                                      docker_client: docker.DockerClient) -> None:
    """gw0 stops redis in an exclusive test and dies there (no teardown puts it back): the next test of another
    worker restores it first and says after which test; a failing test's log section says other workers' lines may
    be in it."""
    file = write_topology(pytester.path, REDIS.format(name="xdist-lost"))
    pytester.makeconftest("""
        import os, time
        from pathlib import Path
        import pytest

        @pytest.hookimpl(tryfirst=True, wrapper=True)  # outside the plugin's tests lock: waiting holds nothing
        def pytest_runtest_protocol(item, nextitem):
            if os.environ.get("PYTEST_XDIST_WORKER") == "gw1" and item.name == "test_b_redis_is_up":
                deadline = time.monotonic() + 240
                while not Path("gw0-stopped").exists():
                    assert time.monotonic() < deadline, "gw0 never stopped redis"
                    time.sleep(0.1)
            return (yield)
    """)
    pytester.makepyfile(test_lost="""
        import os
        from pathlib import Path
        import pytest

        @pytest.mark.topology_exclusive
        def test_a_stops_redis_and_dies_on_gw0(topology):
            if os.environ["PYTEST_XDIST_WORKER"] == "gw0":
                topology["redis"].stop()
                Path("gw0-stopped").touch()
                os._exit(3)

        def test_b_redis_is_up(topology):
            assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"

        def test_c_fails_with_a_log_line(topology):
            topology["redis"].exec(["sh", "-c", "echo LINE-OF-C > /proc/1/fd/1"])
            assert False
    """)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each",
                                           "--max-worker-restart", "0", "-rA")
    result.assert_outcomes(passed=2, failed=2)  # gw1: a, b passed, c failed; gw0: died in a
    output = result.stdout.str()
    assert "after test_lost.py::test_a_stops_redis_and_dies_on_gw0 (worker gw0 ended during it):" in output, output
    # `.stop()` sends the stop signal and SIGKILL at once: whichever lands first decides the exit code (redis exits
    # 0 on SIGTERM when it gets there before the kill, more often on a loaded machine)
    # (exit 0 is said as a service that ended by itself: "had exited", run again, as `docker compose up` would)
    assert re.search(r"- redis (was stopped or killed \(exit code 137\): started it again|had exited \(exit code 0\): "
                     r"ran it again)", output), output
    assert "[shared by the xdist workers: their tests' lines of the same time are here too]" in output
    assert left_behind(docker_client, file) == []


DISTURBING = """
import pytest

def test_stops_redis(topology):
    topology["redis"].stop()

def test_delays_what_redis_calls(topology):
    with topology["redis"].faults.delay(ms=100):
        pass

@pytest.mark.topology_exclusive
def test_pauses_redis_alone(topology):
    topology["redis"].pause()

def test_redis_answers(topology):
    assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
"""


def test_a_test_that_disturbs_a_shared_topology_must_hold_it_alone(pytester: pytest.Pytester,
                                                                    docker_client: docker.DockerClient) -> None:
    """With two workers sharing the topology, a test not marked topology_exclusive that stops or faults a service
    fails at that call, before it is done (the other worker's tests would meet it); marked, it runs alone. With one
    process the same tests pass: nothing else runs beside them."""
    file = write_topology(pytester.path, REDIS.format(name="xdist-alone"))
    pytester.makepyfile(test_disturbing=DISTURBING)
    result = pytester.runpytest_subprocess("--topology", str(file), "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=4, failed=4)  # per worker: the two unmarked ones fail
    output = result.stdout.str()
    shared = "topology xdist-alone is shared by the 2 xdist workers of this session, and their tests running now " \
             "would meet it too"
    assert f"test_disturbing.py::test_stops_redis: stop service 'redis': {shared}" in output, output
    assert (f"test_disturbing.py::test_delays_what_redis_calls: fault redis -> (everything it calls): delay 100 ms: "
            f"{shared}") in output
    assert "Mark the test @pytest.mark.topology_exclusive: it then runs alone, and what it left is put back after " \
           "it (@pytest.mark.edge_fault implies it). Or give each worker a topology of its own: " \
           "--topology-per-worker." in output
    assert re.findall(r"FAILED test_disturbing.py::(\w+)", output).count("test_redis_answers") == 0
    assert left_behind(docker_client, file) == []
    alone = pytester.runpytest_subprocess("--topology", str(file))
    alone.assert_outcomes(passed=4)
    assert left_behind(docker_client, file) == []
