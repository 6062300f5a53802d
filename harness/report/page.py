"""One self-contained HTML page per run (`--topology-report`, `harness verify|fuzz|drift --report FILE.html`): the
page's data, collected from the run, and `write_page`.

The data is the harness's own results (pact verdicts, the contract matrix, drift, fuzzing, faults, start events)
plus what a front-end adds (failed pytest items). The page is drawn by harness.report.page_html; secrets are taken
out of every text on the way (`Scrubber`): environment values are never shown (only their keys), and the values of
`auth:` and of secret-looking environment variables are replaced wherever a log or a tool's report repeats them.
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contracts.matrix import Edge, edge_matrix
from harness.fuzz.baseline import BaselineOutcome
from harness.fuzz.results import ServiceResult
from harness.model.secrets import Masker, environment_of, hidden, hider, without_url_passwords
from harness.model.topology import TopologySpec
from harness.report.folders import report_folder
from harness.runtime.faults import FaultRecord
from harness.runtime.topology import StartEvent, Topology

if TYPE_CHECKING:
    from harness.report.fuzz import Rerun

MAX_TEXT = 20_000  # characters of one log or report kept on the page (its end: where failures show)


@dataclass(frozen=True)
class ServiceFacts:
    """One service as the run saw it. `source`: "built", "cached" (an image built before, reused), "image" (a
    named image) or "" (already running: started by `harness up --detach`, no start events). Seconds: wall clock."""

    name: str
    image: str
    source: str = ""
    build_seconds: float | None = None
    ready_seconds: float | None = None
    url: str = ""
    status: str = "not started"
    env_keys: tuple[str, ...] = ()
    job: bool = False


@dataclass(frozen=True)
class FailedTest:
    """A pytest item that failed: its node id, the phase (setup/call/teardown), the failure text, and the report
    sections the harness attached (service logs, faults active), as (title, text)."""

    nodeid: str
    when: str
    text: str
    sections: tuple[tuple[str, str], ...] = ()


@dataclass
class RunFacts:
    command: str
    rerun: Rerun | None = None  # how the front-end reruns a fuzzed service (its flags: harness.options)
    started: float = field(default_factory=time.time)  # wall clock, time.time()
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    outcome: str = ""  # "12 passed, 2 failed" and the like


@dataclass
class PageData:
    """Everything the page shows: the harness's own result classes (pact, drift, fuzz)."""

    title: str
    spec: TopologySpec
    facts: RunFacts
    services: list[ServiceFacts] = field(default_factory=list)
    matrix: list[Edge] = field(default_factory=list)
    pacts: list[Any] = field(default_factory=list)  # PactResult
    drift: list[Any] = field(default_factory=list)  # PactDrift
    fuzz: list[ServiceResult] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    failed_tests: list[FailedTest] = field(default_factory=list)
    contracts_run: bool = False  # pacts were verified in this run (else the matrix is not shown as verdicts)
    fuzz_baseline: BaselineOutcome | None = None  # the fuzz run's baseline file, when it had one


class RunRecorder:
    """Collects a run for its page: start events (`progress`), the services and faults of the running topology
    (`snapshot`, before it is removed), then `page(...)` builds the PageData."""

    def __init__(self, command: str, rerun: Rerun | None = None) -> None:
        self.facts = RunFacts(command, rerun)
        self.events: list[StartEvent] = []
        self.services: list[ServiceFacts] = []
        self.faults: list[FaultRecord] = []
        self.docker_version = ""

    def progress(self, forward: Callable[[StartEvent], None] | None = None) -> Callable[[StartEvent], None]:
        """A start-progress callback that records each event and hands it on to `forward`."""
        def record(event: StartEvent) -> None:
            self.events.append(event)
            if forward is not None:
                forward(event)
        return record

    def snapshot(self, topology: Topology) -> None:
        """The services (image, url, status now) and the fault history of `topology`. Never raises: a container may
        be gone already."""
        self.services = _services_of(topology, self.events)
        self.faults = list(topology.faults.history)
        try:
            self.docker_version = str(topology.client.version().get("Version", ""))
        except Exception:  # noqa: BLE001 - the page says "unknown" instead
            self.docker_version = ""

    def page(self, spec: TopologySpec, *, pacts: list[Any] | None = None, drift: list[Any] | None = None,
             fuzz: list[ServiceResult] | None = None, failed_tests: list[FailedTest] | None = None,
             outcome: str = "", fuzz_baseline: BaselineOutcome | None = None,
             coverage: list[Any] | None = None) -> PageData:
        self.facts.seconds = time.time() - self.facts.started
        self.facts.outcome = outcome
        self.facts.versions = versions(self.docker_version)
        services = self.services or [ServiceFacts(name, _image_name(spec, name), status="not started",
                                                  env_keys=tuple(s.environment), job=s.job)
                                     for name, s in spec.services.items()]
        return PageData(f"topology {spec.name}", spec, self.facts, services,
                        edge_matrix(spec, pacts or [], drift, coverage)
                        if pacts is not None or coverage is not None else [], list(pacts or []),
                        list(drift or []), list(fuzz or []), self.faults, list(failed_tests or []),
                        contracts_run=pacts is not None, fuzz_baseline=fuzz_baseline)


