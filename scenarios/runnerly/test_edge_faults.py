"""Faults per edge: one slow, lossy or cut edge between two Runnerly services while the rest keeps working."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import redis
import requests

from harness import Topology

from .conftest import fetch, wait_for_job

CALL_TIMEOUT = 2.0  # the gateway's CALL_TIMEOUT in topology.yaml
SLOWER_THAN_THE_TIMEOUT = 2500  # ms, on gateway -> dataservice
JITTER = 100  # ms
GATEWAY_WORKERS = 2  # gunicorn --workers in fixtures/gateway/Dockerfile
pytestmark = pytest.mark.topology_exclusive  # edges faulted: alone on a topology xdist shares

# A token fetched from inside the gateway's container: the gateway's own edge to tokendealer.
TOKEN_FROM_GATEWAY = """
import json, time, urllib.parse, urllib.request
body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "gateway",
                               "client_secret": "gateway-secret", "audience": "runnerly.io"}).encode()
started = time.monotonic()
with urllib.request.urlopen("http://tokendealer:8080/oauth/token", body, timeout=10) as response:
    token = json.load(response)["access_token"]
print(json.dumps({"seconds": time.monotonic() - started, "token": bool(token)}))
"""


def summary_call(topology: Topology, runner_id: int) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(f"{topology['gateway'].url}/api/runners/{runner_id}/summary/2026/3", timeout=15)
    return response, time.monotonic() - started


def summary_call_on_a_slow_edge(topology: Topology, runner_id: int) -> tuple[requests.Response, float]:
    """The first summary call not ended by a kept connection that dataservice closed meanwhile.

    Each gateway worker keeps its own connection to dataservice, which closes connections idle for 5 s (hypercorn's
    keep-alive timeout). A request held by the delay on a connection idle for 2.5-5 s (e.g. from an earlier test or
    session) meets that close before dataservice reads it, so the gateway answers 503 at once ("Remote end closed
    connection") instead of after its timeout: true of a slow network too, but not what this test is about. The
    worker drops that connection, so each worker meets it at most once.
    """
    for _ in range(GATEWAY_WORKERS + 1):
        response, seconds = summary_call(topology, runner_id)
        if "RemoteDisconnected" not in response.text:
            break
        print(f"\nafter {seconds:.3f} s: dataservice closed a kept connection before the held request reached it")
    return response, seconds


def test_a_slow_dataservice_edge_gives_503_within_the_gateways_timeout_while_its_tokens_stay_fast(
        topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(name="Hana")
    warm, before = summary_call(topology, runner["id"])  # the gateway holds its token and a connection now
    assert warm.status_code == 200, warm.text
    with topology.edge("gateway", "dataservice").delay(ms=SLOWER_THAN_THE_TIMEOUT, jitter_ms=JITTER):
        slow, during = summary_call_on_a_slow_edge(topology, runner["id"])
        token = topology["gateway"].exec(["python", "-c", TOKEN_FROM_GATEWAY])
    fast_again, after = summary_call(topology, runner["id"])
    token_call = json.loads(token.output.strip().splitlines()[-1])
    print(f"\nsummary before {before:.3f} s, with gateway->dataservice +{SLOWER_THAN_THE_TIMEOUT} ms {during:.3f} s "
          f"(503), after {after:.3f} s; a token from inside the gateway meanwhile {token_call['seconds']:.3f} s")
    # Lower bounds only hold the claims (load makes calls slower, never faster); upper bounds are against the
    # injected delay, which a call on the slowed edge cannot beat: anything held takes at least one delay.
    one_delay = (SLOWER_THAN_THE_TIMEOUT - JITTER) / 1000
    assert slow.status_code == 503 and slow.json()["error"] == "dataservice_unavailable", slow.text
    assert f"no answer within {CALL_TIMEOUT:g} s" in slow.json()["detail"], slow.text  # its own timeout ended it
    assert 0.9 * CALL_TIMEOUT <= during < CALL_TIMEOUT + one_delay  # it waited for its timeout, then answered
    assert token.exit_code == 0 and token_call["token"], token.output
    assert token_call["seconds"] < one_delay  # its edge to tokendealer was not slowed
    assert fast_again.status_code == 200, fast_again.text
    assert after < one_delay  # the delay is gone with the block


def test_a_job_fails_cleanly_while_strava_is_unreachable_and_is_retried_once_it_is_back(
        topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(strava_token="strava-token-eve", name="Ines")
    with topology.edge("worker", "strava").loss(percent=100):
        job_id = fetch(topology, runner["id"])
        failed = wait_for_job_error(topology, job_id)
    job = wait_for_job(topology, job_id)
    print(f"\nattempt failed with: {failed['error']}; then {job}")
    assert failed["status"] in ("queued", "running") and failed["attempts"] >= 1
    assert failed["error"].startswith("strava: ") and "Traceback" not in failed["error"]
    assert job["status"] == "done" and job["attempts"] >= 2 and job["error"] is None, job
    assert job["created"] + job["existing"] == 2  # strava-token-eve's two runs, read once strava was back


def wait_for_job_error(topology: Topology, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = requests.get(f"{topology['gateway'].url}/api/jobs/{job_id}", timeout=10).json()
        if job.get("error"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} recorded no failed attempt in {timeout} s; last seen: {job}")


def test_a_cut_from_gateway_to_redis_gives_queue_unavailable_while_the_worker_keeps_using_redis(
        topology: Topology, create_user) -> None:  # noqa: ANN001
    runner = create_user(strava_token="strava-token-eve", name="Jo")  # eve: her runs are not counted elsewhere
    queue = redis.Redis(host=topology["redis"].host, port=topology["redis"].port(6379), decode_responses=True)
    with topology.edge("gateway", "redis").cut():
        started = time.monotonic()
        refused = requests.post(f"{topology['gateway'].url}/api/runners/{runner['id']}/fetch", timeout=10)
        refused_after = time.monotonic() - started
        # the worker's edge to redis is not cut: a job queued from outside is taken and done
        job_id = uuid.uuid4().hex
        queue.hset(f"runnerly:job:{job_id}", mapping={"job_id": job_id, "runner_id": runner["id"],
                                                      "status": "queued", "attempts": 0, "created": 0, "existing": 0})
        queue.lpush("runnerly:jobs", json.dumps({"job_id": job_id, "runner_id": runner["id"],
                                                 "requested_at": datetime.now(UTC).isoformat()}))
        deadline = time.monotonic() + 30
        while queue.hget(f"runnerly:job:{job_id}", "status") != "done" and time.monotonic() < deadline:
            time.sleep(0.2)
        done_during_cut = queue.hgetall(f"runnerly:job:{job_id}")
    print(f"\nfetch with gateway->redis cut: {refused.status_code} in {refused_after:.3f} s")
    assert refused.status_code == 503 and refused.json()["error"] == "queue_unavailable", refused.text
    assert "Traceback" not in refused.text
    assert done_during_cut["status"] == "done", done_during_cut
    assert wait_for_job(topology, fetch(topology, runner["id"]))["status"] == "done"  # the gateway is back


@pytest.mark.edge_fault("gateway", "dataservice", cut="reject")
def test_the_marker_cuts_an_edge_for_one_test(topology: Topology) -> None:
    response, seconds = summary_call(topology, 1)
    assert response.status_code == 503 and response.json()["error"] == "dataservice_unavailable", response.text
    assert seconds < CALL_TIMEOUT  # refused at once: no waiting for the timeout
    assert [f.describe() for f in topology.faults.active()] == ["gateway -> dataservice: cut (connections refused)"]
