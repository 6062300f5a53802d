"""The main story: a runner with a Strava account asks for a fetch; their month summary shows the stub's runs."""

from __future__ import annotations

import requests

from harness import Topology

from .conftest import fetch, seeded_runs, wait_for_job


def summary(topology: Topology, runner_id: int, year: int, month: int) -> dict:
    response = requests.get(f"{topology['gateway'].url}/api/runners/{runner_id}/summary/{year}/{month}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_fetch_then_summary_shows_exactly_the_stub_activities(topology: Topology, create_user) -> None:  # noqa: ANN001
    alice = create_user(strava_token="strava-token-alice", name="Alice")
    assert summary(topology, alice["id"], 2026, 3)["count"] == 0

    job = wait_for_job(topology, fetch(topology, alice["id"]))
    assert job["status"] == "done", job

    march = seeded_runs("strava-token-alice", 2026, 3)
    expected_distance = sum(a["distance"] for a in march)
    expected_time = sum(a["moving_time"] for a in march)
    got = summary(topology, alice["id"], 2026, 3)
    assert got["count"] == len(march)
    assert abs(got["total_distance"] - expected_distance) < 0.01
    assert got["total_moving_time"] == expected_time
    assert abs(got["average_speed"] - expected_distance / expected_time) < 0.001
    assert summary(topology, alice["id"], 2026, 2)["count"] == len(seeded_runs("strava-token-alice", 2026, 2))

    again = wait_for_job(topology, fetch(topology, alice["id"]))  # fetching again adds nothing
    assert again["status"] == "done" and again["created"] == 0
    assert summary(topology, alice["id"], 2026, 3) == got


def test_every_page_of_activities_is_fetched(topology: Topology, create_user) -> None:  # noqa: ANN001
    bob = create_user(strava_token="strava-token-bob", name="Bob")
    job = wait_for_job(topology, fetch(topology, bob["id"]))
    assert job["status"] == "done", job
    assert summary(topology, bob["id"], 2026, 4)["count"] == len(seeded_runs("strava-token-bob", 2026, 4)) > 30


def test_a_runner_without_strava_fails_the_job_cleanly(topology: Topology, create_user) -> None:  # noqa: ANN001
    carol = create_user(strava_token=None, name="Carol")
    job = wait_for_job(topology, fetch(topology, carol["id"]))
    assert job["status"] == "failed" and job["error"]


def test_an_unknown_runner_is_404(topology: Topology) -> None:
    assert requests.post(f"{topology['gateway'].url}/api/runners/999999/fetch", timeout=10).status_code == 404
    assert requests.get(f"{topology['gateway'].url}/api/runners/999999/summary/2026/3", timeout=10).status_code == 404
