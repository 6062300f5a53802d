"""The pytest plugin as a user sees it: pytest runs in a subprocess with --topology."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import Topology, load_topology

from ..conftest import TOPOLOGIES, harness_resources

EXAMPLE = str(TOPOLOGIES / "example.yaml")
REDIS_ONLY = str(TOPOLOGIES / "redis-only.yaml")


def test_a_failing_test_shows_the_log_lines_each_service_wrote_during_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import urllib.request

        def test_passes(topology):
            urllib.request.urlopen(topology["greeter"].url + "/hello?first").read()

        def test_fails(topology):
            urllib.request.urlopen(topology["relay"].url + "/relay").read()
            assert False, "the relay answered"
    """)
    result = pytester.runpytest_subprocess("--topology", EXAMPLE, "--junitxml=junit.xml", "-o", "junit_logging=all")
    result.assert_outcomes(passed=1, failed=1)
    junit = ElementTree.parse(pytester.path / "junit.xml")
    system_out = junit.find(".//testcase[@name='test_fails']/system-out").text
    assert "relay: GET /relay -> 200" in system_out
    assert "[service relay]" in system_out and "[service greeter]" in system_out  # pytest joins the sections there
    output = result.stdout.str()
    assert "Captured log of service relay call" in output
    assert "Captured log of service greeter call" in output
    assert "relay: GET /relay -> 200" in output
    assert "greeter: GET /hello -> 200" in output
    failure = output.split("FAILURES")[1]
    if "/hello?first" in failure:  # the passing test's line, stamped late (under load): shown apart, as maybe its own
        early = failure.split("[stamped within 0.15 s of the end of test_")[1].split("[this test's lines]")[0]
        assert "/hello?first" in early
    assert " ready greeter" in result.stderr.str()  # progress while starting


