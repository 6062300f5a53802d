"""Which mode and checks a service's fuzzing run uses: the command line, else the service's `fuzz:`, else defaults;
written exclusions always apply."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from harness.errors import TopologyFileError
from harness.fuzz.engine import st_run_defaults
from harness.fuzz.options import FuzzOptions, checks_for, mode_for, phases_for, run_settings
from harness.model.service import ServiceSpec

DEFAULTS = st_run_defaults()
FLAGS = {"checks": "--checks", "phases": "--phases", "max_examples": "--max-examples",
         "suppress_health_check": "--suppress-health-check"}


def service(**fuzz: object) -> ServiceSpec:
    return ServiceSpec.model_validate({"image": "x", "openapi": "/openapi.json", "fuzz": fuzz})


def test_st_runs_defaults_are_read_from_the_installed_schemathesis() -> None:
    """Those of schemathesis 4.x: both modes, every check it enables by default (invalid input accepted included),
    every phase."""
    from schemathesis.checks import CHECKS

    assert DEFAULTS.mode == "all"
    assert "negative_data_rejection" in DEFAULTS.checks and "not_a_server_error" in DEFAULTS.checks
    assert set(DEFAULTS.checks) <= set(CHECKS.get_all_names())
    assert "max_response_time" not in DEFAULTS.checks  # it needs a limit: off unless `st run` is given one
    assert DEFAULTS.phases == DEFAULTS.phase_names == ["examples", "coverage", "fuzzing", "stateful"]


def test_the_mode_is_st_runs_unless_the_service_or_the_command_line_says_otherwise() -> None:
    assert mode_for(service()) == DEFAULTS.mode
    assert mode_for(service(mode="negative")) == "negative"
    assert mode_for(service(mode="negative"), "all") == "all"
    assert mode_for(service(mode="positive"), None) == "positive"


def test_the_phases_are_st_runs_unless_chosen() -> None:
    assert phases_for() == DEFAULTS.phases
    assert phases_for(["coverage"]) == ["coverage"]


def test_a_runs_settings_say_which_are_st_runs_defaults() -> None:
    settings, defaults = run_settings(FuzzOptions(mode="negative"))
    assert settings == {"mode": "negative", "checks": ",".join(DEFAULTS.checks), "phases": ",".join(DEFAULTS.phases)}
    assert defaults == ["checks", "phases"]


def test_the_options_that_decide_the_data_are_those_given() -> None:
    assert FuzzOptions().given() == {}
    assert FuzzOptions(mode="positive", checks=["a", "b"], phases=["coverage"], max_examples=7, workers=2,
                       seed=3).given() == {"mode": "positive", "checks": "a,b", "phases": "coverage",
                                           "max_examples": "7", "workers": "2"}
    # it changes what a run reports (an operation Hypothesis finds too slow to generate is an error, or is fuzzed)
    assert FuzzOptions(suppress_health_check=["too_slow", "data_too_large"]).given() == \
        {"suppress_health_check": "too_slow,data_too_large"}
    assert FuzzOptions(seed=5).with_seed().seed == 5
    assert FuzzOptions().with_seed().seed is not None


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(TopologyFileError) as info:
        service(mode="sometimes")
    assert str(info.value) == "ServiceSpec(...): fuzz.mode: Input should be 'positive', 'negative' or 'all' (found " \
                              "'sometimes')"


def test_written_exclusions_apply_to_any_choice_of_checks() -> None:
    spec = service(exclude=[{"check": "status_code_conformance", "reason": "documented elsewhere, on purpose"}])
    assert checks_for(spec) == [c for c in DEFAULTS.checks if c != "status_code_conformance"]
    assert checks_for(spec, ["status_code_conformance", "not_a_server_error"]) == ["not_a_server_error"]


def test_the_checks_are_st_runs_unless_the_service_or_the_command_line_chooses() -> None:
    assert checks_for(service()) == DEFAULTS.checks
    assert checks_for(service(mode="positive")) == DEFAULTS.checks  # as `st run --mode positive`
    assert checks_for(service(), ["not_a_server_error"]) == ["not_a_server_error"]
    assert checks_for(service(checks=["status_code_conformance"])) == ["status_code_conformance"]
    spec = service(exclude=[{"check": "negative_data_rejection", "reason": "stores whatever it gets, on purpose"}])
    assert checks_for(spec) == [c for c in DEFAULTS.checks if c != "negative_data_rejection"]



def test_a_run_draws_no_constants_from_local_code_as_st_runs_process_has_none(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis mixes the literals of imported local modules (the harness's own source, a conftest, a hook) into
    the data it draws; `st run`'s process has none, so a run hides them, and gives them back when it ends."""
    from hypothesis.internal.conjecture import providers

    from harness.fuzz.engine import _as_in_st_run

    (tmp_path / "parity_literals.py").write_text("LIMIT = 987654321\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "parity_literals", raising=False)
    importlib.import_module("parity_literals")
    assert 987654321 in providers._get_local_constants().integers
    with _as_in_st_run():
        with _as_in_st_run():  # a second run at once
            assert not providers._get_local_constants().integers
        assert not providers._get_local_constants().integers
    assert 987654321 in providers._get_local_constants().integers


def test_the_fuzz_junit_carries_each_services_run_time_and_their_sum(tmp_path: Path) -> None:
    from xml.etree import ElementTree

    from harness.fuzz.results import ServiceResult
    from harness.report.fuzz import write_fuzz_junit

    results = [ServiceResult("catalog", "http://127.0.0.1:1", 3, operations=["GET /items", "PUT /items"], seconds=2.5),
               ServiceResult("orders", "http://127.0.0.1:2", 3, operations=["POST /orders"], seconds=1.25)]
    suite = ElementTree.parse(write_fuzz_junit(results, tmp_path / "fuzz.xml", Path("shop/topology.yaml"))).getroot()
    assert suite.get("time") == "3.750"
    # named and classed as `pytest --fuzz --junitxml` writes its items (the service, each operation, the sequences)
    assert [(case.get("classname"), case.get("name"), case.get("time")) for case in suite] == [
        ("shop.topology.yaml", "fuzz[catalog setup]", "2.500"), ("shop.topology.yaml", "fuzz[catalog GET /items]", "0.000"),
        ("shop.topology.yaml", "fuzz[catalog PUT /items]", "0.000"),
        ("shop.topology.yaml", "fuzz[catalog stateful]", "0.000"), ("shop.topology.yaml", "fuzz[orders setup]", "1.250"),
        ("shop.topology.yaml", "fuzz[orders POST /orders]", "0.000"),
        ("shop.topology.yaml", "fuzz[orders stateful]", "0.000")]



def test_an_unknown_check_of_a_topology_built_in_python_is_refused_naming_the_topology(tmp_path: Path) -> None:
    from harness import OptionError, topology
    from harness.fuzz.options import refuse_unknown_names

    spec = topology("shop", base_dir=tmp_path).service("api", image="api:1", ports=[8000], openapi="/openapi.json",
                                                        fuzz={"checks": ["not_a_server_eror"]}).spec
    with pytest.raises(OptionError) as refused:  # it has no file to name (it was an AttributeError)
        refuse_unknown_names(spec, ["api"], FuzzOptions(), FLAGS)
    assert str(refused.value).startswith("topology 'shop': services.api.fuzz.checks: unknown check "
                                         "'not_a_server_eror' (did you mean 'not_a_server_error'?). The checks: ")


def test_a_health_check_schemathesis_does_not_know_is_refused_as_st_run_refuses_it(tmp_path: Path) -> None:
    from harness import OptionError, topology
    from harness.fuzz.options import refuse_unknown_names

    spec = topology("shop", base_dir=tmp_path).service("api", image="api:1", ports=[8000], openapi="/openapi.json").spec
    refuse_unknown_names(spec, ["api"], FuzzOptions(suppress_health_check=["too_slow", "data_too_large"]), FLAGS)
    with pytest.raises(OptionError) as refused:
        refuse_unknown_names(spec, ["api"], FuzzOptions(suppress_health_check=["too_slwo"]), FLAGS)
    assert str(refused.value) == (
        "--suppress-health-check: unknown health check 'too_slwo' (did you mean 'too_slow'?). The health checks: "
        "data_too_large, filter_too_much, too_slow, large_base_example, all")


def test_a_misspelt_service_gets_the_did_you_mean_a_misspelt_check_gets(tmp_path: Path) -> None:
    from harness import NothingToFuzz, topology
    from harness.fuzz.options import fuzz_targets

    spec = (topology("shop", base_dir=tmp_path)
            .service("orders", image="orders:1", ports=[8000], openapi="/openapi.json")
            .service("inventory", image="inventory:1", ports=[8080], openapi="/openapi.json")
            .service("redis", image="redis:7", ports=[6379]).spec)
    with pytest.raises(NothingToFuzz) as refused:
        fuzz_targets(spec, ["ordres", "zzz"])
    assert str(refused.value) == (
        "nothing to fuzz: ordres: not a service of topology shop with `openapi:` (did you mean 'orders'?); zzz: not a "
        "service of topology shop with `openapi:` (services with one: orders, inventory)")
