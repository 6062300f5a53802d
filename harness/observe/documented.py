"""What a provider's OpenAPI document says of one observed call (its request as sent, its answer as given): every
finding of the drift checks (contracts/drift, `observed=True`), or why the call cannot be judged."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from harness.contracts.drift.adapter import Document
from harness.contracts.drift.checks import check_interaction
from harness.observe import pactmatch
from harness.runtime.observe import ObservedCall
from harness.runtime.observe_records import BodySample
from harness.runtime.observe_streams import BODY_LIMIT


@dataclass(frozen=True)
class NotJudged:
    """Why a call cannot be judged (against the pact or the document)."""

    why: str


def findings(document: Document, call: ObservedCall, sample: BodySample) -> tuple[str, ...] | NotJudged:
    """What the document says against `call` with the bodies of `sample`: every finding, each once, in text order
    (() when it allows it), or why it cannot be judged (a body cut at the capture's limit, an encoding that cannot
    be undone). The response is judged as schemathesis' checks judge one (`st run`'s response_schema_conformance:
    the schema as written, `required` and all; a status documented without content takes any body; a property the
    schema does not describe is allowed unless it says otherwise); a call without a response (status 0) has its
    request judged only. The request's parameters are judged as the drift checks judge a pact's (openapi-core: a
    required query, header or cookie parameter missing, a value against its schema), its headers as sent (Accept,
    Content-Type and Authorization parameters ignored, as OpenAPI says); with headers cut at the capture's limit,
    header and cookie parameters are not judged (Pact's replay says the call is not judged then). The response's
    headers are judged as openapi-core judges them: a required one missing, a value against its schema (a sample's
    calls had the same header names; a value is its first call's). Secret-bearing header values (request's and
    response's) are masked in what is said."""
    if sample.request_truncated or sample.response_truncated:
        return NotJudged(f"body over {size(BODY_LIMIT)}, the capture's limit")
    headers: dict[str, list[str]] = {}
    for name, value in sample.request_headers:
        headers.setdefault(name, []).append(value)
    request: dict[str, Any] = {"method": call.method, "path": call.path, "query": sample.query, "headers": headers}
    answered = sample.response_headers
    response: dict[str, Any] = {"status": call.status, "headers": {
        **{name: value for name, value in answered or () if name != "content-type"},
        **({"Content-Type": call.content_type} if call.content_type else {})}}
    parts = [(request, sample.request_body, sample.request_encoding, sample.request_content_type)]
    if call.status:
        parts.append((response, sample.response_body, sample.response_encoding, call.content_type))
    for part, text, encoding, content_type in parts:
        decoded = _decoded(text, encoding)
        if decoded is None:
            return NotJudged(f"body in an encoding the harness does not undo ({encoding})")
        if decoded:
            part["body"] = _body(decoded, content_type)
    interaction = {"description": f"{call.method} {call.path}", "type": "Synchronous/HTTP", "request": request,
                   "response": response if call.status else None}
    said: set[str] = set()
    judge_headers = answered is not None and bool(call.status)
    for finding in check_interaction(document, interaction, observed=True, headers=judge_headers).findings:
        if finding.pointer.lower() in _IGNORED_HEADERS or \
                sample.request_headers_truncated and finding.pointer.startswith("/request/header"):
            continue
        says = pactmatch.masked(finding.spec_says,
                                pactmatch.Request("", "", "", sample.request_headers + (answered or ()), ""))
        if says.startswith("content types:"):  # (say what was sent beside what the document allows)
            answer = finding.pointer.startswith("/response")
            sent = (call.content_type if answer else sample.request_content_type).split(";")[0].strip()
            says = f"{'answered' if answer else 'sent'} {sent or 'no content type'}; the document's {says}"
        said.add(says)
    return tuple(sorted(said))


# header parameters OpenAPI says to ignore ("If in is "header" and the name field is "Accept", "Content-Type" or
# "Authorization", the parameter definition SHALL be ignored"; openapi-core judges them)
_IGNORED_HEADERS = {f"/request/headers/{name}" for name in ("accept", "content-type", "authorization")}


def _decoded(text: str, encoding: str) -> str | None:
    """A body as sent, its Content-Encoding undone (gzip, deflate); None: an encoding not undone (br, ...)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings or not text:
        return text
    data = text.encode("latin-1")
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                data = zlib.decompress(data)
            else:
                return None
    except zlib.error:
        return None
    return data.decode("latin-1")


def size(count: int) -> str:
    """A byte count as said: "1 MiB", "16 KiB", "300 bytes"."""
    return f"{count >> 20} MiB" if count >= 1 << 20 and not count % (1 << 20) else \
        f"{count >> 10} KiB" if count >= 1 << 10 and not count % (1 << 10) else f"{count} bytes"


def _body(text: str, content_type: str) -> dict[str, Any]:
    """A body as a V4 pact holds it: JSON parsed (a JSON type that does not parse stays text, and breaks the
    document as it should)."""
    content: Any = text
    if content_type.split(";")[0].strip().endswith("json"):
        try:
            content = json.loads(text.encode("latin-1").decode("utf-8"))  # (kept byte for byte: JSON is UTF-8)
        except ValueError:
            pass
    return {"content": content, "contentType": content_type or "text/plain"}
