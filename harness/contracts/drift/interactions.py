"""A pact interaction as the request and the response the validators read (openapi-core's Request and Response
protocols): V2, V3 and V4 pacts, their query strings or maps, headers, cookies and bodies (JSON, text, base64)."""

from __future__ import annotations

import base64
import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from harness.contracts.drift.adapter import request_parameters


def is_http(interaction: dict[str, Any]) -> bool:
    return "request" in interaction and interaction.get("type", "Synchronous/HTTP") == "Synchronous/HTTP"


class PactRequest:
    """The request of an interaction, in the shape openapi-core reads (its Request protocol)."""

    def __init__(self, interaction: dict[str, Any]) -> None:
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        request = interaction["request"]
        self.host_url = "http://provider"
        self.path = str(request.get("path") or "/")
        self.full_url_pattern = self.host_url + self.path
        self.method = str(request.get("method", "GET")).lower()
        query = request.get("query") or {}
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else \
            [(k, str(v)) for k, values in query.items() for v in (values if isinstance(values, list) else [values])]
        self.headers = _headers(request.get("headers"))
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        self.parameters = request_parameters(query=ImmutableMultiDict(pairs), header=Headers(self.headers),
                                             cookie=ImmutableMultiDict({k: m.value for k, m in cookie.items()}))
        self.body, self.content_type = _body(interaction, request, self.headers)


class PactResponse:
    """The response of an interaction, in the shape openapi-core reads (its Response protocol)."""

    def __init__(self, interaction: dict[str, Any]) -> None:
        response = interaction.get("response") or {}
        self.status_code = int(response.get("status", 200))
        self.headers = _headers(response.get("headers"))
        self.data, content_type = _body(interaction, response, self.headers)
        self.content_type = content_type or "application/json"


def _headers(headers: Any) -> Any:
    """Pact headers (V2/V3: a string; V4: a list of strings) as werkzeug Headers (case-insensitive, multi-valued)."""
    from werkzeug.datastructures import Headers

    pairs = Headers()
    for name, value in (headers or {}).items():
        for one in value if isinstance(value, list) else [value]:
            pairs.add(name, str(one))
    return pairs


def _body(interaction: dict[str, Any], part: dict[str, Any], headers: Any) -> tuple[bytes | None, str | None]:
    """The body of a request or response as bytes and its content type (V4: {content, contentType, encoded};
    V2/V3: the value itself, JSON unless a Content-Type header says otherwise). (None, None) without a body."""
    if "body" not in part or part["body"] is None:
        return None, headers.get("Content-Type")
    body = part["body"]
    content_type = headers.get("Content-Type")
    if "type" in interaction and isinstance(body, dict) and "content" in body:  # V4
        content_type = body.get("contentType") or content_type
        content, encoded = body["content"], body.get("encoded")
        if isinstance(encoded, str) and encoded.lower() == "base64" or encoded is True:
            return base64.b64decode(content), content_type
        body = content
    if isinstance(body, str) and not (content_type or "").split(";")[0].strip().endswith("json"):
        return body.encode("utf-8"), content_type or "text/plain"
    return json.dumps(body).encode("utf-8"), content_type or "application/json"