def _services_of(topology: Topology, events: list[StartEvent]) -> list[ServiceFacts]:
    """A ServiceFacts per service of the topology file, in file order, from the running services and the events."""
    built = {e.service: e for e in events if e.kind in ("built", "cached")}
    ready = {e.service: e for e in events if e.kind in ("ready", "completed")}
    failed = {e.service for e in events if e.kind == "failed"}
    rows = []
    for name, spec in topology.spec.services.items():
        image, url, status = _image_name(topology.spec, name), "", "failed" if name in failed else "not started"
        if name in topology:
            service = topology[name]
            url = service.url if service.ports else ""
            try:
                status = service.status
                image = str(service.container.attrs.get("Config", {}).get("Image") or image)
            except Exception:  # noqa: BLE001 - a container removed by hand: say so
                status = "gone"
        source = built[name].kind if name in built else ("image" if events else "")
        rows.append(ServiceFacts(name, image, source, built[name].seconds if name in built else None,
                                 ready[name].seconds if name in ready else None, url, status,
                                 tuple(spec.environment), spec.job))
    return rows


def _image_name(spec: TopologySpec, name: str) -> str:
    service = spec.services[name]
    if service.image:
        return service.image
    return f"(built from {service.build.context})" if service.build else ""


def versions(docker: str = "") -> dict[str, str]:
    """The versions that decide what a run does: the harness, its tools, Python and the Docker engine."""
    found = {}
    for package in ("pytest-topology", "pact-python", "schemathesis", "pytest", "testcontainers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["Python"] = platform.python_version()
    found["Docker engine"] = docker or "unknown (no engine asked)"
    return found


_SECRET_KEY = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE|PWD|API_?KEY", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}")
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
                          r"(?!\[filtered\]|\[hidden\])([^\s\"',}\]]{4,})")  # schemathesis' mask left alone
HIDDEN = "[hidden]"


class Scrubber:
    """Takes secrets out of text: the values of the topology's `auth:` and of its environment (every value of 8
    characters or more, and shorter values of secret-looking keys: PASSWORD, SECRET, TOKEN, KEY, ...), JSON Web
    Tokens and Authorization header values. Names of the topology (project, services) are left alone even when a
    value equals one (`POSTGRES_USER: runnerly`)."""

    def __init__(self, spec: TopologySpec) -> None:
        names = {spec.name, *spec.services}
        values: set[str] = set(Masker(spec).values)  # what every other output hides, then more
        for service in spec.services.values():
            for key, value in environment_of(spec, service).items():  # env_file values too
                if len(value) >= 8 or (_SECRET_KEY.search(key) and len(value) >= 3):
                    values.add(value)
            if service.auth is not None:
                if service.auth.client_credentials is not None:
                    values.add(service.auth.client_credentials.client_secret)
                for value in (service.auth.headers or {}).values():
                    values.add(value)
                    values.update(value.split()[1:])  # "Bearer <token>": the token alone too
        self.values = sorted((v for v in values if v and v not in names), key=len, reverse=True)
        self._pattern = hider(self.values)  # a short value as a whole word only, as everywhere (model/secrets.py)

    def __call__(self, text: str) -> str:
        text = without_url_passwords(hidden(text, self._pattern))
        text = _JWT.sub(HIDDEN, text)
        return _AUTH_HEADER.sub(lambda m: m.group(1) + HIDDEN, text)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """The end of `text` (where a failure shows), at most `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    cut = cut[cut.find("\n") + 1:] if "\n" in cut[:200] else cut
    return f"[{len(text) - len(cut)} characters before this left out]\n{cut}"


def write_page(data: PageData, file: Path) -> Path:
    """Write the page to `file` (its folder made), one self-contained HTML file. Returns `file`."""
    from harness.report.page_html import render

    report_folder(file.parent)
    file.write_text(render(data), encoding="utf-8")
    return file


def outcome_text(counts: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{n} {word}" for word, n in counts if n)
