"""`--topology-reuse`: a second pytest run uses the kept topology of the first; a changed file restarts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L

REDIS = """name: {name}
services:
  redis:
    image: redis:7
    ports: [6379]
    ready: {{tcp: 6379}}
    environment: {{VERSION: "{version}"}}
"""
TESTS = """
def test_uses_redis(topology):
    print("container", topology["redis"].container.id)
    assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"

def test_stops_redis(topology):
    topology["redis"].stop()  # left stopped: restored at the end of the session, so that the next run finds it up
"""

# a session whose test holds redis stopped until the file `release` appears (`stopped` says it has stopped it): no one
# may put redis back, nor remove the run, under that test
HOLDS_REDIS_STOPPED = """
import time
from pathlib import Path

def test_holds_redis_stopped(topology):
    topology["redis"].stop()
    Path("stopped").touch()
    deadline = time.monotonic() + 240
    while not Path("release").exists():
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.1)
    assert topology["redis"].status == "exited", "redis was put back or replaced under this test"
"""


def containers(client: docker.DockerClient, file: Path) -> list[dict]:
    """id, created, state and labels of every container of `file`'s topology, by label."""
    found = client.containers.list(all=True, filters={"label": f"{L.FILE}={file.resolve()}"}, sparse=True)
    return [{"id": c.id, "created": c.attrs["Created"], "state": L.container_status(c), "labels": L.labels_of(c)}
            for c in found]


@pytest.fixture
def topology_file(pytester: pytest.Pytester, docker_client: docker.DockerClient) -> Iterator[Path]:
    file = pytester.path / "topology.yaml"
    file.write_text(REDIS.format(name="reuse-test", version="1"))
    pytester.makepyfile(TESTS)
    pytester.makeconftest("""
        def pytest_topology_reused(topology, config):  # reset what earlier sessions left: here, count the calls
            with open("reused.txt", "a") as file:
                file.write(topology.run_id + "\\n")
    """)
    yield file
    L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())  # what `harness down FILE` does


def test_a_second_run_attaches_to_the_kept_topology_and_a_changed_file_restarts_it(
        pytester: pytest.Pytester, topology_file: Path, docker_client: docker.DockerClient) -> None:
    first = pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse", "-s")
    first.assert_outcomes(passed=2)
    after_first = containers(docker_client, topology_file)
    assert len(after_first) == 1
    assert after_first[0]["labels"][L.KEEP] == "true"
    assert after_first[0]["state"] == "running"  # the test stopped it; the session end put it back
    assert "redis was left stopped (.stop()): started it again" in first.stdout.str()
    assert f"harness down --topology {topology_file}" in first.stdout.str()
    assert not (pytester.path / "reused.txt").exists()  # started by this run: nothing to reset

    second = pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse", "-s")
    second.assert_outcomes(passed=2)
    after_second = containers(docker_client, topology_file)
    assert [(c["id"], c["created"]) for c in after_second] == [(c["id"], c["created"]) for c in after_first]
    assert f"container {after_first[0]['id']}" in second.stdout.str()  # the tests got the running container
    assert "reusing the running topology reuse-test" in second.stdout.str() + second.stderr.str()
    run = after_first[0]["labels"][L.RUN]
    assert (pytester.path / "reused.txt").read_text() == f"{run}\n"  # the reset hook, once

    topology_file.write_text(REDIS.format(name="reuse-test", version="2"))
    third = pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse", "-s")
    third.assert_outcomes(passed=2)
    output = third.stdout.str() + third.stderr.str()
    assert "gives now (the file, or a variable it takes from the environment or .env)" in " ".join(output.split())
    assert "  redis changed (environment): replacing it" in output
    after_third = containers(docker_client, topology_file)
    assert len(after_third) == 1 and after_third[0]["id"] != after_first[0]["id"]
    assert after_third[0]["labels"][L.KEEP] == "true" and after_third[0]["labels"][L.RUN] == run  # updated in place
    # the run is updated, not new: what its other services kept may need the reset
    assert (pytester.path / "reused.txt").read_text() == f"{run}\n{run}\n"


def test_the_ini_key_turns_reuse_on(pytester: pytest.Pytester, topology_file: Path,
                                    docker_client: docker.DockerClient) -> None:
    pytester.makeini(f"[pytest]\ntopology = {topology_file.name}\ntopology_reuse = true\n")
    pytester.runpytest_subprocess("-k", "uses_redis").assert_outcomes(passed=1)
    kept = containers(docker_client, topology_file)
    pytester.runpytest_subprocess("-k", "uses_redis").assert_outcomes(passed=1)
    assert [c["id"] for c in containers(docker_client, topology_file)] == [c["id"] for c in kept]
    assert len(kept) == 1 and kept[0]["labels"][L.KEEP] == "true"


def test_reuse_and_per_worker_together_is_a_usage_error(pytester: pytest.Pytester, topology_file: Path) -> None:
    result = pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse",
                                           "--topology-per-worker")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--topology-reuse shares one kept topology, --topology-per-worker gives each xdist worker its own: use " \
           "one of them" in result.stderr.str()


