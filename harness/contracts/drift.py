"""Pact <-> OpenAPI drift, statically: every HTTP interaction of a pact checked against its provider's OpenAPI document,
without starting anything (PactFlow calls this bi-directional contract testing).

For each interaction, openapi-core (on the document, $refs resolved) checks that the operation exists (templated paths,
the spec's base path), that the path, query and header parameters are present and valid, that the request body
validates against the schema of its content type, that the response status is documented (or a `2XX` / `default`
response), and that the response body validates against its schema. The pact's example values are what is checked:
V2 JSONPath and V3/V4 matching rules keep the example in the body, so the body is the example.

A consumer may read fewer fields than the provider sends (Postel's law, as Pact itself verifies): a property the spec
requires but the pact's response leaves out is no drift; a property the pact expects and the spec does not describe is
one (undeclared `additionalProperties` count as forbidden in responses). Security requirements are not checked: a
pact may record a request without credentials on purpose (a 401 interaction).

Verdicts per pact: clean, drift (with findings), error (a reason: unreadable pact, provider not in the topology, no
document to be had), not applicable (a reason: message pact, provider without `openapi:`). Returns results; never
prints.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from harness.contracts.names import mapping_hint, service_for
from harness.contracts.pactfiles import PactFile, read_pact
from harness.errors import HarnessError, MalformedPact, SpecUnavailable
from harness.spec.model import ServiceSpec, TopologySpec

CLEAN, DRIFT, ERROR, NOT_APPLICABLE = "clean", "drift", "error", "not applicable"
DOCUMENT_NAMES = ("openapi", "swagger")
DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Finding:
    """One disagreement. `pointer` is a JSON pointer into the interaction (`/response/body/0/distance`),
    `spec_pointer` one into the OpenAPI document (`#/paths/~1users~1{id}/get/responses`)."""

    pointer: str
    pact_says: str
    spec_says: str
    spec_pointer: str = ""


@dataclass
class InteractionDrift:
    description: str
    verdict: str  # clean | drift | not applicable
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""  # why not applicable
    operation: str = ""  # "GET /api/users/{id}" when found


@dataclass
class PactDrift:
    """The drift verdict of one pact file."""

    path: Path
    consumer: str
    provider: str
    verdict: str  # clean | drift | error | not applicable
    reason: str = ""  # for error and not applicable
    source: str = ""  # where the OpenAPI document came from
    interactions: list[InteractionDrift] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def edge(self) -> str:
        return f"{self.consumer}->{self.provider}"

    @property
    def findings(self) -> list[tuple[str, Finding]]:
        return [(i.description, f) for i in self.interactions for f in i.findings]


@dataclass(frozen=True)
class Document:
    """An OpenAPI document ready to check against: openapi-core's spec and validators, and where it came from."""

    source: str
    spec: Any  # jsonschema_path.SchemaPath
    parameters: Any
    body: Any
    response: Any  # response schemas that require nothing
    strict: Any  # ... and that describe every property (unevaluatedProperties: false)


# --- where the document comes from ------------------------------------------------------------------------------

def find_document(topology: TopologySpec, service: str,
                  fetch: Callable[[str, str], tuple[str, str]] | None = None) -> tuple[Any, str, Path | None]:
    """The raw OpenAPI document of `service` and a sentence saying where it came from.

    `openapi:` is either a file next to the topology (read it) or a path the service serves: then a document of that
    name (or openapi/swagger .json/.yaml/.yml) in the service's build context, else `fetch(service, path)` (text,
    source) from a running topology. Returns (data, source, file or None).

    Raises:
        SpecUnavailable: no document can be had, or it is not JSON/YAML; the message says what was tried.
    """
    spec = topology.services[service]
    location = spec.openapi or ""
    if not location.startswith("/"):
        file = (topology.base_dir / location).resolve()
        if not file.is_file():
            raise SpecUnavailable(f"service '{service}': `openapi: {location}` is neither a file next to the topology "
                                  f"(no {file}) nor a path the service serves (one starting with /)")
        return _parse(file.read_text(encoding="utf-8"), str(file), service), f"file {file}", file
    found = build_context_document(topology, spec, location)
    if found is not None:
        return (_parse(found.read_text(encoding="utf-8"), str(found), service),
                f"file {found} in the build context of {service} (it serves {location})", found)
    context = f"no document in its build context {_context_dir(topology, spec)}" if spec.build else \
        f"it has no build context (image {spec.image})"
    if fetch is not None:
        text, source = fetch(service, location)
        return _parse(text, source, service), source, None
    raise SpecUnavailable(f"service '{service}' serves its OpenAPI document at {location}: {context}, and no "
                          f"running topology to fetch it from. Start one with `harness up --detach "
                          f"{topology.file}`, or point `openapi:` at a file next to the topology.")


