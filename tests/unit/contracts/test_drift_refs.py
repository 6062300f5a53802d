"""A document that names its parts by `$ref` is judged as the same document written out in full (openapi-core's
answer on both): responses, a response naming another, schemas inside a named response, path items. An observed
answer is judged as written (`required` and all), a pact's loosely and strictly (#26: a `$ref`'d error response was
never judged, because the pact views were made by changing the very nodes the written document read)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.contracts.drift.checks import check_interaction
from harness.contracts.drift.documents import load_document

ERROR = {"type": "object", "required": ["code", "message"],
         "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
RESPONSE = {"description": "an error", "content": {"application/json": {"schema": ERROR}}}


GET = {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
       "responses": {"200": {"description": "a payment"}, "404": {"$ref": "#/components/responses/Error"}}}


def document(responses: dict[str, Any], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "payments", "version": "1"},
            "paths": {"/payments/{id}": {"get": GET}},
            "components": {"responses": responses, "schemas": schemas or {}}}


def said(data: dict[str, Any], body: dict[str, Any], observed: bool) -> list[str]:
    interaction = {"description": "GET one", "type": "Synchronous/HTTP",
                   "request": {"method": "GET", "path": "/payments/7"},
                   "response": {"status": 404, "headers": {"Content-Type": "application/json"},
                                "body": {"content": body, "contentType": "application/json"}}}
    return [f.spec_says for f in check_interaction(load_document(copy.deepcopy(data), "payments.yaml"),
                                                   interaction, observed=observed).findings]


REFERENCED = document({"Error": RESPONSE})
CHAINED = document({"Error": {"$ref": "#/components/responses/Failure"},
                    "Failure": {"description": "an error",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
                   {"Error": ERROR})
PATH_ITEM = {**REFERENCED, "openapi": "3.1.0", "paths": {"/payments/{id}": {"$ref": "#/components/pathItems/Payment"}},
             "components": {**REFERENCED["components"], "pathItems": {"Payment": {"get": GET}}}}


@pytest.mark.parametrize("data", [REFERENCED, CHAINED, PATH_ITEM], ids=["response", "chain+schema", "path item"])
def test_an_observed_answer_without_a_required_property_breaks_a_response_given_by_ref(data) -> None:
    assert said(data, {"message": "nope"}, observed=True) == ["'code' is a required property"]
    assert said(data, {"code": "E1", "message": "nope", "more": 1}, observed=True) == []


@pytest.mark.parametrize("data", [REFERENCED, CHAINED, PATH_ITEM], ids=["response", "chain+schema", "path item"])
def test_a_pact_is_judged_loosely_and_strictly_through_the_refs(data) -> None:
    assert said(data, {"message": "nope"}, observed=False) == []  # (a consumer may read fewer fields)
    assert said(data, {"message": "nope", "more": 1}, observed=False) == \
        ["property 'more' is not described by the schema"]


@pytest.mark.parametrize("data", [REFERENCED, CHAINED], ids=["response", "chain+schema"])
def test_the_document_as_written_is_the_one_given(data) -> None:
    """(the loose and strict views of a pact are copies: making them leaves the written document as it was)"""
    error = load_document(copy.deepcopy(data), "payments.yaml").spec / "paths" / "/payments/{id}" / "get" / \
        "responses" / "404" / "content" / "application/json" / "schema"
    with error.open() as schema:
        assert schema == ERROR
