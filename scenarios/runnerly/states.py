"""Provider states of the Runnerly pacts (contracts/*.json, written by the consumer tests in fixtures/*/tests/) and
the gateway's message producer, for verifying the pacts against the services of a running Runnerly topology.

Each handler gets the running topology and the state's params, makes the data what the state says, and returns a
few values. Handlers are idempotent: a state may be set up before every interaction of a verification run, on a
database that already holds the users and runs of scenario tests.

- dataservice: through its API where the API can say it (creating runs, checking the outcome), with a token from
  tokendealer (client `scenarios`, configured in topology.yaml); in PostgreSQL (at its published port, with
  asyncpg: a `docker exec psql` costs ~0.07 s, more than a whole interaction may)
  where it cannot: a user with a given id (ids are `serial`), a user's Strava token (there is no update), and
  deleting users and runs (there is no delete).
- tokendealer and strava are static (clients and key from topology.yaml, activities seeded from
  fixtures/strava/activities.json): their states set nothing up; they check that the fixed data is what the pact
  relies on, so that a changed configuration fails here with a clear message rather than as a mismatch.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import requests

from harness.contracts import message_producer, provider_state

REPO = Path(__file__).resolve().parents[2]
GATEWAY_DIR = str(REPO / "fixtures" / "gateway")
if GATEWAY_DIR not in sys.path:
    sys.path.insert(0, GATEWAY_DIR)

from gateway.jobs import fetch_job_message  # noqa: E402  # the gateway's real producer of the job message

STRAVA_SEED = REPO / "fixtures" / "strava" / "activities.json"
STRAVA_PAGE_SIZE = 30  # the worker's per_page (worker.clients.STRAVA_PAGE_SIZE), in the strava pact's query
AUDIENCE = "runnerly.io"
SCENARIOS_CLIENT = ("scenarios", "scenarios-secret")
TIMEOUT = 10.0

# The user 1 that "user 1 exists" makes when there is none (a scenario may have made one already: then it stays).
USER_1 = {"email": "runner-1@runnerly.test", "name": "Runner One"}
# The runs of "user 1 has 3 runs in March 2026": the examples of the gateway's pact. Their strava_ids are kept
# clear of the seeded Strava activities (1x000000xxx), so that no scenario import ever holds them.
MARCH_2026_RUNS = [
    {"strava_id": 9_900_000_001, "title": "Morning Run", "distance": 5012.3, "moving_time": 1740,
     "average_speed": 2.881, "start_date": "2026-03-02T07:15:00Z"},
    {"strava_id": 9_900_000_002, "title": "Morning Run", "distance": 10021.5, "moving_time": 3480,
     "average_speed": 2.88, "start_date": "2026-03-07T08:30:00Z"},
    {"strava_id": 9_900_000_003, "title": "Morning Run", "distance": 6400.0, "moving_time": 2190,
     "average_speed": 2.922, "start_date": "2026-03-14T07:05:00Z"},
]


class StateSetupError(RuntimeError):
    """A state could not be set up (or the fixed data is not what the pact relies on)."""


# --- dataservice ---------------------------------------------------------------------------------------------------

@provider_state("user 1 exists", provider="dataservice")
def user_1_exists(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"id": _ensure_user_1(topology)["id"], "token": _token(topology)}


@provider_state("user 1 exists with a Strava token", provider="dataservice")
def user_1_with_strava_token(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    """User 1 with the Strava token of the state's params (default: a seeded athlete's), replacing any other."""
    strava_token = str(params.get("strava_token") or "strava-token-alice")
    _ensure_user_1(topology, strava_token)
    _sql(topology, f"UPDATE users SET strava_token = {_literal(strava_token)} WHERE id = 1"
                   f" AND strava_token IS DISTINCT FROM {_literal(strava_token)}")
    user = _api(topology, "GET", "/api/users/1", expect=200).json()
    if user.get("strava_token") != strava_token:
        raise StateSetupError(f"user 1 should have the Strava token {strava_token!r}, dataservice says {user}")
    return {"id": 1, "strava_token": strava_token, "token": _token(topology)}


@provider_state("user 1 has 3 runs in March 2026", provider="dataservice")
def user_1_has_3_runs_in_march_2026(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Exactly these 3 runs in March 2026 (UTC): user 1's other runs of that month are deleted first."""
    _ensure_user_1(topology)
    strava_ids = ", ".join(str(run["strava_id"]) for run in MARCH_2026_RUNS)
    _sql(topology, "DELETE FROM runs WHERE (runner_id = 1 AND start_date >= '2026-03-01T00:00:00Z'"
                   f" AND start_date < '2026-04-01T00:00:00Z') OR strava_id IN ({strava_ids})")
    counts = _api(topology, "POST", "/api/runs", expect=200,
                  json={"runs": [{"runner_id": 1, **run} for run in MARCH_2026_RUNS]}).json()
    if counts != {"created": len(MARCH_2026_RUNS), "existing": 0}:
        raise StateSetupError(f"storing user 1's runs of March 2026 answered {counts}")
    items = _api(topology, "GET", "/api/runs/1/2026/3", expect=200).json()["items"]
    if len(items) != len(MARCH_2026_RUNS):
        raise StateSetupError(f"user 1 should have {len(MARCH_2026_RUNS)} runs in March 2026, has {len(items)}")
    return {"runner_id": 1, "year": 2026, "month": 3, "run_ids": [item["id"] for item in items],
            "token": _token(topology)}


