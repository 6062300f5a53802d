"""Negative fuzzing (tests/topologies/fuzz-negative.yaml): a service that accepts input its spec forbids is reported,
with the check and the curl, by `harness fuzz --mode negative`, by a service's own `fuzz: {mode: negative}` and by
`pytest --fuzz --fuzz-mode negative`; one that validates passes; a written exclusion is honoured and shown. The
harness reports the same failures as plain `st run --mode negative` on the same service, seed, checks and examples."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import Topology, load_topology

from ..conftest import TOPOLOGIES, fresh_examples, service_report

BIN = Path(sys.executable).parent
NEGATIVE = TOPOLOGIES / "fuzz-negative.yaml"
SEED, EXAMPLES = "1", "20"
ACCEPTED = "Schema-violating request accepted"  # schemathesis' title of a negative_data_rejection failure
FINDING = re.compile(r"^  (?:ERROR )?(?P<operation>.+?): (?P<title>.+) \((?P<check>[a-z_]+)(?: \[ST\d+\])?(?:, [^)]*)?\)$")


def harness_fuzz(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "harness"), "fuzz", "--topology", str(NEGATIVE), "--seed", SEED,
                           "--max-examples", EXAMPLES, *args], capture_output=True, text=True, timeout=300)


def harness_failures(report: str) -> set[tuple[str, str]]:
    """(operation, title) of every finding of a service's report; a sequence's finding under its operation."""
    found = set()
    for line in report.splitlines():
        if match := FINDING.match(line):
            operation = match["operation"].removeprefix("stateful (").removesuffix(")")
            found.add((operation, match["title"]))
    return found


def st_failures(url: str, cwd: Path) -> tuple[set[tuple[str, str]], str]:
    """(operation, title) of every failure plain `st run --mode negative` reports, with its default checks, the seed
    and the examples; and its output."""
    result = subprocess.run([str(BIN / "st"), "run", f"{url}/openapi.json", "-n", EXAMPLES, "--seed", SEED, "-m",
                             "negative", "--generation-database", fresh_examples(cwd), "--no-color"],
                            capture_output=True, text=True, timeout=300, cwd=cwd)
    found, operation = set(), ""
    for line in result.stdout.split("=== FAILURES ===", 1)[-1].splitlines():
        if header := re.fullmatch(r"_+ (.+?) _+", line):
            operation = header[1]
        elif failure := re.fullmatch(r"- (?:ST\d+ )?(.+)", line):
            found.add((operation, failure[1].strip()))
    return found, result.stdout


@pytest.fixture(scope="module")
def running() -> Topology:
    """The topology, started once; `harness fuzz` and the pytest run use it (a running topology is reused)."""
    with Topology.start(load_topology(NEGATIVE), shared=True) as topology:  # as `harness up` shares it
        yield topology


@pytest.fixture(scope="module")
def negative_run(running: Topology) -> subprocess.CompletedProcess:
    return harness_fuzz("--mode", "negative", "--service", "strict", "--service", "lax")


@pytest.fixture(scope="module")
def settings_run(running: Topology, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess,
                                                                                         Path]:
    junit = tmp_path_factory.mktemp("fuzz-negative") / "fuzz.xml"
    return harness_fuzz("--junit", str(junit)), junit


def test_mode_negative_reports_input_accepted_against_the_spec_with_the_check_and_the_curl(
        negative_run: subprocess.CompletedProcess, running: Topology) -> None:
    assert negative_run.returncode == 1, negative_run.stderr
    lax = service_report(negative_run.stderr, "lax")
    assert lax.startswith(f"FAILED lax at {running['lax'].url}: 3 operation(s), ")
    assert ", seed 1, mode negative, " in lax and lax.splitlines()[0].endswith(": 1 failure(s), 0 error(s)")
    assert f"  POST /items: {ACCEPTED} (negative_data_rejection [ST201], coverage" in lax
    assert "Invalid component: Missing request body" in lax and "[201] Created:" in lax  # schemathesis' detail
    assert f"    reproduce: curl -X POST {running['lax'].url}/items" in lax
    assert (f"  same seed and options: harness fuzz --topology {NEGATIVE} --seed 1 --service strict --service lax "
            "--mode negative --max-examples 20 (not a reproduction: ") in lax  # the module's running topology


def test_a_service_that_validates_its_input_passes_a_negative_run(negative_run: subprocess.CompletedProcess) -> None:
    strict = service_report(negative_run.stderr, "strict")
    assert strict.startswith("passed strict at ") and ", seed 1, mode negative, " in strict
    assert harness_failures(strict) == set()


@pytest.mark.parametrize("service", ["lax", "strict"])
def test_negative_failures_are_those_of_plain_st_run(negative_run: subprocess.CompletedProcess, running: Topology,
                                                      service: str, tmp_path: Path) -> None:
    plain, output = st_failures(running[service].url, tmp_path)
    assert harness_failures(service_report(negative_run.stderr, service)) == plain, output
    assert plain == ({("POST /items", ACCEPTED)} if service == "lax" else set()), output  # the comparison compares


def test_a_services_own_mode_setting_makes_its_run_negative(settings_run) -> None:  # noqa: ANN001
    result, _ = settings_run
    assert result.returncode == 1
    setting = service_report(result.stderr, "lax-setting")
    assert ", seed 1, mode negative, " in setting and ": 1 failure(s)" in setting
    assert harness_failures(setting) == {("POST /items", ACCEPTED)}
    positive = service_report(result.stderr, "lax")  # the same service set to valid data only
    assert positive.startswith("passed lax at ") and ", seed 1, mode positive, " in positive


def test_a_written_exclusion_of_the_negative_check_is_honoured_and_said(settings_run) -> None:  # noqa: ANN001
    result, junit = settings_run
    excluded = service_report(result.stderr, "lax-excluded")
    assert excluded.startswith("passed lax-excluded at ") and ", seed 1, mode negative, " in excluded
    assert "  excluded negative_data_rejection: this service stores whatever it is sent, on purpose" in excluded
    cases = {c.get("name"): c for c in ElementTree.parse(junit).getroot().iter("testcase")}
    skipped = cases["fuzz[lax-excluded excluded negative_data_rejection]"].find("skipped")
    assert skipped is not None and skipped.get("message").startswith("excluded: this service stores whatever")
    assert cases["fuzz[lax-setting POST /items]"].find("failure") is not None
    assert cases["fuzz[lax-excluded POST /items]"].find("failure") is None


def test_pytest_fuzz_mode_negative_reports_the_service_and_skips_the_exclusion(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--topology", str(NEGATIVE), "--fuzz", "--fuzz-mode", "negative",
                                           "--fuzz-service", "lax", "--fuzz-service", "strict", "--fuzz-service",
                                           "lax-excluded", "--fuzz-seed", SEED, "--fuzz-max-examples", EXAMPLES,
                                           "-v", "-rs")
    output = result.stdout.str()
    assert "fuzz[lax POST /items] FAILED" in output
    assert f"POST /items: {ACCEPTED} (negative_data_rejection [ST201], coverage" in output
    assert re.search(r"reproduce: curl -X POST http://127\.0\.0\.1:\d+/items$", output, re.MULTILINE)
    assert ("--fuzz-seed 1 --fuzz-service strict --fuzz-service lax --fuzz-mode negative --fuzz-max-examples 20"
            in output)  # in the topology's order, strict before lax
    assert "fuzz[strict POST /items] PASSED" in output and "fuzz[lax-excluded POST /items] PASSED" in output
    assert "excluded: this service stores whatever it is sent, on purpose" in output
    # lax, strict, lax-excluded: the service, 3 operations and the sequences each; and the exclusion
    result.assert_outcomes(failed=1, passed=14, skipped=1)
