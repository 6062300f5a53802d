"""How long the harness waits for a service whose readiness is its Docker healthcheck: at least what Docker needs to
decide (as `docker compose up --wait`, which has no limit of its own), never below the default, never over an
explicit `timeout`."""

from __future__ import annotations

from pathlib import Path

from harness import load_topology
from harness.model.parts import Healthcheck
from harness.model.service import HEALTH_MARGIN, ServiceSpec, ready_limit


def test_docker_defaults_fill_unset_timings() -> None:
    assert Healthcheck(test=["CMD", "true"]).decision_time() == 0 + (30 + 30) * (3 + 1)
    assert Healthcheck(test=["CMD", "true"]).attempt_limit() == 30
    check = Healthcheck(test=["CMD", "true"], interval=2, timeout=1, retries=5, start_period=120)
    assert (check.decision_time(), check.attempt_limit()) == (120 + (2 + 1) * 6, 1)


def test_a_slow_start_period_beyond_60_s_is_waited_for() -> None:
    check = Healthcheck(test=["CMD", "true"], interval=1, timeout=1, retries=2, start_period=120)
    spec = ServiceSpec(image="python:3.11-slim", healthcheck=check)
    assert ready_limit(spec, check) == 120 + (1 + 1) * 3 + HEALTH_MARGIN  # a service healthy at 70 s starts


def test_never_below_the_default_and_an_explicit_timeout_wins() -> None:
    quick = Healthcheck(test=["CMD", "true"], interval=1, timeout=1, retries=2)
    assert ready_limit(ServiceSpec(image="python:3.11-slim", healthcheck=quick), quick) == 60
    slow = Healthcheck(test=["CMD", "true"], start_period=300)
    assert ready_limit(ServiceSpec(image="python:3.11-slim", healthcheck=slow, timeout=60), slow) == 60
    assert ready_limit(ServiceSpec(image="python:3.11-slim", healthcheck=slow), None) == 60  # not the probe


def test_compose_x_topology_timeout_is_explicit(tmp_path: Path) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n"
                    "  db:\n"
                    "    image: python:3.11-slim\n"
                    "    healthcheck: {test: ['CMD', 'true'], start_period: 120s}\n"
                    "  slow:\n"
                    "    image: python:3.11-slim\n"
                    "    healthcheck: {test: ['CMD', 'true'], start_period: 120s}\n"
                    "    x-topology: {timeout: 30}\n")
    services = load_topology(file).services
    db, slow = services["db"], services["slow"]
    assert ready_limit(db, db.healthcheck) == 120 + (30 + 30) * 4 + HEALTH_MARGIN
    assert ready_limit(slow, slow.healthcheck) == 30


def test_dockers_first_check_comes_after_interval_or_start_interval() -> None:
    """moby's daemon/health.go: the first run is one timer after the start; during a start_period an engine of API
    1.44 or later (Docker 25) times it by start_interval (default 5 s), an older one by interval (default 30 s)."""
    assert Healthcheck(test=["CMD", "true"]).first_check(start_interval_taken=False) == 30
    assert Healthcheck(test=["CMD", "true"], interval=2).first_check(start_interval_taken=True) == 2
    periodic = Healthcheck(test=["CMD", "true"], interval=60, start_period=30)
    assert periodic.first_check(start_interval_taken=False) == 60
    assert periodic.first_check(start_interval_taken=True) == 5
    quick = Healthcheck(test=["CMD", "true"], interval=60, start_period=30, start_interval=0.5)
    assert quick.first_check(start_interval_taken=True) == 0.5
