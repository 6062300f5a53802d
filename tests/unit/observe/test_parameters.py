"""Observed calls against the parameters the provider's document declares (pure logic: the calls are given): a
required header, query or cookie parameter missing, or a value against its schema, breaks the document, as the drift
checks say of a pact (openapi-core)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts.drift.documents import load_document
from harness.model.loader import load_topology
from harness.observe import edge_coverage
from harness.runtime.observe import Observation, ObservedCall
from harness.runtime.observe_records import BodySample

APP = Path(__file__).parents[2] / "topologies" / "observe-app"
DOCUMENT = {
    "openapi": "3.0.3", "info": {"title": "stock", "version": "1"},
    "paths": {"/items/{id}": {"get": {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "X-Api-Key", "in": "header", "schema": {"type": "string", "pattern": "^k-[0-9]+$"}},
            {"name": "lang", "in": "query", "required": True, "schema": {"type": "string", "enum": ["en", "fr"]}},
            {"name": "Authorization", "in": "header", "required": True, "schema": {"type": "string"}}],  # ignored
        "responses": {"200": {"description": "the item"}}}}}}


def call(headers: tuple[tuple[str, str], ...], query: str = "lang=en", truncated: bool = False) -> ObservedCall:
    sample = BodySample("", "", 1, query=query, request_headers=(("Host", "stock:8000"), *headers),
                        request_headers_truncated=truncated)
    return ObservedCall("shop", "stock", 8000, "GET", "/items/1", ("lang",) if query else (), 200, "", 1, 0.01, 0.01,
                        0, 0, bodies=(sample,))


@pytest.fixture(scope="module")
def judged():  # noqa: ANN201
    def judge(*calls: ObservedCall):  # noqa: ANN202
        spec = load_topology(APP / "topology.yaml")
        [edge] = edge_coverage(spec, Observation(list(calls), [], {}), [],
                               {"stock": load_document(DOCUMENT, "stock.yaml")})
        return edge
    return judge


def test_a_call_with_the_parameters_the_document_requires_is_allowed(judged) -> None:
    # (without Authorization: an Accept, Content-Type or Authorization header parameter is ignored, as OpenAPI says)
    edge = judged(call((("x-tenant", "acme"), ("X-Api-Key", "k-12"))))  # (header names: any case, as HTTP says)
    assert (edge.calls, edge.breaking, edge.top_breaking) == (1, 0, ())


def test_a_required_header_or_query_parameter_missing_breaks_the_document(judged) -> None:
    no_header = judged(call(()))
    assert no_header.breaking == 1
    assert [(o.operation, o.says) for o in no_header.top_breaking] == [
        ("GET /items/{id} -> 200", "required header parameter 'X-Tenant'")]
    no_query = judged(call((("X-Tenant", "acme"),), query=""))
    assert [o.says for o in no_query.top_breaking] == ["required query parameter 'lang'"]
    wrong = judged(call((("X-Tenant", "acme"),), query="lang=de"))
    assert [o.says for o in wrong.top_breaking] == ["query parameter 'lang': 'de' is not one of ['en', 'fr']"]


def test_a_secret_header_s_value_is_never_said(judged) -> None:
    edge = judged(call((("X-Tenant", "acme"), ("X-Api-Key", "hunter2-secret"))))
    [operation] = edge.top_breaking
    assert "hunter2" not in operation.says
    assert operation.says == "header parameter 'X-Api-Key': '***' does not match '^k-[0-9]+$'"


def test_headers_cut_at_the_capture_s_limit_are_not_judged_against_the_document(judged) -> None:
    edge = judged(call((), truncated=True))  # (X-Tenant may be past the cut: not said missing)
    assert edge.breaking == 0 and edge.not_judged == 1