@provider_state("user 999 does not exist", provider="dataservice")
def user_999_does_not_exist(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    _sql(topology, "DELETE FROM runs WHERE runner_id = 999; DELETE FROM users WHERE id = 999")
    _api(topology, "GET", "/api/users/999", expect=404)
    return {"id": 999, "token": _token(topology)}


@provider_state("the bearer token is invalid", provider="dataservice")
def bearer_token_is_invalid(topology: Any, params: dict[str, Any]) -> None:
    """Nothing to set up: the interaction's example token (`Bearer expired-token`) is no JWT, so dataservice refuses
    it with 401. It reaches dataservice as written: only `bearer_token()` headers get the state's real token."""


# --- tokendealer (static: clients and key come from topology.yaml) -------------------------------------------------

@provider_state("client gateway is registered with secret gateway-secret", provider="tokendealer")
def gateway_client_registered(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _check_client(topology, "gateway", "gateway-secret")


@provider_state("client worker is registered with secret worker-secret", provider="tokendealer")
def worker_client_registered(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _check_client(topology, "worker", "worker-secret")


@provider_state("tokendealer has a signing key", provider="tokendealer")
def tokendealer_has_a_signing_key(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The key is the PEM file mounted by topology.yaml (TOKENDEALER_PRIVATE_KEY_FILE): nothing to set up."""
    response = requests.get(f"{topology['tokendealer'].url}/.well-known/jwks.json", timeout=TIMEOUT)
    keys = response.json().get("keys") if response.status_code == 200 else None
    if not keys:
        raise StateSetupError(f"tokendealer publishes no key: {response.status_code} {response.text[:200]}")
    return {"kid": keys[0].get("kid")}


def _check_client(topology: Any, client_id: str, secret: str) -> dict[str, Any]:
    """Clients are TOKENDEALER_CLIENTS in topology.yaml: nothing to set up; check that this one is there."""
    _fetch_token(topology, client_id, secret)
    return {"client_id": client_id}


# --- strava (static: activities seeded from fixtures/strava/activities.json, built into its image) ------------------

@provider_state("athlete strava-token-alice has one page of activities", provider="strava")
def alice_has_one_page(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    count = len(_strava_seed().get("strava-token-alice", []))
    if not 1 <= count <= STRAVA_PAGE_SIZE:
        raise StateSetupError(f"the strava seed gives strava-token-alice {count} activities, not 1 to "
                              f"{STRAVA_PAGE_SIZE} (a full page 1 and an empty page 2)")
    return {"strava_token": "strava-token-alice", "activities": count}


@provider_state("no athlete has the token strava-token-unknown", provider="strava")
def unknown_strava_token(topology: Any, params: dict[str, Any]) -> None:
    if "strava-token-unknown" in _strava_seed():
        raise StateSetupError("the strava seed has an athlete with the token strava-token-unknown")


def _strava_seed() -> dict[str, list[dict[str, Any]]]:
    return json.loads(STRAVA_SEED.read_text(encoding="utf-8"))


# --- messages ------------------------------------------------------------------------------------------------------

@message_producer("a fetch job", provider="gateway")
def a_fetch_job(topology: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The payload the gateway LPUSHes on runnerly:jobs, made by its real producer (a new job id, now in UTC)."""
    return fetch_job_message(int(params.get("runner_id", 1)))


# --- helpers -------------------------------------------------------------------------------------------------------

def _ensure_user_1(topology: Any, strava_token: str | None = None) -> dict[str, Any]:
    """User 1 exists (an existing user 1 is left as it is). dataservice's ids are `serial`: the row goes in with an
    explicit id, then the sequence moves past every id in the table (never backwards), so that the next user the
    API creates does not collide with it."""
    _sql(topology, "INSERT INTO users (id, email, name, strava_token) VALUES"
                   f" (1, {_literal(USER_1['email'])}, {_literal(USER_1['name'])},"
                   f" {_literal(strava_token) if strava_token is not None else 'NULL'}) ON CONFLICT DO NOTHING;"
                   " SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST(1, (SELECT max(id) FROM users),"
                   " pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass)))")
    return _api(topology, "GET", "/api/users/1", expect=200).json()


def _sql(topology: Any, statements: str) -> None:
    """Run SQL statements in dataservice's database (PostgreSQL of the topology, at its published port)."""
    import asyncio

    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(host=topology["postgres"].host, port=topology["postgres"].port(5432),
                                           user="runnerly", password="runnerly", database="runnerly", timeout=TIMEOUT)
        try:
            await connection.execute(statements)
        finally:
            await connection.close()

    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as error:
        raise StateSetupError(f"SQL failed: {type(error).__name__}: {error}\nSQL: {statements}") from error


def _literal(value: str) -> str:
    """An SQL string literal (standard_conforming_strings is on: only quotes need doubling)."""
    return "'" + value.replace("'", "''") + "'"


# Tokens by (topology run, client): fetched once and reused until shortly before they expire, instead of once per
# state (a token costs tokendealer an RSA signature: ~0.05 s, several times per interaction).
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
TOKEN_MARGIN = 30.0  # seconds before expiry when a token is fetched again


def _token(topology: Any, client_id: str = SCENARIOS_CLIENT[0], secret: str = SCENARIOS_CLIENT[1]) -> str:
    key = (str(getattr(topology, "run_id", id(topology))), client_id)
    cached = _TOKENS.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    token, lifetime = _fetch_token(topology, client_id, secret)
    _TOKENS[key] = (token, time.monotonic() + lifetime - TOKEN_MARGIN)
    return token


def _fetch_token(topology: Any, client_id: str, secret: str) -> tuple[str, float]:
    """A new token of `client_id` and its lifetime in seconds."""
    response = requests.post(f"{topology['tokendealer'].url}/oauth/token", timeout=TIMEOUT, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "audience": AUDIENCE})
    if response.status_code != 200:
        raise StateSetupError(f"tokendealer refused client {client_id!r}: {response.status_code} "
                              f"{response.text[:200]} (clients are TOKENDEALER_CLIENTS in topology.yaml)")
    answer = response.json()
    return answer["access_token"], float(answer.get("expires_in") or 0)


def _api(topology: Any, method: str, path: str, expect: int, **kwargs: Any) -> requests.Response:
    """A call to dataservice's API with a token of the `scenarios` client; fails unless it answers `expect`."""
    response = requests.request(method, f"{topology['dataservice'].url}{path}", timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {_token(topology)}"}, **kwargs)
    if response.status_code != expect:
        raise StateSetupError(f"{method} {path} answered {response.status_code}, expected {expect}: "
                              f"{response.text[:300]}")
    return response
