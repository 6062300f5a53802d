"""Fuzzing finds the three bugs planted in the tests' own buggy service, and reports them so they can be redone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ..conftest import FUZZ_CALM, FUZZ_CALM_PYTEST, TOPOLOGIES, write_topology

HARNESS = str(Path(sys.executable).parent / "harness")
BUGGY_APP = TOPOLOGIES / "buggy-app"


def fuzz(topology: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, "fuzz", "--topology", str(topology), *FUZZ_CALM, *args], capture_output=True,
                          text=True, timeout=300)


# Topology names of this process's own: `harness fuzz` reuses a running topology of the same name, and other test
# sessions on the machine may run these same tests at the same time.
UNIQUE = f"{os.getpid()}"


@pytest.fixture(scope="module")
def buggy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    topology = write_topology(folder, (TOPOLOGIES / "buggy.yaml").read_text()
                              .replace("name: buggy", f"name: buggy-{UNIQUE}")
                              .replace("build: ./buggy-app", f"build: {BUGGY_APP}"))
    junit = folder / "fuzz.xml"
    return fuzz(topology, "--junit", str(junit)), junit


def test_the_three_planted_bugs_are_found_with_the_default_settings(buggy_run) -> None:  # noqa: ANN001
    result, _ = buggy_run
    assert result.returncode == 1
    report = result.stderr
    assert "GET /fraction/{n}: Server error (not_a_server_error" in report  # 1. an edge-case input
    assert "GET /stats: Response violates schema (response_schema_conformance" in report  # 2. its own schema
    # 3. an item that exists: schemathesis reuses the ids POST /items answered (coverage phase on), and the stateful
    # sequences reach it too; one finding, listing the phases
    bug3 = report.split("GET /items/{id}: Server error (not_a_server_error [ST101], ", 1)[1].split("\n", 1)[0]
    assert "stateful" in bug3 and report.count("  GET /items/{id}: Server error") == 1


def test_each_failure_can_be_redone(buggy_run) -> None:  # noqa: ANN001
    result, _ = buggy_run
    report = result.stderr
    assert "reproduce: curl -X GET http://127.0.0.1:" in report and "/fraction/100" in report
    assert re.search(r"reproduce: curl -X GET http://127\.0\.0\.1:\d+/items/[0-9a-f-]{36}\n", report)
    # the health checks turned off are in it: they change what a run reports
    assert re.search(r"^  rerun with: harness fuzz --topology \S+\.yaml --seed \d+ --service buggy "
                     r"--suppress-health-check too_slow,data_too_large$", report, re.MULTILINE), report
    assert "the service's log for it:\n      | buggy: GET /stats -> 200" in report


def test_the_run_ends_with_a_line_per_failing_operation_and_check_then_the_counts(buggy_run) -> None:  # noqa: ANN001
    result, _ = buggy_run
    lines = result.stderr.splitlines()
    closing = [line for line in lines if line.startswith("FAILED buggy ") and not line.startswith("FAILED buggy at ")]
    assert lines[-len(closing) - 1:] == [*closing, f"fuzzed 1 service(s): 0 passed, 1 failed; {len(closing)} "
                                                   "failure(s), 0 error(s)"]
    assert {"FAILED buggy GET /fraction/{n}: Server error (not_a_server_error [ST101])",
            "FAILED buggy GET /items/{id}: Server error (not_a_server_error [ST101])",
            "FAILED buggy GET /stats: Response violates schema (response_schema_conformance [ST108])"} <= set(closing)
    for line in closing:  # each the headline of a finding reported above, once
        headline = "  " + line.removeprefix("FAILED buggy ").removesuffix(")")
        assert sum(reported.startswith(headline) for reported in lines) == 1, headline


def test_a_misspelt_service_is_refused_with_the_name_meant(buggy_run) -> None:  # noqa: ANN001
    _, junit = buggy_run
    refused = fuzz(junit.parent / "topology.yaml", "--service", "bugy")
    assert refused.returncode == 2
    assert f"nothing to fuzz: bugy: not a service of topology buggy-{UNIQUE} with `openapi:` (did you mean " \
           "'buggy'?) (services with one: buggy)" in refused.stderr


def test_a_running_topology_is_fuzzed_with_a_note_that_its_state_decides_and_no_rerun_hint(tmp_path: Path) -> None:
    topology = write_topology(tmp_path, (TOPOLOGIES / "buggy.yaml").read_text()
                              .replace("name: buggy", f"name: buggy-up-{UNIQUE}")
                              .replace("build: ./buggy-app", f"build: {BUGGY_APP}"))
    up = subprocess.run([HARNESS, "up", "--topology", str(topology), "--detach"], capture_output=True, text=True,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        result = fuzz(topology, "--seed", "3", "--max-examples", "5", "--phases", "examples,coverage")
        assert result.returncode == 1, result.stderr
        down = f"harness down --topology {topology}"
        assert (f"note: topology buggy-up-{UNIQUE} was already running: what fuzzing finds depends on the state "
                f"earlier runs left in its services, so identical runs can find different things; `{down}` first to "
                "fuzz a fresh one (reproducible)") in result.stderr.splitlines()
        assert "rerun with:" not in result.stderr
        assert (f"  same seed and options: harness fuzz --topology {topology} --seed 3 --service buggy --phases "
                f"examples,coverage --max-examples 5 --suppress-health-check too_slow,data_too_large (not a "
                f"reproduction: this run used a topology that was already running, whose state earlier runs left; "
                f"`{down}` first for a fresh one)") in result.stderr
    finally:
        subprocess.run([HARNESS, "down", "--topology", str(topology)], capture_output=True, timeout=300, check=True)


def test_junit_has_a_case_per_operation_and_the_stateful_run(buggy_run) -> None:  # noqa: ANN001
    _, junit = buggy_run
    cases = {case.get("name"): case.find("failure") is not None
             for case in ElementTree.parse(junit).getroot().iter("testcase")}
    # named as pytest's items; the sequences' failure is GET /items/{id}'s, reported once (with the phases that saw it)
    assert cases == {"fuzz[buggy setup]": False, "fuzz[buggy GET /fraction/{n}]": True, "fuzz[buggy GET /stats]": True,
                     "fuzz[buggy POST /items]": False, "fuzz[buggy GET /items/{id}]": True,
                     "fuzz[buggy stateful]": False}
    # each case has its share of the run, from schemathesis' own times (it was all on the setup case, 0.000 after)
    times = {case.get("name"): float(case.get("time")) for case in ElementTree.parse(junit).getroot().iter("testcase")}
    assert all(seconds > 0 for name, seconds in times.items() if name != "fuzz[buggy setup]"), times


def test_a_check_excluded_with_a_reason_is_not_run(tmp_path: Path) -> None:
    topology = write_topology(tmp_path, f"""
