"""Helpers for the Runnerly scenarios: tokens, users and jobs through the real services of the topology."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import Topology

HERE = Path(__file__).parent
SEED = json.loads((HERE.parent.parent / "fixtures" / "strava" / "activities.json").read_text())
AUDIENCE = "runnerly.io"


def get_token(topology: Topology, audience: str = AUDIENCE, client: str = "scenarios",
              secret: str = "scenarios-secret") -> str:
    response = requests.post(topology["tokendealer"].url + "/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client, "client_secret": secret, "audience": audience})
    response.raise_for_status()
    return response.json()["access_token"]


def pytest_topology_reused(topology: Topology) -> None:
    """--topology-reuse: runs are unique by Strava activity id across runners, so the runs an earlier session stored
    would belong to its runners and the stub's activities would create nothing for this session's."""
    result = topology["postgres"].exec(["psql", "-U", "runnerly", "-d", "runnerly", "-c", "TRUNCATE runs"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def token(topology: Topology) -> str:
    return get_token(topology)


@pytest.fixture(scope="session")
def dataservice(topology: Topology, token: str) -> requests.Session:
    """A session that talks to dataservice with a valid token; use `dataservice.base + path`."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.base = topology["dataservice"].url  # type: ignore[attr-defined]
    return session


@pytest.fixture
def create_user(dataservice: requests.Session) -> Callable[..., dict[str, Any]]:
    def create(strava_token: str | None = None, name: str = "Runner") -> dict[str, Any]:
        body = {"email": f"{uuid.uuid4().hex[:12]}@runnerly.test", "name": name, "strava_token": strava_token}
        response = dataservice.post(dataservice.base + "/api/users", json=body, timeout=10)  # type: ignore[attr-defined]
        assert response.status_code == 201, response.text
        return response.json()

    return create


def wait_for_job(topology: Topology, job_id: str, statuses: tuple[str, ...] = ("done", "failed"),
                 timeout: float = 60) -> dict[str, Any]:
    """Poll the gateway until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = requests.get(f"{topology['gateway'].url}/api/jobs/{job_id}", timeout=10)
        if response.status_code == 200:
            job = response.json()
            if job["status"] in statuses:
                return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {statuses} in {timeout} s; last seen: {job}")


def fetch(topology: Topology, runner_id: int) -> str:
    response = requests.post(f"{topology['gateway'].url}/api/runners/{runner_id}/fetch", timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def seeded_runs(strava_token: str, year: int, month: int) -> list[dict[str, Any]]:
    prefix = f"{year:04d}-{month:02d}-"
    return [a for a in SEED[strava_token] if a["type"] == "Run" and a["start_date"].startswith(prefix)]
