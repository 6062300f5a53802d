"""The report page of a Runnerly run, opened in a real browser (Debian's chromium, headless).

The run is Runnerly's topology with two faults made on purpose: a copy of the gateway->dataservice pact with a
renamed response field (the pact fails), and strava fuzzed against a copy of its OpenAPI document whose health
schema says `healthy` where the service says `ok` (GET /health fails). A scenario test fails on purpose too (its
service logs go to the page), with a fault on gateway->dataservice in place.

UPDATE_REPORT_SCREENSHOT=1 writes the screenshot to docs/report-runnerly.png (the README's image).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import docker
import pytest

from ..conftest import FUZZ_CALM_PYTEST, harness_resources

ROOT = Path(__file__).parent.parents[2]
RUNNERLY = ROOT / "scenarios" / "runnerly"
SCREENSHOT = ROOT / "docs" / "report-runnerly.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# no request may leave the page: every host name fails to resolve, and the net log lists what was asked for
BROWSER = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND"]

STORY = '''
import requests

def test_the_gateway_answers_its_health_check(topology):
    assert requests.get(topology["gateway"].url + "/health", timeout=10).status_code == 200

def test_a_summary_while_dataservice_is_slow_fails_on_purpose(topology):
    with topology.edge("gateway", "dataservice").delay(ms=100):
        response = requests.get(topology["gateway"].url + "/api/runners/1/summary/2026/3", timeout=10)
    assert response.status_code == 418, "failed on purpose: the page shows this test with its service logs"
'''


def _runnerly_copy(folder: Path) -> Path:
    """Runnerly's topology in `folder`, its paths made absolute; pacts and strava's document from `folder`."""
    pacts = folder / "pacts"
    shutil.copytree(ROOT / "contracts", pacts)
    broken = json.loads((pacts / "gateway-dataservice.json").read_text())
    for interaction in broken["interactions"]:
        if interaction["description"] == "a request for user 999":
            body = interaction["response"]["body"]["content"]
            body["error_code"] = body.pop("error")  # the provider says "error": a mismatch
            rules = interaction["response"]["matchingRules"]["body"]
            rules["$.error_code"] = rules.pop("$.error")
    (pacts / "gateway-dataservice.json").write_text(json.dumps(broken, indent=2))
    document = (ROOT / "fixtures" / "strava" / "openapi.yaml").read_text()
    assert "          const: ok\n" in document
    (folder / "strava-openapi.yaml").write_text(document.replace("          const: ok\n", "          const: healthy\n"))
    text = (RUNNERLY / "topology.yaml").read_text()
    text = (text.replace("../../fixtures/", f"{ROOT}/fixtures/").replace("./keys/", f"{RUNNERLY}/keys/")
            .replace("states: [states.py]", f"states: [{RUNNERLY}/states.py]").replace("../../contracts", str(pacts)))
    strava = text.index("  strava:")
    after = text.index("openapi: /openapi.json", strava)
    text = text[:after] + "openapi: strava-openapi.yaml" + text[after + len("openapi: /openapi.json"):]
    (folder / "topology.yaml").write_text(text)
    (folder / "test_story.py").write_text(STORY)
    return folder / "topology.yaml"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("runnerly-report")
    topology = _runnerly_copy(folder)
    report = folder / "runnerly.html"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "test_story.py", "--topology", topology.name, "--pact-verify", "--fuzz",
         "--fuzz-max-examples", "5", *FUZZ_CALM_PYTEST, "-k", "not fuzz or strava", "--topology-report", report.name,
         "--rootdir", ".", "-c", os.devnull],
        cwd=folder, capture_output=True, text=True, timeout=600)
    assert report.is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    return report, run


class Elements(HTMLParser):
    """Every element of a document as (tag, attributes, text directly inside), in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}, []))
        self.open.append(len(self.found) - 1)

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.found[self.open[-1]][0] != tag:
            self.open.pop()
        if self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for index in self.open:
            self.found[index][2].append(data)

    def having(self, tag: str, css: str = "", **attrs: str) -> list[tuple[str, dict[str, str], str]]:
        return [(t, a, "".join(text)) for t, a, text in self.found
                if t == tag and set(css.split()) <= set(a.get("class", "").split())
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make setup installs it)")
    return subprocess.run([CHROMIUM, *BROWSER, *args], capture_output=True, text=True, timeout=120)


def test_the_run_failed_as_planned(page) -> None:  # noqa: ANN001
    report, run = page
    assert "report page written to " + str(report) in run.stdout
    assert re.search(r"FAILED .*pact\[gateway->dataservice: ", run.stdout)  # an item per interaction
    assert re.search(r"FAILED .*fuzz\[strava GET /health\]", run.stdout)
    assert "FAILED test_story.py::test_a_summary_while_dataservice_is_slow_fails_on_purpose" in run.stdout