def build_context_document(topology: TopologySpec, spec: ServiceSpec, served: str) -> Path | None:
    """The file in the service's build context that it serves at `served`: the served name itself, then the same
    stem, then openapi.* / swagger.*, at the context's top and then one folder down. None without a match."""
    if spec.build is None:
        return None
    context = _context_dir(topology, spec)
    served_name = served.rstrip("/").rsplit("/", 1)[-1]
    stem = served_name.rsplit(".", 1)[0] if "." in served_name else served_name
    names = [served_name] + [f"{base}{suffix}" for base in dict.fromkeys((stem, *DOCUMENT_NAMES))
                             for suffix in DOCUMENT_SUFFIXES]
    folders = [context] + sorted(p for p in context.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if context.is_dir() else []
    for folder in folders:
        for name in names:
            if name and (folder / name).is_file():
                return folder / name
    return None


def _context_dir(topology: TopologySpec, spec: ServiceSpec) -> Path:
    assert spec.build is not None
    return (topology.base_dir / spec.build.context).resolve()


def _parse(text: str, where: str, service: str) -> Any:
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # JSON is YAML; libyaml: fast
    except yaml.YAMLError as error:
        raise SpecUnavailable(f"service '{service}': its OpenAPI document {where} is neither JSON nor YAML: "
                              f"{str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not ({"openapi", "swagger"} & set(data)):
        raise SpecUnavailable(f"service '{service}': {where} is not an OpenAPI document (no `openapi:` or "
                              "`swagger:` key at the top)")
    return data


def running_fetcher(topology: TopologySpec, running: Any = None) -> Callable[[str, str], tuple[str, str]]:
    """A fetch function for find_document: the document from `running` (a runtime Topology, e.g. the one `harness
    verify` started), else from the topology started with `harness up --detach`, one GET per service. Raises
    SpecUnavailable when none runs (or no engine answers) or the GET fails."""
    state: dict[str, Any] = {} if running is None else {"topology": running}

    def fetch(service: str, path: str) -> tuple[str, str]:
        import requests

        if "topology" not in state:
            from harness.runtime.topology import Topology

            try:
                state["topology"] = Topology.attach(topology)
            except HarnessError:  # no engine: same answer as no running topology
                state["topology"] = None
        running = state["topology"]
        if running is None or service not in running.services or not running[service].ports:
            where = f"its build context {_context_dir(topology, topology.services[service])}" \
                if topology.services[service].build else "it has no build context"
            raise SpecUnavailable(f"service '{service}' serves its OpenAPI document at {path}: no document in "
                                  f"{where}, and no running topology {topology.project} to fetch it from. Start one "
                                  f"with `harness up --detach {topology.file}`, or point `openapi:` at a file next "
                                  "to the topology.")
        url = running[service].url + path
        try:
            response = requests.get(url, timeout=10)
            response.raise_for_status()
        except requests.RequestException as error:
            raise SpecUnavailable(f"service '{service}': cannot fetch its OpenAPI document from {url}: {error}") \
                from None
        return response.text, f"served by the running topology at {url} (run {running.run_id})"

    return fetch


# --- the document, made checkable --------------------------------------------------------------------------------

def load_document(data: dict[str, Any], source: str, file: Path | None = None) -> Document:
    """openapi-core validators for `data` (OpenAPI 3.0/3.1, or Swagger 2 upgraded to 3.0). Only the path part of the
    server URL counts (servers[0] in OpenAPI 3, basePath in Swagger 2).

    Raises:
        SpecUnavailable: the document is not a valid OpenAPI document (openapi-spec-validator's first complaint).
    """
    from jsonschema_path import SchemaPath
    from openapi_core import OpenAPI

    data = swagger2_to_openapi3(data) if str(data.get("swagger", "")).startswith("2") else copy.deepcopy(data)
    _servers_as_paths(data)
    spec = SchemaPath.from_dict(data, base_uri=file.resolve().as_uri() if file else "")
    try:
        OpenAPI(spec)  # checks the document (openapi-spec-validator)
    except Exception as error:  # noqa: BLE001 - openapi-spec-validator's errors have no common base worth naming
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SpecUnavailable(f"the OpenAPI document ({source}) is not valid: {first}") from None
    from openapi_core.validation.request import (
        V30RequestBodyValidator,
        V30RequestParametersValidator,
        V31RequestBodyValidator,
        V31RequestParametersValidator,
    )
    from openapi_core.validation.response import V30ResponseDataValidator, V31ResponseDataValidator

    v31 = str(data.get("openapi", "")).startswith("3.1")
    parameters, body, response = ((V31RequestParametersValidator, V31RequestBodyValidator, V31ResponseDataValidator)
                                  if v31 else
                                  (V30RequestParametersValidator, V30RequestBodyValidator, V30ResponseDataValidator))
    uri = file.resolve().as_uri() if file else ""
    loose = SchemaPath.from_dict(strict_responses(data, close=False), base_uri=uri)
    strict = SchemaPath.from_dict(strict_responses(data), base_uri=uri)
    options = {} if v31 else {"schema_validators_factory": _oas30_with_unevaluated()}
    return Document(source, spec, parameters(spec), body(spec), response(loose), response(strict, **options))


def strict_responses(data: dict[str, Any], close: bool = True) -> dict[str, Any]:
    """A copy of the document whose response schemas require nothing (a consumer reads fewer fields than the provider
    sends: Pact's own rule) and say `unevaluatedProperties: false` on every object schema that lists properties and
    leaves additional ones unsaid: a property the pact expects that the spec does not describe
    is a drift (as PactFlow judges it), while properties brought in by allOf/anyOf/oneOf and $ref still count as
    described (that is what `unevaluatedProperties` means in JSON Schema 2019-09+). Local $refs are inlined so that
    a component stays open where it is only one branch of a composition; a recursive $ref is left as it is.
    `close=False`: only the `required` lists are dropped."""
    out = copy.deepcopy(data)
    for item in (out.get("paths") or {}).values():
        for operation in (item.values() if isinstance(item, dict) else ()):
            for response in ((operation.get("responses") or {}).values() if isinstance(operation, dict) else ()):
                if isinstance(response, dict) and "$ref" in response:
                    response.update(_resolve(data, response.pop("$ref")) or {})
                for media in ((response.get("content") or {}).values() if isinstance(response, dict) else ()):
                    if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                        media["schema"] = _closed(media["schema"], data, frozenset(), close, close)
    return out


_SAME_INSTANCE = ("allOf", "anyOf", "oneOf", "if", "then", "else")  # subschemas about the same value
_NEW_INSTANCE = ("items", "additionalProperties", "unevaluatedProperties", "additionalItems", "contains")


def _closed(node: Any, root: dict[str, Any], refs: frozenset[str], outermost: bool, close: bool = True) -> Any:
    """`node` with local $refs inlined, no `required`, and (`close`) unevaluatedProperties: false where it is the
    outermost schema of a value."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in refs:
        target = _resolve(root, ref)
        if isinstance(target, dict):
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return _closed({**target, **siblings}, root, refs | {ref}, outermost, close)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _closed(v, root, refs, close, close) for name, v in value.items()}
        elif key in _NEW_INSTANCE:
            out[key] = _closed(value, root, refs, close, close)
        elif key == "prefixItems" and isinstance(value, list):
            out[key] = [_closed(v, root, refs, close, close) for v in value]
        elif key == "required" and isinstance(value, list):
            continue  # the pact may leave out what the consumer does not read
        elif key in _SAME_INSTANCE:
            out[key] = [_closed(v, root, refs, False, close) for v in value] if isinstance(value, list) else \
                _closed(value, root, refs, False, close)
        else:
            out[key] = value
    declares = "properties" in out or any(k in out for k in ("allOf", "anyOf", "oneOf"))
    if outermost and declares and "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["unevaluatedProperties"] = False
    return out


def _resolve(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node.get(token) if isinstance(node, dict) else None
    return node


def _oas30_with_unevaluated() -> Any:
    """OpenAPI 3.0's schema validator (draft 4 based) taught `unevaluatedProperties` from jsonschema's 2020-12 one."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend
    from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
    from openapi_schema_validator import OAS30ReadValidator

    return SchemaValidatorsFactory(extend(OAS30ReadValidator, {
        "unevaluatedProperties": Draft202012Validator.VALIDATORS["unevaluatedProperties"]}))


def _servers_as_paths(data: dict[str, Any]) -> None:
    """Keep the path part of the first server URL (variables at their defaults) wherever `servers` appear: a pact
    records paths, never hosts."""
    def first_path(servers: Any) -> list[dict[str, str]]:
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
            return [{"url": "/"}]
        url = str(servers[0].get("url", "/"))
        for name, variable in (servers[0].get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        return [{"url": urlsplit(url).path.rstrip("/") or "/"}]

    data["servers"] = first_path(data.get("servers"))
    for item in (data.get("paths") or {}).values():
        if isinstance(item, dict):
            for holder in [item, *(op for op in item.values() if isinstance(op, dict))]:
                if "servers" in holder:
                    holder["servers"] = first_path(holder["servers"])


def swagger2_to_openapi3(doc: dict[str, Any]) -> dict[str, Any]:
    """A Swagger 2.0 document as the equivalent OpenAPI 3.0 one (structure only: schemas are the same language),
    so that one validator checks both. basePath becomes the server; body/formData parameters the request body;
    response schemas the content of each `produces` type; `#/definitions/` references `#/components/schemas/`."""
    doc = json.loads(json.dumps(doc).replace('"#/definitions/', '"#/components/schemas/'))
    consumes, produces = doc.get("consumes") or ["application/json"], doc.get("produces") or ["application/json"]
    shared_params, shared_responses = doc.get("parameters") or {}, doc.get("responses") or {}

    def deref(obj: Any, table: dict[str, Any], prefix: str) -> Any:
        ref = obj.get("$ref", "") if isinstance(obj, dict) else ""
        return table.get(ref[len(prefix):], obj) if ref.startswith(prefix) else obj

    def schema_of(param: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in param.items() if k not in ("name", "in", "required", "description",
                                                             "collectionFormat", "allowEmptyValue")}

    def operation(op: dict[str, Any], inherited: list[Any]) -> dict[str, Any]:
        params = {(p["name"], p["in"]): p for p in (deref(p, shared_params, "#/parameters/")
                                                   for p in [*inherited, *(op.get("parameters") or [])])}
        out: dict[str, Any] = {k: v for k, v in op.items() if k not in ("parameters", "responses", "consumes",
                                                                         "produces", "security", "schemes")}
        out["parameters"] = []
        form: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for (name, where), p in params.items():
            if where == "body":
                out["requestBody"] = {"required": bool(p.get("required")),
                                      "content": {ct: {"schema": p.get("schema", {})}
                                                  for ct in op.get("consumes") or consumes}}
            elif where == "formData":
                form["properties"][name] = schema_of(p)
                form["required"] += [name] if p.get("required") else []
            else:
                converted = {"name": name, "in": where, "required": bool(p.get("required") or where == "path"),
                             "schema": schema_of(p)}
                if p.get("collectionFormat") == "multi":
                    converted.update(style="form", explode=True)
                elif p.get("type") == "array":
                    converted.update(explode=False)
                out["parameters"].append(converted)
        if form["properties"]:
            types = [ct for ct in op.get("consumes") or consumes if "form" in ct] or \
                ["application/x-www-form-urlencoded"]
            form["required"] = form["required"] or None
            out["requestBody"] = {"content": {ct: {"schema": {k: v for k, v in form.items() if v is not None}}
                                              for ct in types}}
        out["responses"] = {}
        for status, response in (op.get("responses") or {}).items():
            response = deref(response, shared_responses, "#/responses/")
            converted = {"description": response.get("description", "")}
            if "schema" in response:
                converted["content"] = {ct: {"schema": response["schema"]} for ct in op.get("produces") or produces}
            out["responses"][str(status)] = converted
        return out

    paths: dict[str, Any] = {}
    for template, item in (doc.get("paths") or {}).items():
        inherited = item.get("parameters") or []
        paths[template] = {method: operation(op, inherited) for method, op in item.items()
                           if method in ("get", "put", "post", "delete", "options", "head", "patch")}
    nullable = json.loads(json.dumps(doc.get("definitions") or {}).replace('"x-nullable"', '"nullable"'))
    return {"openapi": "3.0.3", "info": doc.get("info") or {"title": "", "version": ""},
            "servers": [{"url": doc.get("basePath") or "/"}], "paths": paths,
            "components": {"schemas": nullable}}


# --- the pact's interaction as a request and a response --------------------------------------------------------

class PactRequest:
    """The request of an interaction, in the shape openapi-core reads (its Request protocol)."""

    def __init__(self, interaction: dict[str, Any]) -> None:
        from openapi_core.datatypes import RequestParameters
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
        self.parameters = RequestParameters(query=ImmutableMultiDict(pairs), header=Headers(self.headers),
                                            cookie=ImmutableMultiDict({k: m.value for k, m in cookie.items()}))
        self.body, self.content_type = _body(interaction, request, self.headers)


class PactResponse:
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


# --- checking ----------------------------------------------------------------------------------------------------

def is_http(interaction: dict[str, Any]) -> bool:
    return "request" in interaction and interaction.get("type", "Synchronous/HTTP") == "Synchronous/HTTP"


def check_interaction(document: Document, interaction: dict[str, Any]) -> InteractionDrift:
    """The drift of one interaction (an HTTP one; others are not applicable)."""
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
    for error in document.parameters.iter_errors(request):
        findings += _parameter_findings(error, request, op_pointer)
    if request.body is not None and "requestBody" not in operation:
        findings.append(Finding("/request/body", _short(request.body), f"{label} takes no request body",
                                op_pointer))
    else:
        for error in document.body.iter_errors(request):
            findings += _body_findings(error, request.body, "/request/body", f"{op_pointer}/requestBody",
                                       request.content_type)
    findings += _response_findings(document, request, response, operation, label, op_pointer)
    return InteractionDrift(description, DRIFT if findings else CLEAN, findings, operation=label)


def _locate(document: Document, request: PactRequest) -> tuple[str, Any] | Finding:
    """(path template, operation) of the request, or the finding that says there is none."""
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathError
    from openapi_core.templating.paths.finders import APICallPathFinder

    try:
        path, operation, _, path_result, _ = APICallPathFinder(document.spec).find(request.method,
                                                                                 request.full_url_pattern)
    except OperationNotFound:
        item = next((p for p in (document.spec / "paths").keys() if _matches(p, request.path, document)), None)
        methods = sorted(m.upper() for m in (document.spec / "paths" / item).keys()
                         if m in ("get", "put", "post", "delete", "options", "head", "patch", "trace")) \
            if item else []
        return Finding("/request/method", request.method.upper(),
                       f"path {item or request.path} has no {request.method.upper()} operation"
                       + (f" (it has {', '.join(methods)})" if methods else ""),
                       f"#/paths/{_escape(item)}" if item else "#/paths")
    except PathError:
        base = (document.spec / "servers" / 0 / "url").read_str()
        known = sorted((document.spec / "paths").keys())
        return Finding("/request/path", request.path,
                       f"no path of the document matches it (base path {base}; paths: "
                       f"{', '.join(known[:12])}{', ...' if len(known) > 12 else ''})", "#/paths")
    return path_result.pattern, operation


def _matches(template: str, path: str, document: Document) -> bool:
    from openapi_core.templating.paths.finders import APICallPathFinder

    try:
        found = APICallPathFinder(document.spec).find("get", "http://provider" + path)
    except Exception:  # noqa: BLE001 - only the template is of interest: any failure means "not this one"
        return False
    return bool(found and found[3].pattern == template)


def _parameter_findings(error: Exception, request: PactRequest, op_pointer: str) -> list[Finding]:
    from openapi_core.validation.request.exceptions import MissingRequiredParameter, ParameterValidationError

    if not isinstance(error, ParameterValidationError):
        return [Finding("/request", "", str(error), op_pointer)]
    where = {"query": "query", "header": "headers", "path": "path", "cookie": "headers/Cookie"}[error.location]
    pointer = f"/request/{where}" if error.location == "path" else f"/request/{where}/{_escape(error.name)}"
    spec_pointer = f"{op_pointer}/parameters ({error.location} parameter {error.name})"
    if isinstance(error, MissingRequiredParameter):
        return [Finding(pointer, "absent", f"required {error.location} parameter '{error.name}'", spec_pointer)]
    actual = {"query": lambda: request.parameters.query.getlist(error.name),
              "header": lambda: request.parameters.header.getlist(error.name),
              "cookie": lambda: request.parameters.cookie.get(error.name),
              "path": lambda: request.path}[error.location]()
    return [Finding(pointer, _short(actual[0] if isinstance(actual, list) and len(actual) == 1 else actual),
                    f"{error.location} parameter '{error.name}': {msg}", spec_pointer)
            for msg in _schema_messages(error.__cause__)]


def _body_findings(error: Exception, body: bytes | None, pointer: str, spec_pointer: str,
                   content_type: str | None, keep: Callable[[Any], bool] = lambda schema_error: True
                   ) -> list[Finding]:
    from openapi_core.templating.media_types.exceptions import MediaTypeNotFound

    cause = error.__cause__
    if isinstance(cause, MediaTypeNotFound) or isinstance(error, MediaTypeNotFound):
        found = cause if isinstance(cause, MediaTypeNotFound) else error
        return [Finding(f"{pointer}/contentType", str(content_type),
                        f"content types: {', '.join(found.availableMimetypes)}", f"{spec_pointer}/content")]
    schema_errors = getattr(cause, "schema_errors", None)
    if not schema_errors:
        return [Finding(pointer, _short(body), str(cause or error), spec_pointer)]
    value = _decoded(body)
    found: list[Finding] = []
    for schema_error in filter(keep, schema_errors):
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
                       label: str, op_pointer: str) -> list[Finding]:
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    from openapi_core.templating.responses.finders import ResponseFinder
    from openapi_core.validation.response.exceptions import MissingData

    try:
        documented = ResponseFinder(operation / "responses").find(str(response.status_code))
    except ResponseNotFound as error:
        return [Finding("/response/status", str(response.status_code),
                        f"{label} documents {', '.join(sorted(map(str, error.availableresponses)))}",
                        f"{op_pointer}/responses")]
    status_key = str(documented.name)  # "200", "2XX" or "default"
    spec_pointer = f"{op_pointer}/responses/{status_key}"
    if response.data is None:
        return []  # the pact says nothing about the body: nothing to disagree with
    if "content" not in documented:
        return [Finding("/response/body", _short(response.data), f"status {status_key} is documented without a body",
                        spec_pointer)]
    found: list[Finding] = []
    invalid: list[list[Any]] = []  # where the body breaks the spec's own rules
    for error in document.response.iter_errors(request, response):
        if not isinstance(error, MissingData):
            invalid += [list(e.absolute_path) for e in getattr(error.__cause__, "schema_errors", None) or []]
            found += _body_findings(error, response.data, "/response/body", spec_pointer, response.content_type)

    def undescribed(schema_error: Any) -> bool:
        # A value that already breaks the spec's rules makes its composition branches fail, and a failed branch
        # describes nothing: its properties would all count as undescribed. Only values that pass say so truly.
        at = list(schema_error.absolute_path)
        return schema_error.validator == "unevaluatedProperties" and not any(p[:len(at)] == at for p in invalid)

    for error in document.strict.iter_errors(request, response):
        if not isinstance(error, MissingData) and getattr(error.__cause__, "schema_errors", None):
            found += _body_findings(error, response.data, "/response/body", spec_pointer, response.content_type,
                                    keep=undescribed)
    return found


def _schema_messages(cause: BaseException | None) -> list[str]:
    errors = getattr(cause, "schema_errors", None)
    if errors:
        return [e.message for e in errors]
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


# --- pacts of a topology ------------------------------------------------------------------------------------------

def pact_files(folder: Path) -> list[Path]:
    """The `*.json` files of the pact folder, sorted. Raises MalformedPact when there is no such folder."""
    if not folder.is_dir():
        raise MalformedPact(f"no pact folder at {folder}: run the consumer tests first (they write pacts there), "
                            "or point --pacts at the folder that holds them")
    return sorted(folder.glob("*.json"))


def check_pact(topology: TopologySpec, file: Path, documents: dict[str, Document | SpecUnavailable],
               fetch: Callable[[str, str], tuple[str, str]] | None = None) -> PactDrift:
    """The drift verdict of one pact file; `documents` caches each provider's document (or why it has none)."""
    started = time.perf_counter()
    try:
        pact = read_pact(file)
    except MalformedPact as error:
        return PactDrift(file, "?", "?", ERROR, reason=str(error), seconds=time.perf_counter() - started)
    result = _check(topology, pact, documents, fetch)
    result.seconds = time.perf_counter() - started
    return result


def _check(topology: TopologySpec, pact: PactFile, documents: dict[str, Document | SpecUnavailable],
           fetch: Callable[[str, str], tuple[str, str]] | None) -> PactDrift:
    result = PactDrift(pact.path, pact.consumer, pact.provider, ERROR)
    provider = service_for(topology, pact.provider)  # `pact_name:` / `contracts.names` map pact names to services
    if provider is None:
        result.reason = (f"provider '{pact.provider}' is not a service of topology {topology.project}"
                         + mapping_hint(topology, pact.provider) + f"; services: {', '.join(topology.services)}")
        return result
    if not topology.services[provider].openapi:
        result.verdict = NOT_APPLICABLE
        result.reason = f"provider '{provider}' declares no `openapi:` in the topology: no document to check"
        return result
    if not pact.interactions:  # an error, as for the verifier: an empty pact checks nothing
        result.reason = "the pact has no interactions: nothing to check against OpenAPI; regenerate it with the " \
                        "consumer tests"
        return result
    if not any(is_http(i) for i in pact.interactions):
        result.verdict = NOT_APPLICABLE
        result.reason = "a message pact: no HTTP request to check against OpenAPI"
        result.interactions = [InteractionDrift(i["description"], NOT_APPLICABLE, reason=result.reason)
                               for i in pact.interactions]
        return result
    if provider not in documents:
        try:
            data, source, file = find_document(topology, provider, fetch)
            documents[provider] = load_document(data, source, file)
        except SpecUnavailable as error:
            documents[provider] = error
    document = documents[provider]
    if isinstance(document, SpecUnavailable):
        result.reason = str(document)
        return result
    result.source = document.source
    result.interactions = [check_interaction(document, i) for i in pact.interactions]
    result.verdict = DRIFT if any(i.verdict == DRIFT for i in result.interactions) else CLEAN
    return result


def check_files(topology: TopologySpec, files: Iterable[Path],
                fetch: Callable[[str, str], tuple[str, str]] | None = None) -> list[PactDrift]:
    """The drift verdict of each of `files` (the pacts of a verification, for the matrix's drift column), each
    provider's document read once. Never raises: a check that breaks is that pact's error verdict, so the drift
    column can never stop or change a verification."""
    documents: dict[str, Document | SpecUnavailable] = {}
    results = []
    for file in files:
        try:
            results.append(check_pact(topology, file, documents, fetch))
        except Exception as error:  # noqa: BLE001 - see above: an error verdict with the cause, never a crash
            results.append(PactDrift(file, "?", "?", ERROR,
                                     reason=f"the drift check failed: {type(error).__name__}: {error}"))
    return results


def check_topology(topology: TopologySpec, pacts: Path | None = None, provider: str | None = None,
                   fetch: Callable[[str, str], tuple[str, str]] | None = None) -> Iterable[PactDrift]:
    """The drift verdict of every pact file in `pacts` (default: the topology's `contracts.pacts`), or those of
    `provider`, in file order. Each provider's document is read once.

    Raises:
        MalformedPact: no pact folder; OptionError: the folder holds no pact file, or `provider` names no pact of it.
    """
    from harness.errors import OptionError

    folder = pacts if pacts is not None else (topology.base_dir / topology.contracts.pacts).resolve()
    files = pact_files(folder)
    documents: dict[str, Document | SpecUnavailable] = {}
    if not files:  # a drift gate pointed at the wrong folder must not pass
        raise OptionError(f"no pact to check in {folder}: no *.json file there; pass the folder with --pacts or set "
                          "`contracts.pacts:` in the topology")
    if provider is not None:
        chosen = [f for f in files if _provider_of(f) in (provider, None)]
        if not any(_provider_of(f) == provider for f in chosen):
            names = sorted({p for f in files if (p := _provider_of(f))})
            raise OptionError(f"no pact in {folder} has provider '{provider}'; providers: {', '.join(names)}")
        files = chosen
    for file in files:
        yield check_pact(topology, file, documents, fetch)


def _provider_of(file: Path) -> str | None:
    try:
        return read_pact(file).provider
    except MalformedPact:
        return None  # kept: an unreadable pact gets its error verdict whatever the filter
