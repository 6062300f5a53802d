"""Fuzz baselines: `harness fuzz --baseline FILE` reads and writes schemathesis' own baseline file, so a baseline
written by `st run --baseline` is accepted here and one written here is accepted by `st run`, with the same verdicts
(tests/topologies/buggy.yaml: a planted 500 on GET /fraction/{n}, a planted schema violation on GET /stats)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import Topology, load_topology

from ..conftest import TOPOLOGIES, fresh_examples, write_topology

BIN = Path(sys.executable).parent
SEED, EXAMPLES = "3", "10"
SERVER_ERROR, BOTH = "not_a_server_error", "not_a_server_error,response_schema_conformance"


@pytest.fixture(scope="module")
def buggy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The buggy service running (shared: `harness fuzz` uses it, as one `harness up` started), and its topology."""
    folder = tmp_path_factory.mktemp("baseline")
    topology = write_topology(folder, (TOPOLOGIES / "buggy.yaml").read_text()
                              .replace("name: buggy", f"name: buggy-baseline-{os.getpid()}")
                              .replace("build: ./buggy-app", f"build: {TOPOLOGIES / 'buggy-app'}"))
    with Topology.start(load_topology(topology), shared=True) as running:
        yield topology, running["buggy"].url


def harness_fuzz(topology: Path, checks: str, baseline: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "harness"), "fuzz", "--topology", str(topology), "--seed", SEED,
                           "--max-examples", EXAMPLES, "--phases", "examples,coverage,fuzzing", "--checks", checks,
                           "--baseline", str(baseline), *args], capture_output=True, text=True, timeout=600)


def st_run(url: str, checks: str, baseline: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "st"), "run", f"{url}/openapi.json", "-n", EXAMPLES, "--seed", SEED,
                           "--phases", "examples,coverage,fuzzing", "--checks", checks, "--baseline", str(baseline),
                           "--generation-database", fresh_examples(cwd), "--no-color"],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def entries(baseline: Path) -> set[tuple[str, str, str]]:
    return {(e["operation"], e["check"], e["failure"]) for e in json.loads(baseline.read_text())["entries"]}


def test_a_written_baseline_accepts_its_failure_and_a_new_one_fails(buggy: tuple[Path, str], tmp_path: Path) -> None:
    topology, url = buggy
    baseline = tmp_path / "baseline.json"
    first = harness_fuzz(topology, SERVER_ERROR, baseline)
    assert first.returncode == 1, first.stderr  # a file that does not exist is written, its failures are new
    written = json.loads(baseline.read_text())
    assert written["format_version"] == 1
    assert ("GET /fraction/{n}", SERVER_ERROR, "ServerError") in entries(baseline)
    assert all(entry["service"] == "buggy" for entry in written["entries"])
    assert "written: " in first.stderr and " recorded" in first.stderr

    junit = tmp_path / "fuzz.xml"
    second = harness_fuzz(topology, BOTH, baseline, "--junit", str(junit))
    assert second.returncode == 1, second.stderr  # the schema violation is new
    report = second.stderr
    assert "accepted GET /fraction/{n}: Server error (not_a_server_error [ST101], baseline entry " in report
    assert "  GET /stats: Response violates schema (response_schema_conformance [ST108]" in report
    assert "accepted by the baseline" in report
    cases = {case.get("name"): case for case in ElementTree.parse(junit).getroot()}
    fraction, stats = cases["fuzz[buggy GET /fraction/{n}]"], cases["fuzz[buggy GET /stats]"]
    assert fraction.find("failure") is None and fraction.find("skipped") is None  # accepted: a pass
    assert "[ST101], baseline entry" in (fraction.findtext("system-out") or "")
    assert "[ST108]" in (stats.find("failure").get("message") or "")

    # the same file, the same verdicts from `st run`: the accepted 500 passes, the schema violation fails
    assert st_run(url, SERVER_ERROR, baseline, tmp_path).returncode == 0
    plain = st_run(url, BOTH, baseline, tmp_path)
    assert plain.returncode == 1 and "ST108" in plain.stdout, plain.stdout


def test_a_baseline_written_by_st_run_is_accepted(buggy: tuple[Path, str], tmp_path: Path) -> None:
    topology, url = buggy
    baseline = tmp_path / "st-baseline.json"
    plain = st_run(url, BOTH, baseline, tmp_path)
    assert plain.returncode == 1 and baseline.exists(), plain.stdout
    assert {("GET /fraction/{n}", SERVER_ERROR, "ServerError"),
            ("GET /stats", "response_schema_conformance", "JsonSchemaError")} <= entries(baseline)
    run = harness_fuzz(topology, BOTH, baseline)
    assert run.returncode == 0, run.stderr
    assert "accepted GET /stats: Response violates schema (response_schema_conformance [ST108]" in run.stderr
    assert f"baseline {baseline}: " in run.stderr


def test_update_and_prune_follow_st_run(buggy: tuple[Path, str], tmp_path: Path) -> None:
    """An entry whose failure the run does not find on an operation it tested is listed as not reproduced and
    pruned with --baseline-prune; --baseline-update adds the new failures."""
    topology, _ = buggy
    baseline = tmp_path / "baseline.json"
    fixed = {"operation": "GET /stats", "check": SERVER_ERROR, "failure": "ServerError", "signature": "500"}
    baseline.write_text(json.dumps({"format_version": 1, "entries": [fixed]}))
    run = harness_fuzz(topology, SERVER_ERROR, baseline, "--baseline-update", "--baseline-prune")
    assert "1 not reproduced" in run.stderr and "GET /stats: not_a_server_error (ServerError)" in run.stderr
    assert "1 pruned" in run.stderr
    assert ("GET /stats", SERVER_ERROR, "ServerError") not in entries(baseline)
    assert ("GET /fraction/{n}", SERVER_ERROR, "ServerError") in entries(baseline)
    assert run.returncode == 1  # the failures it recorded were new to this run


def test_a_baseline_that_is_not_one_is_refused_before_anything_starts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 9, "entries": []}')
    run = harness_fuzz(TOPOLOGIES / "buggy.yaml", SERVER_ERROR, bad)
    assert run.returncode == 2
    assert f"--baseline {bad}: not a schemathesis baseline file: Unsupported baseline format version 9" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_pytest_fuzz_baseline_gives_the_same_verdicts(buggy: tuple[Path, str], tmp_path: Path,
                                                      pytester: pytest.Pytester, workers: list[str]) -> None:
    """The file is read where the items run and settled once, by the xdist controller, which has every result."""
    topology, url = buggy
    baseline = tmp_path / "st-baseline.json"
    assert st_run(url, SERVER_ERROR, baseline, tmp_path).returncode == 1  # st run writes the 500 as accepted
    result = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--fuzz-seed", SEED,
                                           "--fuzz-max-examples", EXAMPLES, "--fuzz-phases", "examples,coverage,fuzzing",
                                           "--fuzz-checks", BOTH, "--fuzz-baseline", str(baseline), "-rA",
                                           "-p", "no:cacheprovider", *workers)
    out = result.stdout.str()
    assert result.ret == 1, out
    assert "PASSED" in out and "fuzz[buggy GET /fraction/{n}]" in out
    assert "accepted GET /fraction/{n}: Server error (not_a_server_error [ST101], baseline entry " in out
    assert "FAILED" in out and "fuzz[buggy GET /stats]" in out and "[ST108]" in out
    assert f"baseline {baseline}: " in out