def test_two_sessions_deciding_on_the_kept_run_at_once_take_turns(tmp_path: Path,
                                                                  docker_client: docker.DockerClient) -> None:
    """The second `harness up --detach` of a file waits while the first starts it (its probe waits for a file this
    test creates), then uses that run: one run, neither removed as "another version"."""
    import subprocess
    import sys
    import threading

    file = tmp_path / "topology.yaml"
    file.write_text("name: reuse-race\nservices:\n  gate:\n    image: python:3.11-slim\n"
                    "    command: [sleep, '600']\n    ready: {command: [test, -f, /tmp/go]}\n    timeout: 300\n")
    harness = str(Path(sys.executable).parent / "harness")
    first = subprocess.Popen([harness, "up", str(file), "--detach"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    second: subprocess.Popen | None = None
    try:
        while not any(c["state"] == "running" for c in containers(docker_client, file)):  # the first is starting
            assert first.poll() is None, first.communicate()[0]
            threading.Event().wait(0.2)
        second = subprocess.Popen([harness, "up", str(file), "--detach"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(iter(second.stdout.readline, "")), daemon=True)
        reader.start()
        while not any("waiting for another session" in line for line in said):
            assert second.poll() is None, f"the second session ended without waiting: {''.join(said)}"
            threading.Event().wait(0.2)
        gate = containers(docker_client, file)[0]["id"]
        docker_client.containers.get(gate).exec_run(["touch", "/tmp/go"])  # the first start completes
        assert first.wait(timeout=300) == 0, first.communicate()[0]
        assert second.wait(timeout=300) == 0
        reader.join(timeout=30)
        output = "".join(said)
        assert "reusing the running topology reuse-race" in output, output
        assert "another version" not in output
        runs = {c["labels"][L.RUN] for c in containers(docker_client, file)}
        assert len(runs) == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
        subprocess.run([harness, "down", str(file)], capture_output=True, timeout=120)
    assert containers(docker_client, file) == []


def test_a_second_session_waits_while_another_uses_the_kept_run(pytester: pytest.Pytester, topology_file: Path,
                                                                 docker_client: docker.DockerClient) -> None:
    """While one session's test has redis stopped on purpose, a second session reusing the same kept run waits: it
    would otherwise put redis back under that test (a fault test passing against a healthy dependency) or, with a
    changed file, remove the run under the first session's tests."""
    import subprocess
    import sys
    import threading

    pytester.makepyfile(test_first=HOLDS_REDIS_STOPPED, test_second="""
        def test_finds_redis_up(topology):
            assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
    """)
    pytest_exe = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", str(topology_file),
                  "--topology-reuse", "-s"]
    first = subprocess.Popen([*pytest_exe, "test_first.py"], cwd=pytester.path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    second: subprocess.Popen | None = None
    try:
        while not (pytester.path / "stopped").exists():
            assert first.poll() is None, first.communicate()[0]
            threading.Event().wait(0.2)
        second = subprocess.Popen([*pytest_exe, "test_second.py"], cwd=pytester.path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(iter(second.stdout.readline, "")), daemon=True)
        reader.start()
        while not any("waiting for another session that uses the kept topology reuse-test" in line for line in said):
            assert second.poll() is None, f"the second session did not wait: {''.join(said)}"
            threading.Event().wait(0.2)
        (pytester.path / "release").touch()
        first_output = first.communicate(timeout=300)[0]
        assert first.returncode == 0, first_output
        assert second.wait(timeout=300) == 0, "".join(said)
        reader.join(timeout=30)
        assert "reusing the running topology reuse-test" in "".join(said)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()


def test_the_first_failing_test_of_a_reused_run_shows_only_its_own_log_lines(pytester: pytest.Pytester,
                                                                              topology_file: Path) -> None:
    pytester.makepyfile(test_old="""
        def test_logs_in_the_first_session(topology):
            topology["redis"].exec(["sh", "-c", "echo OLD-SESSION-LINE > /proc/1/fd/1"])
    """, test_new="""
        def test_fails_at_once(topology):
            topology["redis"].exec(["sh", "-c", "echo NEW-SESSION-LINE > /proc/1/fd/1"])
            assert False
    """)
    pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse",
                                  "test_old.py").assert_outcomes(passed=1)
    second = pytester.runpytest_subprocess("--topology", str(topology_file), "--topology-reuse", "test_new.py")
    second.assert_outcomes(failed=1)
    failure = second.stdout.str().split("FAILURES")[1]
    assert "NEW-SESSION-LINE" in failure
    assert "OLD-SESSION-LINE" not in failure  # an earlier session's lines are not this test's


def test_harness_up_on_an_edited_file_waits_for_the_session_using_the_kept_run(
        pytester: pytest.Pytester, topology_file: Path, docker_client: docker.DockerClient) -> None:
    """`harness up --detach` (or harness fuzz, verify) of an edited file replaces the kept run only once the session
    using it has ended: removing it under that session's tests would fail them for nothing."""
    import subprocess
    import sys
    import threading

    pytester.makepyfile(test_first=HOLDS_REDIS_STOPPED)
    first = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology",
                              str(topology_file), "--topology-reuse", "test_first.py"], cwd=pytester.path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    up: subprocess.Popen | None = None
    try:
        while not (pytester.path / "stopped").exists():
            assert first.poll() is None, first.communicate()[0]
            threading.Event().wait(0.2)
        used = {c["id"] for c in containers(docker_client, topology_file)}
        topology_file.write_text(REDIS.format(name="reuse-test", version="2"))
        up = subprocess.Popen([str(Path(sys.executable).parent / "harness"), "up", str(topology_file), "--detach"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said: list[str] = []
        reader = threading.Thread(target=lambda: said.extend(iter(up.stdout.readline, "")), daemon=True)
        reader.start()
        while not any("waiting for another session that uses the kept topology reuse-test" in line for line in said):
            assert up.poll() is None, f"harness up did not wait: {''.join(said)}"
            threading.Event().wait(0.2)
        (pytester.path / "release").touch()
        first_output = first.communicate(timeout=300)[0]
        assert first.returncode == 0, first_output
        assert up.wait(timeout=300) == 0, "".join(said)
        reader.join(timeout=30)
        assert "  redis changed (environment): replacing it\n" in said
        assert {c["id"] for c in containers(docker_client, topology_file)}.isdisjoint(used)
    finally:
        for process in (first, up):
            if process is not None and process.poll() is None:
                process.kill()
