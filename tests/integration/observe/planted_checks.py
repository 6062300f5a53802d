"""Planted calls between Runnerly's services, which none of Runnerly's own scenarios make (run by
tests/integration/observe/test_runnerly.py with one of those scenarios and --observe). Each call is made by a service
itself, from inside its container (as its own code would), so the capture sees it on that service's edge."""

from __future__ import annotations

import json

from harness import Topology

CALL = """
import json, sys, urllib.error, urllib.request
try:
    status = urllib.request.urlopen(sys.argv[1], timeout=10).status
except urllib.error.HTTPError as error:
    status = error.code
print(json.dumps({"status": status}))
"""


def call_from(topology: Topology, service: str, url: str) -> int:
    result = topology[service].exec(["python", "-c", CALL, url])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output.strip().splitlines()[-1])["status"])


def test_the_gateway_lists_users_which_no_pact_of_it_does(topology: Topology) -> None:
    # GET /api/users is in dataservice's document; no interaction of gateway-dataservice.json asks for it
    assert call_from(topology, "gateway", "http://dataservice:8080/api/users") == 401  # (no token: refused)


def test_dataservice_answers_a_path_its_document_lacks(topology: Topology) -> None:
    assert call_from(topology, "gateway", "http://dataservice:8080/api/nothing-here") == 404


def test_strava_calls_the_tokendealer_with_no_pact_between_them(topology: Topology) -> None:
    assert call_from(topology, "strava", "http://tokendealer:8080/health") == 200


def test_the_gateway_talks_to_redis_which_is_counted_not_parsed(topology: Topology) -> None:
    script = ("import socket; s = socket.create_connection(('redis', 6379), timeout=10); s.sendall(b'PING\\r\\n'); "
              "print(s.recv(100)); s.close()")
    result = topology["gateway"].exec(["python", "-c", script])
    assert result.exit_code == 0 and "PONG" in result.output, result.output
