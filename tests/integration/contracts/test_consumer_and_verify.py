"""Consumer tests and --pact-verify in one pytest session: the verify items read the pact files at collection, the
consumer tests rewrite them at the session's end. A verdict of the old pact must not stand for the new one (the same
command would pass, then fail, or the reverse)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import TOPOLOGIES

TOPOLOGY = f"""
name: consumer-and-verify
contracts:
  state_url: {{shop: /_pact/provider_states}}
services:
  shop:
    build: {TOPOLOGIES / "pact-shop"}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
"""

CONSUMER_TEST = """
import requests

def test_web_reads_the_items(pact):
    p = pact("web-frontend", "shop")
    p.upon_receiving("a request").with_request("GET", "PATH").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}PATH").status_code == 200
"""


def run(project: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    (project / "test_consumer.py").write_text(CONSUMER_TEST.replace("PATH", path))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir", "pacts",
                           "test_consumer.py", *args], cwd=project, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_a_pact_the_session_rewrote_after_verifying_it_fails_the_session(tmp_path: Path, xdist: list[str]) -> None:
    """Under xdist the controller writes the pacts the workers merged, and checks them as a serial session does."""
    (tmp_path / "topology.yaml").write_text(TOPOLOGY)
    first = run(tmp_path, "/items")  # the consumer tests alone: the pact the provider keeps
    assert first.returncode == 0, first.stdout + first.stderr
    pact = tmp_path / "pacts" / "web-frontend-shop.json"
    assert pact.is_file()

    # the consumer now expects a route the shop does not have; the session verifies the old pact (it passes)
    both = run(tmp_path, "/nothing-here", "--topology", "topology.yaml", "--pact-verify", *xdist)
    assert both.returncode == 1, both.stdout + both.stderr
    assert "[100%]pacts written" not in both.stdout  # on a line of its own
    assert ("ERROR: pacts/web-frontend-shop.json verified as it was before this session's consumer tests rewrote it: the "
            "verdict above is of the old pact") in " ".join(both.stdout.split()), both.stdout

    again = run(tmp_path, "/nothing-here", "--topology", "topology.yaml", "--pact-verify")  # the new pact: failed
    assert again.returncode == 1, again.stdout + again.stderr
    assert "verified as it was before" not in again.stdout
