"""The checks of one HTTP interaction against a document: the operation exists, its parameters and request body are
valid, the response status is documented and the response body validates (loosely: nothing required) and is
described (strictly: no property the spec does not know); an observed answer is judged against the document as
written. Each disagreement is a Finding with JSON pointers into the
interaction and into the document."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from harness.contracts.drift.adapter import (
    BodyError,
    Document,
    NoOperation,
    NoPath,
    NoResponse,
    ParameterError,
    body_errors,
    documented_response,
    find_operation,
    header_errors,
    parameter_errors,
    path_template,
    response_errors,
)
from harness.contracts.drift.interactions import PactRequest, PactResponse, is_http
from harness.contracts.drift.results import CLEAN, DRIFT, NOT_APPLICABLE, Finding, InteractionDrift


def check_interaction(document: Document, interaction: dict[str, Any], observed: bool = False,
                      headers: bool = False) -> InteractionDrift:
    """The drift of one interaction (an HTTP one; others are not applicable). `observed`: a call seen in traffic
    (harness.observe), whose response is what the provider really answered, judged as schemathesis' default checks
    judge one (content_type_conformance, response_schema_conformance) against the document as written (`required`,
    `additionalProperties`, formats): a status documented without content takes any body, and a property the schema
    does not describe is allowed unless it says so; an observed call without "response" (none was seen) has its
    request judged only. `headers`: the response's headers are all it was answered with, judged as openapi-core
    judges them (a required one missing, a value against its schema; Content-Type left to the body's check); a
    pact's, which may leave out what its consumer does not read, are not."""
    description = interaction["description"]
    if not is_http(interaction):
        kind = interaction.get("type") or "message"
        return InteractionDrift(description, NOT_APPLICABLE,
                                reason=f"a {kind} interaction has no HTTP request to check against OpenAPI")
    request, response = PactRequest(interaction), PactResponse(interaction)
    findings: list[Finding] = []
    located = _locate(document, request)
    if isinstance(located, Finding):
        return InteractionDrift(description, DRIFT, [located])
    template, operation = located
    label = f"{request.method.upper()} {template}"
    op_pointer = f"#/paths/{_escape(template)}/{request.method}"
    for error in parameter_errors(document, request):
        findings += _parameter_findings(error, request, op_pointer)
    if request.body is not None and "requestBody" not in operation:
        findings.append(Finding("/request/body", _short(request.body), f"{label} takes no request body",
                                op_pointer))
    else:
        for body_error in body_errors(document, request):
            findings += _body_findings(body_error, request.body, "/request/body", f"{op_pointer}/requestBody",
                                       request.content_type)
    if not (observed and interaction.get("response") is None):
        findings += _response_findings(document, request, response, operation, label, op_pointer, observed)
        if headers:
            findings += [_header_finding(error, response, f"{op_pointer}/responses/{response.status_code}/headers")
                         for error in header_errors(document, request, response)]
    return InteractionDrift(description, DRIFT if findings else CLEAN, findings, operation=label)


def _locate(document: Document, request: PactRequest) -> tuple[str, Any] | Finding:
    """(path template, operation) of the request, or the finding that says there is none."""
    try:
        return find_operation(document.spec, request.method, request.full_url_pattern)
    except NoOperation:
        item = next((p for p in (document.spec / "paths").keys() if _matches(p, request.path, document)), None)
        methods = sorted(m.upper() for m in (document.spec / "paths" / item).keys()
                         if m in ("get", "put", "post", "delete", "options", "head", "patch", "trace")) \
            if item else []
        return Finding("/request/method", request.method.upper(),
                       f"path {item or request.path} has no {request.method.upper()} operation"
                       + (f" (it has {', '.join(methods)})" if methods else ""),
                       f"#/paths/{_escape(item)}" if item else "#/paths")
    except NoPath:
        base = (document.spec / "servers" / 0 / "url").read_str()
        known = sorted((document.spec / "paths").keys())
        return Finding("/request/path", request.path,
                       f"no path of the document matches it (base path {base}; paths: "
                       f"{', '.join(known[:12])}{', ...' if len(known) > 12 else ''})", "#/paths")


def _matches(template: str, path: str, document: Document) -> bool:
    return path_template(document.spec, "http://provider" + path) == template


def _parameter_findings(error: ParameterError, request: PactRequest, op_pointer: str) -> list[Finding]:
    if error.location is None:
        return [Finding("/request", "", error.text, op_pointer)]
    where = {"query": "query", "header": "headers", "path": "path", "cookie": "headers/Cookie"}[error.location]
    pointer = f"/request/{where}" if error.location == "path" else f"/request/{where}/{_escape(error.name)}"
    spec_pointer = f"{op_pointer}/parameters ({error.location} parameter {error.name})"
    if error.missing:
        return [Finding(pointer, "absent", f"required {error.location} parameter '{error.name}'", spec_pointer)]
    readers: dict[str, Callable[[], object]] = {
        "query": lambda: request.parameters.query.getlist(error.name),
        "header": lambda: request.parameters.header.getlist(error.name),
        "cookie": lambda: request.parameters.cookie.get(error.name),
        "path": lambda: request.path}
    actual = readers[error.location]()
    return [Finding(pointer, _short(actual[0] if isinstance(actual, list) and len(actual) == 1 else actual),
                    f"{error.location} parameter '{error.name}': {msg}", spec_pointer)
            for msg in _schema_messages(error.cause)]


def _header_finding(error: ParameterError, response: PactResponse, spec_pointer: str) -> Finding:
    pointer = f"/response/headers/{_escape(error.name)}"
    if error.missing:
        return Finding(pointer, "absent", f"required response header '{error.name}'", spec_pointer)
    return Finding(pointer, _short(response.headers.get(error.name, "")),
                   f"response header '{error.name}': {'; '.join(_schema_messages(error.cause))}", spec_pointer)


def _body_findings(error: BodyError, body: bytes | None, pointer: str, spec_pointer: str,
                   content_type: str | None, keep: Callable[[Any], bool] = lambda schema_error: True
                   ) -> list[Finding]:
    if error.media_types is not None:
        return [Finding(f"{pointer}/contentType", str(content_type),
                        f"content types: {', '.join(error.media_types)}", f"{spec_pointer}/content")]
    if not error.schema_errors:
        return [Finding(pointer, _short(body), error.text, spec_pointer)]
    value = _decoded(body)
    found: list[Finding] = []
    for schema_error in filter(keep, _one_per_fault(error.schema_errors)):
        at = list(schema_error.absolute_path)
        keyword = "/".join(_escape(str(k)) for k in schema_error.absolute_schema_path)
        where = f"{spec_pointer}/content/{_escape(content_type or '')}/schema" + (f"/{keyword}" if keyword else "")
        instance = schema_error.instance
        # a property the spec does not describe: point at the property itself (jsonschema names it in the message)
        extra = [k for k in instance if repr(k) in schema_error.message] if isinstance(instance, dict) and \
            schema_error.validator in ("additionalProperties", "unevaluatedProperties") else []
        for path in [[*at, key] for key in extra] or [at]:
            message = f"property '{path[-1]}' is not described by the schema" if extra else schema_error.message
            found.append(Finding(pointer + "".join(f"/{_escape(str(k))}" for k in path), _short(_at(value, path)),
                                 message, where))
    return found


def _response_findings(document: Document, request: PactRequest, response: PactResponse, operation: Any,
                       label: str, op_pointer: str, observed: bool = False) -> list[Finding]:
    try:
        documented = documented_response(operation, response.status_code)
    except NoResponse as error:
        return [Finding("/response/status", str(response.status_code),
                        f"{label} documents {', '.join(sorted(map(str, error.available)))}",
                        f"{op_pointer}/responses")]
    status_key = str(documented.name)  # "200", "2XX" or "default"
    spec_pointer = f"{op_pointer}/responses/{status_key}"
    if response.data is None:
        return []  # the pact says nothing about the body: nothing to disagree with
    if "content" not in documented:
        if observed:
            return []  # (schemathesis: nothing documented, nothing to check)
        return [Finding("/response/body", _short(response.data), f"status {status_key} is documented without a body",
                        spec_pointer)]
    found: list[Finding] = []
    invalid: list[list[Any]] = []  # where the body breaks the spec's own rules
    # (a pact may leave out what its consumer does not read: judged loosely; an observed answer is all there is)
    for body_error in response_errors(document, request, response, written=observed):
        invalid += [list(e.absolute_path) for e in body_error.schema_errors or []]
        found += _body_findings(body_error, response.data, "/response/body", spec_pointer, response.content_type)
    if observed:
        return found

    def undescribed(schema_error: Any) -> bool:
        # A value that already breaks the spec's rules makes its composition branches fail, and a failed branch
        # describes nothing: its properties would all count as undescribed. Only values that pass say so truly.
        at = list(schema_error.absolute_path)
        return schema_error.validator == "unevaluatedProperties" and not any(p[:len(at)] == at for p in invalid)

    for body_error in response_errors(document, request, response, strict=True):
        if body_error.schema_errors:
            found += _body_findings(body_error, response.data, "/response/body", spec_pointer,
                                    response.content_type, keep=undescribed)
    return found


NOT_NULLABLE = "None for not nullable"  # openapi-schema-validator's OAS 3.0 `type`, before its own type error


def _one_per_fault(schema_errors: Any) -> list[Any]:
    """The schema errors, one per fault. openapi-schema-validator (0.8) says a null where `type` does not allow it
    twice at the same place ("None for not nullable", then "None is not of type 'string'"): one fault, said once,
    as jsonschema says it (and schemathesis' response_schema_conformance, on the same body)."""
    typed = {(tuple(e.absolute_path), tuple(e.absolute_schema_path)) for e in schema_errors
             if e.validator == "type" and e.message != NOT_NULLABLE}
    return [e for e in schema_errors if not (e.validator == "type" and e.message == NOT_NULLABLE and
                                             (tuple(e.absolute_path), tuple(e.absolute_schema_path)) in typed)]


def _schema_messages(cause: BaseException | None) -> list[str]:
    errors = getattr(cause, "schema_errors", None)
    if errors:
        return [e.message for e in _one_per_fault(errors)]
    return [str(cause) if cause else "invalid"]


def _decoded(body: bytes | None) -> Any:
    try:
        return json.loads(body or b"")
    except ValueError:
        return (body or b"").decode("utf-8", "replace")


def _at(value: Any, path: list[Any]) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return "absent"
    return value


def _short(value: Any, limit: int = 160) -> str:
    if isinstance(value, bytes):
        value = _decoded(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _escape(token: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")
