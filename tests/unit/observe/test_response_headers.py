"""An observed answer's headers are judged as openapi-core judges them (pure logic: the calls are given): a required
header the answer lacks breaks the document, whether the header is written in place or named by `$ref`; a value
against its schema too, a secret's value masked in what is said; a record without the answer's headers (captured
before they were kept) leaves them unjudged rather than missing (#26, trial t26f: a 202 without its Location
passed --observe-strict)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.contracts.drift.documents import load_document
from harness.observe.documented import findings
from harness.runtime.observe import ObservedCall
from harness.runtime.observe_records import BodySample

LOCATION = {"required": True, "schema": {"type": "string"}}
SESSION = {"schema": {"type": "integer"}}


def document(location: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "payments", "version": "1"},
            "paths": {"/payments": {"post": {"responses": {"202": {
                "description": "accepted",
                "headers": {"Location": location, "X-Session-Token": {"$ref": "#/components/headers/Session"}},
                "content": {"application/json": {"schema": {"type": "object"}}}}}}}},
            "components": {"headers": {"Location": LOCATION, "Session": SESSION}}}


def judged(data: dict[str, Any], answered: tuple[tuple[str, str], ...] | None) -> tuple[str, ...] | object:
    sample = BodySample("", '{"id": 1}', 1, request_headers=(("Host", "payments:8000"),), response_headers=answered)
    call = ObservedCall("checkout", "payments", 8000, "POST", "/payments", (), 202, "application/json", 1, 0.01,
                        0.01, 0, 9, bodies=(sample,))
    return findings(load_document(data, "payments.yaml"), call, sample)


@pytest.mark.parametrize("location", [LOCATION, {"$ref": "#/components/headers/Location"}],
                         ids=["in place", "by $ref"])
def test_an_answer_without_its_required_header_breaks_the_document(location: dict[str, Any]) -> None:
    data = document(location)
    assert judged(data, (("content-type", "application/json"),)) == ("required response header 'Location'",)
    assert judged(data, (("content-type", "application/json"), ("location", "/payments/1"))) == ()


def test_a_header_value_against_its_schema_breaks_it_and_a_secret_is_not_said() -> None:
    said = judged(document(LOCATION), (("location", "/payments/1"), ("x-session-token", "s3cr3t-value")))
    assert said == ("response header 'X-Session-Token': Failed to cast value to integer type: ***",)  # (openapi-core)


def test_a_record_without_the_answer_s_headers_leaves_them_unjudged() -> None:
    assert judged(document(LOCATION), None) == ()