def test_the_browser_shows_the_graph_the_failing_edge_and_operation(page, tmp_path: Path) -> None:  # noqa: ANN001
    report, _ = page
    dom = _chromium("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    elements = Elements()
    elements.feed(dom.stdout)
    services = ["postgres", "redis", "tokendealer", "dataservice", "strava", "gateway", "worker"]
    nodes = elements.having("g", "node service")
    assert sorted(a["id"] for _, a, _ in nodes) == sorted(f"svc-{name}" for name in services)
    edge = elements.having("g", "edge", id="edge-gateway--dataservice")
    assert len(edge) == 1 and "failed" in edge[0][1]["class"].split() and "fault" in edge[0][1]["class"].split()
    assert {a["id"] for _, a, _ in elements.having("g", "edge failed")} == {"edge-gateway--dataservice"}
    assert elements.having("details", "pact failed")[0][1]["data-edge"] == "gateway--dataservice"
    operation = elements.having("tr", "op failed", data_service="strava")
    assert [a["data-operation"] for _, a, _ in operation] == ["GET /health"]
    curls = [text for _, _, text in elements.having("pre", "curl")]
    assert any(text.startswith("curl -X GET") and "/health" in text for text in curls), curls
    failed = {text.split()[1]: text for _, _, text in elements.having("details", "failed-test")}
    assert sorted(failed) == ["test_story.py::test_a_summary_while_dataservice_is_slow_fails_on_purpose",
                              "topology.yaml::fuzz[strava", "topology.yaml::pact[gateway->dataservice:"]
    story = failed["test_story.py::test_a_summary_while_dataservice_is_slow_fails_on_purpose"]
    assert "Captured log of service gateway call" in story and "Faults active during the test" in story

    shot = SCREENSHOT if os.environ.get("UPDATE_REPORT_SCREENSHOT") else tmp_path / "report.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1280,1500", report.as_uri())
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr[-2000:]
    assert shot.stat().st_size < 300_000


def _requests_of(page: Path, netlog: Path) -> set[str]:
    """The URLs `page` asked for when opened in chromium (its net log; the browser's own background requests,
    which no page starts, are left out: their initiator is "not an origin")."""
    opened = _chromium(f"--log-net-log={netlog}", "--dump-dom", page.as_uri())
    assert opened.returncode == 0, opened.stderr[-2000:]
    events = json.loads(netlog.read_text())["events"]
    return {e["params"]["url"] for e in events
            if "url" in e.get("params", {}) and e["params"].get("initiator", "not an origin") != "not an origin"}


def test_opening_the_page_asks_no_other_host(page, tmp_path: Path) -> None:  # noqa: ANN001
    report, _ = page
    control = tmp_path / "control.html"  # the same check sees a page that does ask
    control.write_text('<!doctype html><img src="http://report-check.invalid/a.png">'
                       '<link rel=stylesheet href="https://report-check.invalid/b.css">')
    assert _requests_of(control, tmp_path / "control.json") == {"http://report-check.invalid/a.png",
                                                                "https://report-check.invalid/b.css"}
    assert _requests_of(report, tmp_path / "netlog.json") == set()
    # and in the file itself: every link and source is an anchor of the page (or data:)
    elements = Elements()
    elements.feed(report.read_text())
    links = {v for _, attrs, _ in elements.found for k, v in attrs.items() if k in ("href", "src", "xlink:href")}
    assert links and {v for v in links if not v.startswith(("#", "data:"))} == set()
    assert not re.search(r"@import|url\((?!#)", report.read_text())


def test_no_secret_is_on_the_page_and_it_is_small(page) -> None:  # noqa: ANN001
    report, _ = page
    text = report.read_text()
    assert len(text.encode()) < 1_000_000
    from harness import load_topology

    spec = load_topology(RUNNERLY / "topology.yaml")
    values = {v for s in spec.services.values() for k, v in s.environment.items() if len(v) >= 8 or "SECRET" in k
              or "PASSWORD" in k}
    values |= {"scenarios-secret", "strava-token-bob", "gateway-secret", "worker-secret"}
    values -= {spec.name}  # POSTGRES_PASSWORD: runnerly, the project's name, shown as such
    assert {v for v in values if v in text} == set()
    assert "POSTGRES_PASSWORD" in text and "GATEWAY_CLIENT_SECRET" in text  # the keys are shown
    assert not re.search(r"eyJ[\w-]{5,}\.[\w-]{5,}\.", text)  # no token the tokendealer handed out


def test_harness_verify_writes_the_page_and_the_matrix_beside_it(page) -> None:  # noqa: ANN001
    report, _ = page
    folder = report.parent
    harness = str(Path(sys.executable).parent / "harness")
    text = (folder / "topology.yaml").read_text()  # a name of its own: a running `runnerly` would be reused
    (folder / "verify.yaml").write_text(text.replace("name: runnerly\n", "name: runnerly-report-verify\n", 1))
    run = subprocess.run([harness, "verify", "--topology", "verify.yaml", "--provider", "dataservice",
                          "--report", "verify/page.html"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr  # the broken pact
    written = folder / "verify" / "page.html"
    assert f"report page written to {Path('verify/page.html')}" in run.stdout
    assert (folder / "verify" / "contract-matrix.json").is_file() and (folder / "verify" / "contract-matrix.html").is_file()
    elements = Elements()
    elements.feed(written.read_text())
    assert [a["id"] for _, a, _ in elements.having("details", "pact")] == ["pact-gateway-dataservice",
                                                                           "pact-worker-dataservice"]
    assert elements.having("details", "pact failed")[0][1]["id"] == "pact-gateway-dataservice"
    assert "harness verify --topology verify.yaml" in written.read_text()
    drift = [text for _, _, text in elements.having("span", "badge") if text.startswith("drift: ")]
    assert len(drift) == 2, drift  # each pact's drift under its verdict in the page's matrix
    assert len(elements.having("tr", "op")) == 0  # nothing fuzzed in this run
    assert harness_resources(docker.from_env(), "runnerly-report-verify") == []  # nothing left running
