"""The harness's own calls are not the tests', against the real engine: its fetch of a served OpenAPI document
(`openapi: /openapi.json`, made while the capture runs) comes from the tests' address, carries the header
`X-Pytest-Topology: openapi-document`, and is counted apart; what the tests' own calls break is said."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from harness.model.loader import load_topology
from harness.observe import ObserveRun
from harness.report.observe import observed_text
from harness.runtime.observe import OUTSIDE
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def buggy() -> Iterator[Topology]:
    with Topology.start(load_topology(TOPOLOGIES / "buggy.yaml")) as topology:  # (its document: served only)
        yield topology


def test_the_harness_s_fetch_of_a_served_document_is_not_a_call_of_the_tests(buggy: Topology) -> None:
    run = ObserveRun(buggy.spec, buggy)
    run.start()
    try:
        assert requests.get(f"{buggy['buggy'].url}/stats", timeout=30).status_code == 200  # (count: a string)
    finally:
        result = run.finish()
    [tests] = result.edges
    assert (tests.consumer, tests.provider, tests.calls, tests.breaking, result.own_calls) == (OUTSIDE, "buggy", 1,
                                                                                               1, 1)
    text = observed_text(result)
    assert "  (tests) -> buggy: 1 HTTP call(s), 1 breaking the provider's document\n" \
           "    breaks the document: GET /stats -> 200: 1 call(s): '0' is not of type 'integer'\n" in text
    assert "the harness's own calls (fetching OpenAPI documents): 1, not counted\n" in text
