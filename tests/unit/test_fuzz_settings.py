"""Which mode and checks a service's fuzzing run uses: the command line, else the service's `fuzz:`, else defaults;
written exclusions always apply."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.fuzz.session import DEFAULT_CHECKS, NEGATIVE_CHECK, checks_for, mode_for
from harness.spec.model import ServiceSpec


def service(**fuzz: object) -> ServiceSpec:
    return ServiceSpec.model_validate({"image": "x", "openapi": "/openapi.json", "fuzz": fuzz})


def test_the_mode_is_positive_unless_the_service_or_the_command_line_says_otherwise() -> None:
    assert mode_for(service()) == "positive"
    assert mode_for(service(mode="negative")) == "negative"
    assert mode_for(service(mode="negative"), "all") == "all"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="positive"):
        service(mode="sometimes")


def test_written_exclusions_apply_to_any_choice_of_checks() -> None:
    spec = service(exclude=[{"check": "status_code_conformance", "reason": "documented elsewhere, on purpose"}])
    assert checks_for(spec) == [c for c in DEFAULT_CHECKS if c != "status_code_conformance"]
    assert checks_for(spec, ["status_code_conformance", "not_a_server_error"]) == ["not_a_server_error"]


def test_a_run_with_invalid_data_checks_that_it_is_rejected_unless_checks_are_chosen() -> None:
    assert checks_for(service()) == DEFAULT_CHECKS
    for mode in ("negative", "all"):
        assert checks_for(service(), mode=mode) == [*DEFAULT_CHECKS, NEGATIVE_CHECK]
    assert checks_for(service(), ["not_a_server_error"], "negative") == ["not_a_server_error"]
    assert checks_for(service(checks=["status_code_conformance"]), mode="negative") == ["status_code_conformance"]
    spec = service(exclude=[{"check": NEGATIVE_CHECK, "reason": "stores whatever it gets, on purpose"}])
    assert checks_for(spec, mode="negative") == DEFAULT_CHECKS


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
