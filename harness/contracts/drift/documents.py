"""An OpenAPI document made checkable: Swagger 2 upgraded to OpenAPI 3.0, servers reduced to their path (a pact
records paths, never hosts), and the two views of the response schemas the checks need (Pact's rule: a consumer may
read fewer fields than the provider sends, but every field it expects must be described). OpenAPI 3.0 and 3.1 are
kept as they are; openapi-core (through the adapter) validates the document and builds the validators."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.contracts.drift import adapter
from harness.contracts.drift.adapter import Document


def load_document(data: dict[str, Any], source: str, file: Path | None = None) -> Document:
    """openapi-core validators for `data` (OpenAPI 3.0/3.1, or Swagger 2 upgraded to 3.0). Only the path part of the
    server URL counts (servers[0] in OpenAPI 3, basePath in Swagger 2).

    Raises:
        OpenAPIUnavailable: the document is not a valid OpenAPI document (openapi-spec-validator's first complaint).
    """
    data = _swagger2_to_openapi3(data) if str(data.get("swagger", "")).startswith("2") else copy.deepcopy(data)
    _servers_as_paths(data)
    uri = file.resolve().as_uri() if file else ""
    # checked before the response views are made (they expect a valid one); the spec keeps its own copy: what makes
    # the views must never reach the document as written, which judges observed answers
    spec = adapter.valid_spec(copy.deepcopy(data), source, uri)
    return adapter.document(source, spec, str(data.get("openapi", "")).startswith("3.1"), uri,
                            loose=_strict_responses(data, close=False), strict=_strict_responses(data))


def _strict_responses(data: dict[str, Any], close: bool = True) -> dict[str, Any]:
    """A copy of the document whose response schemas require nothing (a consumer reads fewer fields than the provider
    sends: Pact's own rule) and say `unevaluatedProperties: false` on every object schema that lists properties and
    leaves additional ones unsaid: a property the pact expects that the spec does not describe
    is a drift (as PactFlow judges it), while properties brought in by allOf/anyOf/oneOf and $ref still count as
    described (that is what `unevaluatedProperties` means in JSON Schema 2019-09+). Local $refs are inlined so that
    a component stays open where it is only one branch of a composition; a recursive $ref is left as it is.
    `close=False`: only the `required` lists are dropped."""
    out = copy.deepcopy(data)
    paths = out.get("paths") or {}
    for template, item in paths.items():
        item = paths[template] = _inlined(data, item)
        for operation in (item.values() if isinstance(item, dict) else ()):
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not isinstance(responses, dict):
                continue
            for status, response in responses.items():
                response = responses[status] = _inlined(data, response)
                for media in ((response.get("content") or {}).values() if isinstance(response, dict) else ()):
                    if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                        media["schema"] = _closed(media["schema"], data, frozenset(), close, close)
    return out


def _inlined(root: dict[str, Any], node: Any) -> Any:
    """A path item or response given by a local $ref as a copy of what it names (_named), so that changing it
    changes nothing else."""
    return copy.deepcopy(_named(root, node))


def _named(root: dict[str, Any], node: Any) -> Any:
    """What a local $ref (a chain of them too) names; `node` itself when it is none, or a $ref to another file, a
    missing or a recursive one (openapi-core resolves those, or has already said the document is not valid)."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") \
            and node["$ref"] not in seen and isinstance(_resolve(root, node["$ref"]), dict):
        seen.add(node["$ref"])
        node = _resolve(root, node["$ref"])
    return node


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
    for item in (_named(data, item) for item in (data.get("paths") or {}).values()):
        if isinstance(item, dict):
            for holder in [item, *(op for op in item.values() if isinstance(op, dict))]:
                if "servers" in holder:
                    holder["servers"] = first_path(holder["servers"])


def _swagger2_to_openapi3(doc: dict[str, Any]) -> dict[str, Any]:
    """A Swagger 2.0 document as the equivalent OpenAPI 3.0 one (structure only: schemas are the same language),
    so that one validator checks both. basePath becomes the server; body/formData parameters the request body;
    response schemas the content of each `produces` type; `#/definitions/` references `#/components/schemas/`."""
    doc = json.loads(json.dumps(doc).replace('"#/definitions/', '"#/components/schemas/'))
    consumes, produces = doc.get("consumes") or ["application/json"], doc.get("produces") or ["application/json"]
    shared_params, shared_responses = doc.get("parameters") or {}, doc.get("responses") or {}

    def deref(obj: Any, table: dict[str, Any], prefix: str) -> Any:
        seen: set[str] = set()  # (a chain of $refs is followed to its end)
        while isinstance(obj, dict) and str(obj.get("$ref", "")).startswith(prefix) and obj["$ref"] not in seen:
            seen.add(obj["$ref"])
            obj = table.get(obj["$ref"][len(prefix):], obj)
        return obj

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

