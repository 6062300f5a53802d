"""A service's OpenAPI document as schemathesis loads it (from a file next to the topology or from the service), and
its operations; each way it cannot be loaded is one OpenAPIUnavailable saying why."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests

from harness.errors import OpenAPIUnavailable
from harness.fuzz.auth import Headers, RunningTopology, auth_headers
from harness.runtime.call_marks import DOCUMENT_FETCH

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec


def operations_of(schema: Any) -> tuple[list[str], dict[str, str]]:
    """(labels of the operations that load, {label: error} of those that do not), in the spec's order."""
    labels, broken = [], {}
    for result in schema.get_all_operations():
        error = getattr(result, "err", None)
        if error is None:
            labels.append(result.ok().label)
            continue
        problem = error()
        label = getattr(problem, "label", None) or \
            f"{str(getattr(problem, 'method', '?')).upper()} {getattr(problem, 'path', '?')}"
        broken[label] = str(problem).strip() or type(problem).__name__
    return labels, broken


def operations(topology: RunningTopology, name: str) -> tuple[list[str], dict[str, str]]:
    """The operations of a service's spec: (labels such as "GET /api/users/{id}", {label: why it cannot be parsed}).
    Raises OpenAPIUnavailable when the document cannot be loaded."""
    return operations_of(load_schema(topology, name, auth_headers(topology, name)))


def served(spec: TopologySpec, name: str) -> bool:
    """Whether the service's document is one it serves (`openapi: /openapi.json` or a URL), known only once it runs;
    else it is a file next to the topology."""
    return (spec.services[name].openapi or "").startswith(("/", "http://", "https://"))


def declared_operations(spec: TopologySpec, name: str) -> tuple[list[str], dict[str, str]]:
    """The operations of a service whose document is a file next to the topology, read without starting anything
    (as `operations`). Raises OpenAPIUnavailable when the file cannot be loaded."""
    return operations_of(_load_file(spec, name))


def warm_loader() -> threading.Thread:
    """Import what schemathesis imports on its first load of a document (its OpenAPI schema classes), in a thread
    started now: the pytest plugin lists the operations in its own process, right after the topology starts, and this
    import (seconds where pytest rewrites the asserts of schemathesis' and Hypothesis' modules) then overlaps the
    start. Loads a document without operations; nothing is shared with the services' runs. Returns the thread."""

    def load() -> None:
        import schemathesis

        try:
            operations_of(schemathesis.openapi.from_dict({"openapi": "3.0.3", "info": {"title": "-", "version": "0"},
                                                          "paths": {}}))
        except Exception:  # noqa: BLE001 - only a warm-up: the real load says what is wrong
            pass

    thread = threading.Thread(target=load, name="schema-warm-up", daemon=True)
    thread.start()
    return thread


def declared_base_path(schema: Any) -> str:
    """The spec's base path ("/api/v1"), "" for none."""
    try:
        return str(schema.declared_base_path() or "").rstrip("/")
    except Exception:  # noqa: BLE001 - a spec without servers/basePath (or an odd one) has no base path
        return ""


def load_schema(topology: RunningTopology, name: str, headers: Headers | None) -> Any:
    """A service's OpenAPI document as a schemathesis schema: from a file next to the topology (`openapi: spec.yaml`)
    or from the service (`openapi: /openapi.json`, fetched with the service's auth headers).

    Raises OpenAPIUnavailable saying which: a missing file, connection refused, 401/403, 404, or a parse error with its
    line and column."""
    import schemathesis

    if not served(topology.spec, name):
        return _load_file(topology.spec, name)
    location = topology.spec.services[name].openapi or ""
    url = location if location.startswith("http") else topology[name].url + location
    sent = headers() if headers else {}
    text = _fetch(url, sent, name)
    _parse(text, name, url)
    # the text fetched once, parsed by schemathesis as `from_url` would (JSON, else YAML); `location` as it sets it
    loaded = _loaded(lambda: schemathesis.openapi.from_file(text), name, url)
    loaded.location = url
    return loaded


def _load_file(spec: TopologySpec, name: str) -> Any:
    import schemathesis

    file = spec.base_dir / (spec.services[name].openapi or "")
    if not file.is_file():
        raise OpenAPIUnavailable(f"service '{name}': its OpenAPI file {file} does not exist",
                                 hint="`openapi:` is a file next to the topology file, or a path the service "
                                      "serves (starting with /).", service=name, location=str(file))
    _parse(file.read_text(encoding="utf-8", errors="replace"), name, str(file))
    return _loaded(lambda: schemathesis.openapi.from_path(str(file)), name, str(file))


def _fetch(url: str, headers: dict[str, str], name: str) -> str:
    where = f"service '{name}': cannot load its OpenAPI document from {url}"
    try:
        response = requests.get(url, headers={**headers, **dict([DOCUMENT_FETCH])}, timeout=10)  # (marked)
    except requests.ConnectionError as error:
        raise OpenAPIUnavailable(f"{where}: connection refused or reset ({type(error).__name__})",
                              hint="Check that the service is up and listens on the port the topology publishes.",
                              service=name, location=url) from None
    except requests.Timeout:
        raise OpenAPIUnavailable(f"{where}: no answer within 10 s", service=name, location=url) from None
    if response.status_code in (401, 403):
        sent = ", ".join(sorted(headers)) or "none"
        raise OpenAPIUnavailable(f"{where}: {response.status_code} (the service wants credentials; headers sent: "
                              f"{sent})", hint="Give the service an `auth:` in the topology (headers, "
                              "client_credentials or hook): the document is loaded with it.",
                              service=name, location=url, status=response.status_code)
    if response.status_code == 404:
        raise OpenAPIUnavailable(f"{where}: 404, the service serves no document there",
                              hint="Point `openapi:` at the path the service serves its document on "
                                   "(e.g. /openapi.json), or at a file next to the topology.",
                              service=name, location=url, status=404)
    if response.status_code != 200:
        raise OpenAPIUnavailable(f"{where}: {response.status_code} {response.text[:200]}", service=name,
                              location=url, status=response.status_code)
    return response.text


def _parse(text: str, name: str, where: str) -> None:
    """Raise OpenAPIUnavailable with the line and column when `text` is neither JSON nor YAML."""
    import yaml

    if text.lstrip().startswith(("{", "[")):
        try:
            json.loads(text)
            return
        except json.JSONDecodeError as error:
            raise OpenAPIUnavailable(f"service '{name}': its OpenAPI document {where} is not valid JSON: line "
                                  f"{error.lineno}, column {error.colno}: {error.msg}", service=name,
                                  location=f"{where}:{error.lineno}:{error.colno}") from None
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise OpenAPIUnavailable(f"service '{name}': its OpenAPI document {where} is not valid YAML: {at}{problem}",
                              service=name, location=f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
                              ) from None


def _loaded(load: Callable[[], Any], name: str, where: str) -> Any:
    try:
        return load()
    except Exception as error:  # noqa: BLE001 - schemathesis' loading errors, said as one
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OpenAPIUnavailable(f"service '{name}': cannot load its OpenAPI document from {where}: {first}",
                              service=name, location=where) from None
