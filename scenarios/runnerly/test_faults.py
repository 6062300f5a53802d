"""Faults: a peer stopped, Redis paused, the worker killed mid-job, dataservice restarted."""

from __future__ import annotations

import time

import pytest
import requests

from harness import Topology

from .conftest import fetch, wait_for_job

CALL_TIMEOUT = 2.0  # the gateway's CALL_TIMEOUT in topology.yaml
pytestmark = pytest.mark.topology_exclusive  # services stopped, paused, killed: alone on a topology xdist shares


def test_gateway_answers_503_while_dataservice_is_down_and_recovers(topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(name="Dora")
    url = f"{topology['gateway'].url}/api/runners/{runner['id']}/summary/2026/3"
    assert requests.get(url, timeout=10).status_code == 200
    topology["dataservice"].stop()
    try:
        started = time.monotonic()
        response = requests.get(url, timeout=10)
        assert response.status_code == 503
        assert response.json()["error"] == "dataservice_unavailable"
        assert time.monotonic() - started < CALL_TIMEOUT + 1.5
    finally:
        topology["dataservice"].start()
    assert requests.get(url, timeout=10).status_code == 200  # the gateway was not restarted


def test_fetch_fails_cleanly_while_redis_is_paused_and_work_resumes(topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(strava_token="strava-token-eve", name="Eve")
    url = f"{topology['gateway'].url}/api/runners/{runner['id']}/fetch"
    topology["redis"].pause()
    try:
        started = time.monotonic()
        response = requests.post(url, timeout=10)
        assert response.status_code == 503
        assert response.json()["error"] == "queue_unavailable"
        assert "Traceback" not in response.text
        assert time.monotonic() - started < CALL_TIMEOUT + 1.5
    finally:
        topology["redis"].unpause()
    job = wait_for_job(topology, fetch(topology, runner["id"]))
    assert job["status"] == "done", job


def test_a_job_survives_a_worker_killed_mid_job(topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(strava_token="strava-token-slow", name="Fred")  # strava answers this token after 3 s
    job_id = fetch(topology, runner["id"])
    running = wait_for_job(topology, job_id, statuses=("running",), timeout=30)
    assert running["attempts"] == 1
    topology["worker"].kill()
    time.sleep(4)  # the job needs two 3 s pages from the stub: it cannot have finished in this time
    assert wait_for_job(topology, job_id, statuses=("running", "queued", "done"))["status"] != "done"
    topology["worker"].start()
    job = wait_for_job(topology, job_id)
    assert job["status"] == "done" and job["attempts"] == 2 and job["created"] == 2


def test_data_survives_a_dataservice_restart(topology: Topology, create_user, dataservice) -> None:  # noqa: ANN001
    runner = create_user(name="Gina")
    topology["dataservice"].restart()
    response = dataservice.get(f"{dataservice.base}/api/users/{runner['id']}", timeout=10)
    assert response.status_code == 200
    assert response.json() == runner
