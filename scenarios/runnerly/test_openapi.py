"""Every Runnerly service that declares `openapi:` serves a valid OpenAPI document there."""

from __future__ import annotations

import pytest
import requests
from openapi_spec_validator import validate

from harness import Topology, load_topology

from .conftest import HERE

WITH_OPENAPI = [name for name, s in load_topology(HERE / "topology.yaml").services.items() if s.openapi]


@pytest.mark.parametrize("service", WITH_OPENAPI)
def test_the_openapi_document_is_served_and_valid(topology: Topology, service: str) -> None:
    response = requests.get(topology[service].url + topology.spec.services[service].openapi, timeout=10)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["paths"]


def test_dataservice_describes_stateful_links(topology: Topology) -> None:
    document = requests.get(topology["dataservice"].url + "/openapi.json", timeout=10).json()
    created = document["paths"]["/api/users"]["post"]["responses"]["201"]
    assert {link["operationId"] for link in created["links"].values()} >= {"getUser", "getRunsOfMonth"}
