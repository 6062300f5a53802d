"""Tokens from tokendealer open dataservice; anything else is refused with 401."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from harness import Topology

from .conftest import HERE, get_token


def call_dataservice(topology: Topology, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return requests.get(topology["dataservice"].url + "/api/users?has_strava=true", headers=headers, timeout=10)


def tokendealer_kid(topology: Topology) -> str:
    return requests.get(topology["tokendealer"].url + "/.well-known/jwks.json", timeout=10).json()["keys"][0]["kid"]


def signed(key: object, kid: str, **overrides: object) -> str:
    now = int(time.time())
    claims = {"iss": "runnerly-tokendealer", "aud": "runnerly.io", "sub": "scenarios", "iat": now, "exp": now + 300}
    return jwt.encode({**claims, **overrides}, key, algorithm="RS256", headers={"kid": kid})


def test_a_token_from_tokendealer_opens_dataservice(topology: Topology, token: str) -> None:
    response = call_dataservice(topology, f"Bearer {token}")
    assert response.status_code == 200
    assert "items" in response.json()


def test_the_token_carries_the_expected_claims(topology: Topology, token: str) -> None:
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "runnerly-tokendealer" and claims["aud"] == "runnerly.io" and claims["sub"] == "scenarios"
    assert claims["exp"] > claims["iat"]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic c2NlbmFyaW9zOnNlY3JldA==", "Bearer not-a-jwt"])
def test_missing_or_malformed_authorization_is_401(topology: Topology, authorization: str | None) -> None:
    response = call_dataservice(topology, authorization)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_an_expired_token_is_401(topology: Topology) -> None:
    # The scenario signs with tokendealer's own key (mounted from keys/), so only the expiry is wrong.
    key = (HERE / "keys" / "tokendealer-test-key.pem").read_bytes()
    past = int(time.time()) - 3600
    expired = signed(key, tokendealer_kid(topology), iat=past, exp=past + 60)
    assert call_dataservice(topology, f"Bearer {signed(key, tokendealer_kid(topology))}").status_code == 200
    response = call_dataservice(topology, f"Bearer {expired}")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


def test_a_token_for_another_audience_is_401(topology: Topology) -> None:
    response = call_dataservice(topology, f"Bearer {get_token(topology, audience='other.example')}")
    assert response.status_code == 401


def test_a_forged_token_is_401(topology: Topology) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = call_dataservice(topology, f"Bearer {signed(forger, tokendealer_kid(topology))}")
    assert response.status_code == 401


def test_tokendealer_refuses_a_wrong_secret(topology: Topology) -> None:
    response = requests.post(topology["tokendealer"].url + "/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": "scenarios", "client_secret": "guess", "audience": "runnerly.io"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