def test_engine_unreachable_is_one_clear_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any test, one error with exit code 3 (environment), and JUnit has it as an <error>."""
    pytester.makepyfile("def test_a(topology): pass\ndef test_b(topology): pass\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-engine.sock")
    result = pytester.runpytest_subprocess("--topology", EXAMPLE, "--junitxml", "junit.xml")
    assert result.ret == 3
    errors = result.stderr.str() + result.stdout.str()
    assert errors.count("no Docker engine answers at DOCKER_HOST=unix:///tmp/no-engine.sock: No such file or "
                        "directory") == 1
    junit = (pytester.path / "junit.xml").read_text()
    assert 'errors="1"' in junit and "no Docker engine answers" in junit
    assert "Start Docker (`sudo systemctl start docker`, or open Docker Desktop)" in errors
    assert "ensure-engine.sh" not in errors  # outside this repository, a pip user has no such script
    assert "Traceback" not in errors + result.stdout.str()


DRIFT_TOPOLOGY = str(TOPOLOGIES.parent / "drift" / "topology-openapi30.yaml")  # openapi: a file next to it


def test_pact_drift_alone_needs_no_engine(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drift is static: with every document a file and no test needing the topology, no engine is asked."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-engine.sock")
    result = pytester.runpytest_subprocess("--topology", DRIFT_TOPOLOGY, "--pact-drift", "-p", "no:cacheprovider",
                                           "-v")
    result.assert_outcomes(passed=3)  # one item per interaction
    assert "::drift[web->catalog: a request for product 10] PASSED" in result.stdout.str()  # the drift verdict: clean
    assert "no Docker engine answers" not in result.stderr.str() + result.stdout.str()


def test_pact_drift_with_a_test_that_needs_the_topology_checks_the_engine_first(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_a(topology): pass\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-engine.sock")
    result = pytester.runpytest_subprocess("--topology", DRIFT_TOPOLOGY, "--pact-drift", "-p", "no:cacheprovider")
    assert result.ret == 3
    errors = result.stderr.str() + result.stdout.str()
    assert errors.count("no Docker engine answers at DOCKER_HOST=unix:///tmp/no-engine.sock: No such file or "
                        "directory") == 1
    assert "Traceback" not in errors + result.stdout.str()


def test_an_invalid_topology_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    topology = pytester.makefile(".yaml", topology="services:\n  web:\n    imag: nginx\n")
    pytester.makepyfile("def test_a(topology): pass\n")
    result = pytester.runpytest_subprocess("--topology", str(topology))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "topology.yaml:3: services.web.imag: unknown key 'imag' (did you mean 'image'?)" in result.stderr.str()


def test_a_topology_that_does_not_start_stops_the_session_with_its_error(pytester: pytest.Pytester,
                                                                          docker_client) -> None:  # noqa: ANN001
    topology = pytester.makefile(".yaml", topology="name: plugin-not-ready\nservices:\n  redis:\n    image: redis:7\n"
                                                   "    ready: {log: never printed}\n    timeout: 2\n")
    pytester.makepyfile("def test_a(topology): pass\ndef test_b(topology): pass\n")
    result = pytester.runpytest_subprocess("--topology", str(topology), "--junitxml=junit.xml")
    assert result.ret == 1  # a service that does not come up is a failure found (harness.errors)
    output = result.stdout.str()
    assert "service 'redis' was not ready after 2." in output
    assert output.count("ERROR at setup of") == 1  # one error for the topology, not one per test
    assert "Traceback" not in output + result.stderr.str()
    suite = ElementTree.parse(pytester.path / "junit.xml").find(".//testsuite")
    assert suite.get("errors") == "1" and suite.get("tests") == "1"  # not an empty, green-looking suite
    error = suite.find("testcase/error")
    assert "topology plugin-not-ready did not start" in error.get("message")
    assert "service 'redis' was not ready after 2." in error.text
    assert harness_resources(docker_client, "plugin-not-ready") == []


def test_an_invalid_image_reference_is_one_error_naming_the_service(pytester: pytest.Pytester,
                                                                    docker_client) -> None:  # noqa: ANN001
    topology = pytester.makefile(".yaml", topology="name: plugin-bad-ref\nservices:\n  api:\n"
                                                   "    image: Python:3.11-slim\n  db:\n    image: redis:7\n")
    pytester.makepyfile("def test_a(topology): pass\ndef test_b(topology): pass\n")
    result = pytester.runpytest_subprocess("--topology", str(topology))
    assert result.ret == 2  # a typo in the file: bad input, not an image to provide
    output = result.stdout.str()
    shown = output.split("short test summary info")[0]  # under CI=true the summary repeats whole messages
    assert shown.count("Python:3.11-slim (needed by service 'api'): invalid reference format") == 1
    assert "references are lower-case, [registry/]name[:tag]" in output
    assert "fix them in the topology file" in output
    assert "ensure-base-images.sh" not in output  # outside this repository
    assert "Traceback" not in output + result.stderr.str()
    assert harness_resources(docker_client, "plugin-bad-ref") == []


def test_the_fixture_without_a_topology_file_says_what_to_do(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(topology): pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the `topology` fixture needs a topology file: run pytest with --topology FILE*"])


def test_the_ini_key_names_the_topology(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\ntopology = {REDIS_ONLY}\n")
    pytester.makepyfile("def test_a(topology):\n    assert topology['redis'].port(6379) > 0\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_plugin_costs_nothing_without_topology() -> None:
    code = ("import sys, harness.pytest; "
            "print(sorted(m for m in ('docker', 'testcontainers', 'pydantic', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def session_inside_a_test(pytester: pytest.Pytester) -> subprocess.Popen:
    """A pytest session on REDIS_ONLY, returned once its test is running (the topology is up)."""
    pytester.makepyfile("""
        import time
        def test_hangs(topology):
            print("TOPOLOGY-UP", flush=True)
            time.sleep(120)
    """)
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-s", "--topology", REDIS_ONLY],
                               cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # type: ignore[union-attr]
        if "TOPOLOGY-UP" in line:
            return process
    raise AssertionError(f"the session ended before its test ran (exit code {process.wait()})")


# engine_wide: any start on the engine removes what a killed session left (as it should), so another worker's start
# between the kill and the look would leave nothing to look at
@pytest.mark.engine_wide
def test_a_killed_session_leaves_containers_that_the_next_run_removes(pytester: pytest.Pytester,
                                                                      docker_client) -> None:  # noqa: ANN001
    process = session_inside_a_test(pytester)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = harness_resources(docker_client, "redis-only")
    assert len(left) == 2  # the container and the network outlived their pytest process
    with Topology.start(load_topology(TOPOLOGIES / "example.yaml").model_copy(update={"name": "next-run"})):
        assert not set(left) & set(harness_resources(docker_client, "redis-only"))


def test_sigterm_tears_the_topology_down(pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    process = session_inside_a_test(pytester)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    assert harness_resources(docker_client, "redis-only") == []


def test_keep_then_cli_ps_logs_down(pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    # a copy: a kept run is found by its file, and another session (the other xdist worker) may run the original
    redis_only = str(pytester.path / "redis-only.yaml")
    shutil.copy(REDIS_ONLY, redis_only)
    pytester.makepyfile("def test_a(topology):\n    assert topology['redis'].url\n")
    result = pytester.runpytest_subprocess("--topology", redis_only, "--topology-keep")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*topology kept running*", "redis*http://127.0.0.1:*"])
    harness = str(Path(sys.executable).parent / "harness")
    try:
        ps = subprocess.run([harness, "ps"], capture_output=True, text=True, check=True).stdout
        assert "redis-only" in ps and "6379 ->" in ps and "true" in ps
        logs = subprocess.run([harness, "logs", "redis", "--topology", redis_only], capture_output=True, text=True)
        assert logs.returncode == 0 and "Ready to accept connections" in logs.stdout
    finally:
        down = subprocess.run([harness, "down", redis_only], capture_output=True, text=True)
    assert down.returncode == 0 and "removed 1 container(s)" in down.stdout
    assert harness_resources(docker_client, "redis-only", Path(redis_only)) == []
    # with the file: other sessions on a shared engine may run a 'redis' of their own
    missing = subprocess.run([harness, "logs", "redis", "--topology", redis_only], capture_output=True, text=True)
    assert missing.returncode == 2
    assert (f"no running service 'redis' in topology redis-only ({redis_only}); `harness ps` lists what is running"
            in missing.stderr)


def test_a_service_an_earlier_test_left_broken_is_restored_and_the_next_report_says_who(
        pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    dies_on_request = ("rm -f /tmp/die; python -m http.server 8000 & "
                       "while [ ! -f /tmp/die ]; do sleep 0.1; done; echo giving up now; exit 3")
    topology = pytester.makefile(".yaml", topology=f"""