name: buggy-excluded-{UNIQUE}
services:
  buggy:
    build: {BUGGY_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
    fuzz:
      exclude:
        - check: response_schema_conformance
          reason: the stats count is a string on purpose in this test
""")
    result = fuzz(topology, "--phases", "examples,coverage", "--max-examples", "10")
    assert "GET /stats" not in result.stderr
    assert "GET /fraction/{n}: Server error" in result.stderr


def test_a_spec_that_cannot_be_loaded_is_one_clear_error(tmp_path: Path) -> None:
    topology = write_topology(tmp_path, f"""
name: buggy-nospec-{UNIQUE}
services:
  buggy:
    build: {BUGGY_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /no-such-spec.json
""")
    result = fuzz(topology)
    assert result.returncode == 2  # bad input: `openapi:` names no document
    assert "error: service 'buggy': cannot load its OpenAPI document from http://127.0.0.1:" in result.stderr
    assert "/no-such-spec.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_pytest_fuzz_gives_a_test_per_operation_and_one_for_the_stateful_run(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--topology", str(TOPOLOGIES / "buggy.yaml"), "--fuzz", "-v",
                                           *FUZZ_CALM_PYTEST, "-k", "not POST")
    result.assert_outcomes(failed=3, passed=2, deselected=1)
    output = result.stdout.str()
    for name in ("fuzz[buggy GET /fraction/{n}]", "fuzz[buggy GET /stats]", "fuzz[buggy GET /items/{id}]"):
        assert f"{name} FAILED" in output
    # nothing about the service as a whole; the sequences' failure is GET /items/{id}'s, reported there once
    assert "fuzz[buggy setup] PASSED" in output and "fuzz[buggy stateful] PASSED" in output
    assert "reproduce: curl -X GET http://127.0.0.1:" in output
    assert re.search(r"^  rerun with: pytest .*--topology \S+buggy\.yaml --fuzz -v -k 'not POST' --fuzz-seed \d+ "
                     r"--fuzz-service buggy --fuzz-suppress-health-check too_slow,data_too_large$", output,
                     re.MULTILINE), output

    # a fuzz item's node id (with "/", "{" and spaces in it) selects that item when given back
    node_id = f"{os.path.relpath(TOPOLOGIES / 'buggy.yaml', pytester.path)}::fuzz[buggy GET /fraction/{{n}}]"
    one = pytester.runpytest_subprocess("--topology", str(TOPOLOGIES / "buggy.yaml"), "--fuzz", "-v",
                                        *FUZZ_CALM_PYTEST, node_id)
    one.assert_outcomes(failed=1, deselected=5)
    assert f"{node_id} FAILED" in one.stdout.str()
    assert "collected 6 items / 5 deselected / 1 selected" in one.stdout.str()  # as -k counts


def test_an_auth_hook_from_the_topology_is_called(tmp_path: Path) -> None:
    (tmp_path / "buggy_auth.py").write_text(
        "from pathlib import Path\n"
        "def headers(topology):\n"
        f"    Path({str(tmp_path / 'called')!r}).write_text(topology['buggy'].url)\n"
        "    return {'X-Api-Key': 'secret'}\n")
    topology = write_topology(tmp_path, f"""
name: buggy-hook-{UNIQUE}
services:
  buggy:
    build: {BUGGY_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
    auth:
      hook: buggy_auth:headers
""")
    result = subprocess.run([HARNESS, "fuzz", "--topology", str(topology), "--phases", "coverage",
                             "--max-examples", "2"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert "FAILED buggy" in result.stderr, result.stderr
    assert (tmp_path / "called").read_text().startswith("http://127.0.0.1:")


def junit_shapes(file: Path) -> list[tuple[str, str, str]]:
    """(classname, name, outcome) of every JUnit case, sorted; an <error> counted as a failure (pytest reports what
    fails in a test's call as a failure)."""
    shapes = []
    for case in ElementTree.parse(file).getroot().iter("testcase"):
        outcome = next((tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None), "passed")
        shapes.append((case.get("classname", ""), case.get("name", ""), "failure" if outcome == "error" else outcome))
    return sorted(shapes)


def test_one_fuzz_run_has_one_junit_shape_from_both_front_ends(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`pytest --fuzz --junitxml` and `harness fuzz --junit` with one seed on a fresh topology, run from the project's
    folder (pytest's rootdir): the same cases, named and classed as pytest's items, with the same outcomes. The
    session has schemathesis' and hypothesis' own pytest plugins loaded, as a user's with the [all] extra has."""
    monkeypatch.delenv("PYTEST_ADDOPTS")  # tests/conftest.py leaves them out of the other tests' sessions
    pytester.makeini("[pytest]\n")
    (pytester.path / "shop").mkdir()
    topology = write_topology(pytester.path / "shop", (TOPOLOGIES / "buggy.yaml").read_text()
                              .replace("name: buggy", f"name: buggy-shapes-{UNIQUE}")
                              .replace("build: ./buggy-app", f"build: {BUGGY_APP}"))
    result = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--fuzz-seed", "7",
                                           "--fuzz-max-examples", "10", *FUZZ_CALM_PYTEST, "--junitxml=pytest.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    plugins = next(line for line in result.outlines if line.startswith("plugins: "))
    assert "schemathesis-" in plugins and "hypothesis-" in plugins, plugins
    cli = subprocess.run([HARNESS, "fuzz", "--topology", str(topology), "--seed", "7", "--max-examples", "10",
                          *FUZZ_CALM, "--junit", "cli.xml"], capture_output=True, text=True, timeout=300, cwd=pytester.path)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    from_pytest = junit_shapes(pytester.path / "pytest.xml")
    assert junit_shapes(pytester.path / "cli.xml") == from_pytest
    assert {(classname, name) for classname, name, _ in from_pytest} >= {
        ("shop.topology.yaml", "fuzz[buggy setup]"), ("shop.topology.yaml", "fuzz[buggy GET /stats]"),
        ("shop.topology.yaml", "fuzz[buggy stateful]")}
    assert ("shop.topology.yaml", "fuzz[buggy GET /stats]", "failure") in from_pytest  # its planted bug
