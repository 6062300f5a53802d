"""The pytest front-end follows the CLI's rules: the same pact folder for --pact-drift as `harness drift --pacts`, and no
feature that would check nothing while the run looks green."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[3]
DRIFT_INPUTS = ROOT / "tests" / "drift"


def drift_project(root: Path) -> Path:
    """The drift inputs with two pact folders: pacts/ (contracts.pacts, one interaction drifts) and alt/ (clean)."""
    for name in ("topology-openapi30.yaml", "catalog-openapi30.yaml"):
        shutil.copy(DRIFT_INPUTS / name, root / name)
    pact = json.loads((DRIFT_INPUTS / "pacts" / "web-catalog.json").read_text())
    (root / "alt").mkdir()
    (root / "alt" / "web-catalog.json").write_text(json.dumps(pact))
    pact["interactions"][1]["response"]["body"]["colour"] = "red"  # not in the spec: a drift
    (root / "pacts").mkdir()
    (root / "pacts" / "web-catalog.json").write_text(json.dumps(pact))
    return root / "topology-openapi30.yaml"


@pytest.mark.parametrize("flag", ["--pacts", "--pact-dir"])
def test_pact_drift_checks_the_folder_it_is_given_as_harness_drift_does(flag: str, pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\n")
    topology = drift_project(pytester.path)
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-drift", flag, "alt", "-rA",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)  # alt/ is clean; pacts/ (with the drift) is not checked
    monkeypatch.chdir(pytester.path)
    assert main(["drift", "--topology", str(topology), "--pacts", "alt"]) == 0
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-drift", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)  # without a folder: contracts.pacts, as `harness drift`
    assert main(["drift", "--topology", str(topology)]) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--pact-verify"], "--pact-verify needs a topology to verify the pacts against: run pytest with --topology FILE "
                        "(or set the ini key `topology`)"),
    (["--pact-drift"], "--pact-drift needs a topology whose pacts and OpenAPI documents to check: run pytest with "
                       "--topology FILE (or set the ini key `topology`)"),
    (["--fuzz"], "--fuzz needs a topology to fuzz: run pytest with --topology FILE (or set the ini key `topology`)"),
    (["--pacts", "contracts"], "--pacts contracts names the folder --pact-verify verifies and --pact-drift checks, "
                               "and neither is given: add one (or leave --pacts out)"),
    (["--fuzz-seed", "1"], "--fuzz-seed is an option of --fuzz, and --fuzz is not given: add it (or leave the option "
                           "out)"),
])
def test_a_feature_that_would_check_nothing_is_a_usage_error(args: list[str], message: str,
                                                             pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: {message}"


def test_an_invalid_ini_value_names_its_key_and_file(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\ntopology_reuse = maybe\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: {ini}: ini topology_reuse: invalid truth value 'maybe'"


def test_an_invalid_ini_value_of_the_table_names_its_file(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\ntopology_report = out/run.txt\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (f"ERROR: {ini}: ini topology_report: the report page is one HTML file; give a "
                                      "name ending in .html, e.g. out/run.html, not 'out/run.txt'")