name: plugin-restore
services:
  web:
    image: python:3.11-slim
    command: ["sh", "-c", "{dies_on_request}"]
    ports: [8000]
    ready: {{http: {{port: 8000, path: /}}}}
  peer:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ready: {{tcp: 8000}}
""")
    pytester.makepyfile("""
        import time
        import urllib.request

        def reach_web_from_peer(topology):
            code = "import urllib.request; urllib.request.urlopen('http://web:8000/', timeout=3)"
            assert topology["peer"].exec(["python", "-c", code]).exit_code == 0

        def test_1_pauses_web(topology):
            topology["web"].pause()

        def test_2_kills_peer(topology):
            topology["peer"].kill()

        def test_3_disconnects_web(topology):
            reach_web_from_peer(topology)
            topology["web"].disconnect()

        def test_4_web_dies_by_itself(topology):
            reach_web_from_peer(topology)
            topology["web"].exec(["touch", "/tmp/die"])
            deadline = time.monotonic() + 300  # a bound for a loaded machine, not a speed check
            while topology["web"].status == "running":
                assert time.monotonic() < deadline, "web never exited"
                time.sleep(0.05)

        def test_5_everything_works(topology):
            urllib.request.urlopen(topology["web"].url, timeout=3).read()
            reach_web_from_peer(topology)
    """)
    result = pytester.runpytest_subprocess("--topology", str(topology), "-rA")
    result.assert_outcomes(passed=5)
    output = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*Captured topology restored setup*", "after test_*.py::test_1_pauses_web:",
        "- web was left paused (.pause()): unpaused it"])
    assert "- peer was left killed (.kill('SIGKILL')): started it again (ready in" in output
    assert "- web was left disconnected (.disconnect()): reconnected it" in output
    assert "- web died (exit code 3): started it again (ready in" in output and "  | giving up now" in output
    assert "s); its last log lines:" in output
    assert harness_resources(docker_client, "plugin-restore") == []


def test_a_service_removed_from_outside_fails_the_later_tests_naming_who_removed_it(
        pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    topology = pytester.makefile(".yaml", topology="name: plugin-removed\nservices:\n  redis:\n    image: redis:7\n"
                                                   "    ready: {tcp: 6379}\n")
    pytester.makepyfile("""
        import docker

        def test_1_removes_redis(topology):
            docker.from_env().containers.get(topology["redis"].container.id).remove(force=True)

        def test_2(topology):
            pass

        def test_3(topology):
            pass
    """)
    result = pytester.runpytest_subprocess("--topology", str(topology))
    result.assert_outcomes(passed=1, errors=2)
    output = result.stdout.str()
    shown = output.split("short test summary info")[0]  # under CI=true the summary repeats whole messages
    assert shown.count("could not be restored after ") == shown.count(".py::test_1_removes_redis:") == 2
    assert "service 'redis' of topology plugin-removed is gone from the engine" in output
    assert "During handling of the above exception" not in output and "Traceback" not in output
    assert harness_resources(docker_client, "plugin-removed") == []


def test_a_job_that_ended_well_is_not_run_again_between_tests(pytester: pytest.Pytester) -> None:
    """A seed job's exit 0 is how it was started: the restore before each test must not redo its work."""
    pytester.makefile(".yaml", topology="""
        name: plugin-job
        services:
          redis:
            image: redis:7
            ports: [6379]
            ready: {tcp: 6379}
          seed:
            image: redis:7
            job: true
            command: ["redis-cli", "-h", "redis", "INCR", "seeded"]
            depends_on: [redis]
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_seeded_once(topology, n):
            assert topology["redis"].exec(["redis-cli", "GET", "seeded"]).output.strip() == "1"
    """)
    result = pytester.runpytest_subprocess("--topology", "topology.yaml")
    result.assert_outcomes(passed=3)
    assert "topology restored" not in result.stdout.str()


def test_a_failing_pre_stop_hook_fails_the_session_after_removing_the_topology(pytester: pytest.Pytester,
                                                                              docker_client) -> None:  # noqa: ANN001
    topology = pytester.path / "compose.yaml"
    topology.write_text("name: prestopsession\nservices:\n  app:\n    image: redis:7\n"
                        "    command: [sleep, infinity]\n    pre_stop:\n"
                        "      - command: [sh, -c, 'echo flushing failed; exit 5']\n")
    pytester.makepyfile("def test_a(topology):\n    assert topology['app'].status == 'running'\n")
    result = pytester.runpytest_subprocess("--topology", str(topology), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert result.ret == 1  # as `docker compose down` exits 1
    output = result.stdout.str()
    assert "pre_stop hooks that failed (the topology was removed)" in output
    assert "- service 'app': its pre_stop hook ['sh', '-c', 'echo flushing failed; exit 5'] exited with 5:" in output
    assert "Traceback" not in output + result.stderr.str()
    assert harness_resources(docker_client, "prestopsession") == []
