"""Where a provider's OpenAPI document comes from: a file next to the topology, the service's build context, or the
running service itself; parsed (JSON or YAML) and checked to be an OpenAPI or Swagger document at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError, OpenAPIUnavailable
from harness.model.service import ServiceSpec
from harness.model.topology import TopologySpec
from harness.runtime.call_marks import DOCUMENT_FETCH

# a header the harness's own fetch of a served document carries: --observe tells it from the tests' calls by it
# (its address is the tests': the host, through a published port)
OWN_CALL = DOCUMENT_FETCH

DOCUMENT_NAMES = ("openapi", "swagger")
DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")


def find_document(topology: TopologySpec, service: str,
                  fetch: Callable[[str, str], tuple[str, str]] | None = None) -> tuple[Any, str, Path | None]:
    """The raw OpenAPI document of `service` and a sentence saying where it came from.

    `openapi:` is either a file next to the topology (read it) or a path the service serves: then what the running
    service serves there, `fetch(service, path)` (text, source), as `st run http://.../openapi.json` would use it;
    when there is no fetch or it fails (no running topology: OpenAPIUnavailable), the document of that name (or
    openapi/swagger .json/.yaml/.yml) in the service's build context, and the sentence says why it was not fetched.
    The same rule for observed coverage and drift. Returns (data, source, file or None).

    Raises:
        OpenAPIUnavailable: no document can be had, or it is not JSON/YAML; the message says what was tried.
    """
    spec = topology.services[service]
    location = spec.openapi or ""
    if not location.startswith("/"):
        file = (topology.base_dir / location).resolve()
        if not file.is_file():
            raise OpenAPIUnavailable(f"service '{service}': `openapi: {location}` is neither a file next to the "
                                     f"topology (no {file}) nor a path the service serves (one starting with /)")
        return _parse(file.read_text(encoding="utf-8"), str(file), service), f"file {file}", file
    found = _build_context_document(topology, spec, location)
    unfetched: OpenAPIUnavailable | None = None
    if fetch is not None:
        try:
            text, source = fetch(service, location)
        except OpenAPIUnavailable as error:
            unfetched = error
        else:
            unused = f", not the file {found} in its build context" if found is not None else ""
            return _parse(text, source, service), source + unused, None
    if found is not None:
        why = f"; not fetched: {unfetched.message}" if unfetched is not None else ""
        return (_parse(found.read_text(encoding="utf-8"), str(found), service),
                f"file {found} in the build context of {service} (it serves {location}{why})", found)
    context = f"no document in its build context {_context_dir(topology, spec)}" if spec.build else \
        f"it has no build context (image {spec.image})"
    if unfetched is not None and unfetched.location is not None:  # it runs, and its GET failed
        raise OpenAPIUnavailable(f"service '{service}' serves its OpenAPI document at {location}: {context}, and "
                                 f"{unfetched.message}", service=service, location=unfetched.location)
    running = unfetched.message if unfetched is not None else "no running topology"
    raise OpenAPIUnavailable(f"service '{service}' serves its OpenAPI document at {location}: {context}, and "
                             f"{running} to fetch it from. Start one with `harness up --detach --topology "
                             f"{topology.file}`, or point `openapi:` at a file next to the topology.")


def _build_context_document(topology: TopologySpec, spec: ServiceSpec, served: str) -> Path | None:
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
        raise OpenAPIUnavailable(f"service '{service}': its OpenAPI document {where} is neither JSON nor YAML: "
                                 f"{str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not ({"openapi", "swagger"} & set(data)):
        raise OpenAPIUnavailable(f"service '{service}': {where} is not an OpenAPI document (no `openapi:` or "
                                 "`swagger:` key at the top)")
    return data


def running_fetcher(topology: TopologySpec, running: Any = None) -> Callable[[str, str], tuple[str, str]]:
    """A fetch function for find_document: the document from `running` (a runtime Topology, e.g. the one `harness
    verify` started), else from the topology started with `harness up --detach`, one GET per service. Raises
    OpenAPIUnavailable (its message a clause for find_document's sentences) when none runs (or no engine answers:
    `location` None) or the GET fails (`location` the URL)."""
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
            raise OpenAPIUnavailable(f"no running topology {topology.name}", service=service)
        url = running[service].url + path
        try:
            response = requests.get(url, timeout=10, headers=dict([OWN_CALL]))
            response.raise_for_status()
        except requests.RequestException as error:
            raise OpenAPIUnavailable(f"cannot fetch it from {url}: {error}", service=service, location=url) \
                from None
        return response.text, f"served by the running topology at {url} (run {running.run_id})"

    return fetch

