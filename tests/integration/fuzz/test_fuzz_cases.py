"""Fuzzing services the harness did not write (tests/topologies/fuzz-cases.yaml): base paths, a dropped connection, a
document behind auth, a split spec with a dangling $ref, a service serving its paths without its base path. What
plain `st run` reports on the same service, seed, mode and checks is in the harness's report too."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import Topology, load_topology

from ..conftest import TOPOLOGIES, fresh_examples, write_topology

BIN = Path(sys.executable).parent
CASES = TOPOLOGIES / "fuzz-cases.yaml"
FUZZ_APP = TOPOLOGIES / "fuzz-app"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED = "1"


def harness_fuzz(topology: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "harness"), "fuzz", "--topology", str(topology), *args], capture_output=True,
                          text=True, timeout=300)


def st_run(location: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Plain schemathesis with its default settings, the seed and an empty example database (as `st run` in a folder
    without `.hypothesis`, and as the harness runs it)."""
    return subprocess.run([str(BIN / "st"), "run", location, "-n", "20", "--seed", SEED, "--generation-database",
                           fresh_examples(cwd), "--no-color", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def running() -> Topology:
    """The cases topology, started once and shared as `harness up` shares it; `harness fuzz` uses it."""
    with Topology.start(load_topology(CASES), shared=True) as topology:
        yield topology


@pytest.fixture(scope="module")
def cases_run(running: Topology, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess,
                                                                                      dict[str, ElementTree.Element]]:
    junit = tmp_path_factory.mktemp("fuzz-cases") / "fuzz.xml"
    result = harness_fuzz(CASES, "--max-examples", "20", "--seed", SEED, "--junit", str(junit))
    suite = ElementTree.parse(junit).getroot()  # expat: a strict XML parser
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    return result, cases


def verdict(case: ElementTree.Element) -> str:
    return "error" if case.find("error") is not None else "failed" if case.find("failure") is not None else "passed"


def test_services_under_their_spec_base_path_pass(cases_run) -> None:  # noqa: ANN001
    result, cases = cases_run
    for service, base in (("v3", "/api/v1"), ("v2", "/api"), ("v3file", "/api/v1")):
        assert f"passed {service} at http://127.0.0.1:" in result.stderr
        assert f"{base}: " in result.stderr.split(f"passed {service} at ", 1)[1].splitlines()[0]
    expected = {"fuzz[v3 GET /items]", "fuzz[v3 GET /items/{id}]", "fuzz[v2 GET /items]", "fuzz[v2 GET /items/{id}]",
                "fuzz[v3file GET /items]"}
    assert {name: verdict(cases[name]) for name in expected} == dict.fromkeys(expected, "passed")


def test_a_dropped_connection_is_an_error_as_plain_st_run_reports_it(cases_run, running: Topology,
                                                                      tmp_path: Path) -> None:  # noqa: ANN001
    result, cases = cases_run
    assert result.returncode == 1
    assert verdict(cases["fuzz[crash GET /items/{id}]"]) == "error"
    assert verdict(cases["fuzz[crash GET /items]"]) == "passed"
    report = result.stderr.split("FAILED crash at ", 1)[1]
    assert "ERROR GET /items/{id}: Network Error: Connection failed (network_error, " in report
    assert "Remote end closed connection without response" in report
    assert f"reproduce: curl -X GET {running['crash'].url}/items/0" in report
    assert "      | RuntimeError: item 0 crashes the handler" in report  # the service's log, trimmed
    # the topology was already running (the module's, shared as `harness up` shares it): the same command, said
    # not to reproduce the run
    assert f"same seed and options: harness fuzz --topology {CASES} --seed 1 --service v3 --service v2 --service " \
           "v3file --service nobase --service crash --max-examples 20 (not a reproduction: " in report
    plain = st_run(running["crash"].url + "/openapi.json", tmp_path)
    assert plain.returncode == 1
    assert "Remote end closed connection without response" in plain.stdout
    assert "GET /items/{id}" in plain.stdout


def test_a_document_behind_auth_is_loaded_with_the_services_auth(cases_run) -> None:  # noqa: ANN001
    result, cases = cases_run
    assert "passed keyed at http://127.0.0.1:" in result.stderr
    assert verdict(cases["fuzz[keyed GET /items]"]) == verdict(cases["fuzz[keyed GET /items/{id}]"]) == "passed"


def test_a_split_spec_with_a_dangling_ref_is_an_error_not_a_pass(cases_run, running: Topology,
                                                                 tmp_path: Path) -> None:  # noqa: ANN001
    result, cases = cases_run
    assert verdict(cases["fuzz[split GET /items/{id}]"]) == "error"
    assert "ERROR GET /items/{id}: Schema Error: Unresolvable reference in the schema" in result.stderr
    assert "parameters.yaml#/ItemId" in result.stderr
    plain = st_run(str(TOPOLOGIES / "fuzz-specs/split/openapi.yaml"), tmp_path, "--url", running["split"].url)
    assert "Unresolvable reference" in plain.stdout and "GET /items/{id}" in plain.stdout


def test_paths_served_without_the_base_path_are_one_finding_and_the_drift_behind_it_is_found(
        cases_run, running: Topology) -> None:  # noqa: ANN001
    result, cases = cases_run
    report = result.stderr.split("FAILED nobase at ", 1)[1].split("\nFAILED ", 1)[0]
    assert report.startswith(f"{running['nobase'].url}: ")  # fuzzed where the service really answers
    assert report.count("the service serves the spec's paths without its base path /api") == 1
    assert "GET /items: Response violates schema (response_schema_conformance [ST108], coverage, fuzzing" in report
    assert 'Schema at /items/properties/id:' in report and "[200] OK:" in report  # schemathesis' detail
    assert verdict(cases["fuzz[nobase setup]"]) == "failed"
    assert verdict(cases["fuzz[nobase GET /items]"]) == "failed"


def test_junit_names_each_case_once_and_each_finding_once(cases_run) -> None:  # noqa: ANN001
    _, cases = cases_run
    text = cases["fuzz[nobase GET /items]"].find("failure").text
    assert text.count("Response violates schema") == 1
    assert "\x1b[" not in text
    crash = cases["fuzz[crash GET /items/{id}]"].find("error")
    assert crash.get("message").startswith("1 finding(s): Network Error: Connection failed")


def test_every_document_problem_says_what_it_is(running: Topology, tmp_path: Path) -> None:
    shutil.copytree(TOPOLOGIES / "fuzz-specs", tmp_path / "fuzz-specs")
    (tmp_path / "fuzz-specs" / "broken.yaml").write_text("openapi: 3.0.3\npaths:\n  /items: [unclosed\n")
    topology = write_topology(tmp_path, f"""
name: fuzz-documents
services:
  nokey:
    build: {FUZZ_APP}
    environment: {{API_KEY: fuzz-key}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
  nowhere:
    build: {FUZZ_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /no-such-document.json
  broken:
    build: {FUZZ_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: fuzz-specs/broken.yaml
  nofile:
    build: {FUZZ_APP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: fuzz-specs/missing.yaml
""")
    with Topology.start(load_topology(topology), shared=True) as started:  # used by `harness fuzz`, as `harness up`
        expected = {
            "nokey": f"{started['nokey'].url}/openapi.json: 401 (the service wants credentials; headers sent: none)",
            "nowhere": "/no-such-document.json: 404, the service serves no document there",
            "broken": "broken.yaml is not valid YAML: line 4, column 1",
            "nofile": "its OpenAPI file " + str(tmp_path / "fuzz-specs" / "missing.yaml") + " does not exist",
        }
        for service, message in expected.items():
            result = harness_fuzz(topology, "--service", service)
            assert result.returncode == 2, result.stderr
            assert f"error: service '{service}': " in result.stderr and message in result.stderr
            assert "Traceback" not in result.stderr


def test_an_auth_hook_that_does_not_import_is_a_clear_error_before_anything_starts(tmp_path: Path) -> None:
    topology = write_topology(tmp_path, f"""
name: fuzz-badhook
services:
  api:
    build: {FUZZ_APP}
    ports: [8000]
    openapi: /openapi.json
    auth: {{hook: no_such_module_here:headers}}
""")
    result = harness_fuzz(topology)
    assert result.returncode == 2
    assert "error: service 'api': auth hook 'no_such_module_here:headers' cannot be imported: ModuleNotFoundError: " \
           "No module named 'no_such_module_here'" in result.stderr
    assert "starting topology" not in result.stderr


def test_pytest_fuzz_makes_an_unparsable_operation_an_error_item_and_tells_its_own_options(
        pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--topology", str(CASES), "--fuzz", "--fuzz-service", "split",
                                           "--fuzz-service", "crash", "--fuzz-seed", SEED, "--fuzz-max-examples",
                                           "20", "-v", "-rs")
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    assert "fuzz[split GET /items/{id}] ERROR" in output  # an error, as `harness fuzz --junit` says it
    assert "ERROR GET /items/{id} of service 'split' cannot be parsed" in output
    assert "fuzz[crash GET /items/{id}] ERROR" in output  # a network error
    assert re.search(r"rerun with: pytest .*--fuzz-seed 1 --fuzz-service crash --fuzz-max-examples 20$", output,
                     re.MULTILINE)  # crash before split in the topology: nothing fuzzed before it
    assert "rerun with: harness" not in output
    assert "fuzz[v3" not in output  # --fuzz-service chose
    result.assert_outcomes(errors=2, passed=5, skipped=1)  # one of the two has no links: no sequence, no pass
    assert "no stateful sequence was run" in output
    assert not (pytester.path / ".hypothesis").exists()  # Hypothesis' folder is under .pytest_cache


def test_a_misspelt_or_empty_check_phase_or_count_is_refused_before_anything_starts(tmp_path: Path,
                                                                                   pytester: pytest.Pytester) -> None:
    """A check that does not exist would not run, and the run would pass without it: refused, as `st run` does."""
    oracle = subprocess.run([str(BIN / "st"), "run", "http://127.0.0.1:9/openapi.json", "--checks",
                             "content_type_conformanc"], capture_output=True, text=True, timeout=120)
    assert oracle.returncode == 2 and "content_type_conformanc" in oracle.stderr + oracle.stdout
    service = f"    build: {FUZZ_APP}\n    ports: [8000]\n    openapi: /openapi.json\n"
    plain = write_topology(tmp_path, f"name: fuzz-names\nservices:\n  api:\n{service}")
    checks, phases = "The checks: not_a_server_error, ", "The phases: examples, coverage, fuzzing, stateful"
    for args, message, names in (
            (["--checks", "content_type_conformanc"],
             "--checks: unknown check 'content_type_conformanc' (did you mean 'content_type_conformance'?)", checks),
            (["--checks", " , "], "--checks: no check named", checks),
            (["--checks", "not_a_server_error,bogus"], "--checks: unknown check 'bogus'", checks),
            (["--phases", "fuzing"], "--phases: unknown phase 'fuzing' (did you mean 'fuzzing'?)", phases),
            (["--max-examples", "0"], "--max-examples: a whole number of at least 1, not '0'", "")):
        result = harness_fuzz(plain, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and names in result.stderr, result.stderr
        assert (checks in result.stderr) == (names == checks), result.stderr  # the list that helps, only
        assert "starting topology" not in result.stderr and "Traceback" not in result.stderr
    for fuzz, message in (
            ("{checks: [not_a_server_eror]}", "topology.yaml: services.api.fuzz.checks: unknown check "
                                              "'not_a_server_eror' (did you mean 'not_a_server_error'?)"),
            ("{checks: []}", "topology.yaml: services.api.fuzz.checks: no check named"),
            ("{checks: [not_a_server_error], exclude: [{check: not_a_server_error, reason: crashes are known here}]}",
             "topology.yaml: services.api.fuzz.exclude: every check of its run is excluded")):
        named = write_topology(tmp_path, f"name: fuzz-names\nservices:\n  api:\n{service}    fuzz: {fuzz}\n")
        result = harness_fuzz(named)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    pytester.makepyfile("def test_nothing(): pass\n")
    under_pytest = pytester.runpytest_subprocess("--topology", str(plain), "--fuzz", "--fuzz-checks",
                                                 "content_type_conformanc")
    assert under_pytest.ret == pytest.ExitCode.USAGE_ERROR
    assert "--fuzz-checks: unknown check 'content_type_conformanc'" in under_pytest.stderr.str()
    under_xdist = pytester.runpytest_subprocess("--topology", str(plain), "--fuzz", "--fuzz-checks", "bogus", "-n", "2")
    assert under_xdist.ret == pytest.ExitCode.USAGE_ERROR  # said by the controller, not an INTERNALERROR of a worker
    assert "--fuzz-checks: unknown check 'bogus'" in under_xdist.stderr.str()
    assert "INTERNALERROR" not in under_xdist.stdout.str() + under_xdist.stderr.str()
    nothing = write_topology(tmp_path, "name: fuzz-nothing\nservices:\n  redis:\n    image: redis:7\n",
                             name="nothing.yaml")
    no_openapi = pytester.runpytest_subprocess("--topology", str(nothing), "--fuzz")
    assert no_openapi.ret == pytest.ExitCode.USAGE_ERROR  # as `harness fuzz`: --fuzz with nothing to fuzz is no pass
    assert "nothing to fuzz" in no_openapi.stderr.str()


@pytest.mark.parametrize("document", ["/openapi.json", "items-v1.yaml"])
def test_a_stateful_item_that_ran_no_sequence_is_skipped_with_why_never_passed(pytester: pytest.Pytester,
                                                                              tmp_path: Path, document: str) -> None:
    """Served document: the item is at the service in the topology file; a document file: at the document as a
    whole (no line in its location), which pytest's skip line gives as the file's first line."""
    shutil.copy(TOPOLOGIES / "fuzz-specs" / "items-v1.yaml", tmp_path)
    plain = write_topology(tmp_path, f"name: fuzz-stateful\nservices:\n  api:\n    build: {FUZZ_APP}\n"
                                     "    environment: {BASE: /api/v1}\n"
                                     "    ports: [8000]\n    ready: {http: {port: 8000, path: /health}}\n"
                                     f"    openapi: {document}\n")
    result = pytester.runpytest_subprocess("--topology", str(plain), "--fuzz", "--fuzz-phases", "coverage",
                                           "--fuzz-max-examples", "3", "-rA")
    place = "topology.yaml:3" if document.startswith("/") else "items-v1.yaml:1"
    assert re.search(rf"SKIPPED \[1\] \S*{re.escape(place)}: the stateful phase was not selected \(phases: coverage\)",
                     result.stdout.str()), result.stdout.str()
    assert "PASSED topology.yaml::fuzz[api stateful]" not in result.stdout.str()


def test_a_document_without_operations_is_an_error_not_a_pass(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "empty.yaml").write_text("openapi: 3.0.3\ninfo: {title: empty, version: '1'}\npaths: {}\n")
    topology = write_topology(tmp_path, f"name: fuzz-empty\nservices:\n  api:\n    build: {FUZZ_APP}\n"
                                        "    ports: [8000]\n    ready: {http: {port: 8000, path: /health}}\n"
                                        "    openapi: specs/empty.yaml\n")
    oracle = subprocess.run([str(BIN / "st"), "run", str(specs / "empty.yaml"), "--url", "http://127.0.0.1:9/"],
                            capture_output=True, text=True, timeout=120)
    assert oracle.returncode != 0 and "defines no API operations" in oracle.stdout + oracle.stderr
    result = harness_fuzz(topology, "--max-examples", "5")
    assert result.returncode == 1, result.stderr
    assert "the OpenAPI document defines no API operations" in result.stderr


UNIT_PHASES = "examples,coverage,fuzzing"


@pytest.mark.parametrize(("st_options", "harness_options"), [
    (["--phases", UNIT_PHASES, "--workers", "1", "-m", "positive", "-c", CHECKS],
     ["--phases", UNIT_PHASES, "--mode", "positive", "--checks", CHECKS]),
    ([], []),  # st run's defaults: every phase, the stateful one too
], ids=["unit-phases", "defaults"])
def test_the_same_seed_sends_what_plain_st_run_sends_and_finds_what_it_finds(
        tmp_path: Path, st_options: list[str], harness_options: list[str]) -> None:
    """Same service, seed, checks, mode, phases and example count: `harness fuzz` sends the requests `st run` sends,
    in the same order, and finds the same failures. (In the harness's process Hypothesis mixed the literals of the
    harness's own source, "local code" to it, into the data it drew: other requests, and a server error `st run`
    finds was missed. Then, with no literals at all, the stateful phase drew other data than `st run`, whose launcher
    script is local code with a literal.) Two copies of the service, both fresh: the service keeps what is added."""
    service = (f"    build: {FUZZ_APP}\n    environment: {{WRITES: strict, SERVER_ERRORS: '1'}}\n    ports: [8000]\n"
               "    ready: {http: {port: 8000, path: /health}}\n    openapi: /openapi.json\n")
    topology = write_topology(tmp_path, f"name: fuzz-parity\nservices:\n  plain:\n{service}  api:\n{service}")
    with Topology.start(load_topology(topology), shared=True) as running:
        plain = st_run(running["plain"].url + "/openapi.json", tmp_path, *st_options)
        result = harness_fuzz(topology, "--max-examples", "20", "--seed", SEED, *harness_options, "--service", "api")
        sent, log = running["plain"].logs().splitlines(), running["api"].logs().splitlines()

    def requests(lines: list[str]) -> list[str]:  # "items: GET /items/7 -> 404", the fuzzed operations only
        return [line for line in lines if line.startswith("items: ") and " /health " not in line
                and " /openapi.json " not in line]

    assert plain.returncode == result.returncode == 1, (plain.stdout, result.stderr)
    assert requests(sent) and requests(log) == requests(sent)
    if not st_options:  # the stateful phase ran sequences, so its requests are in the comparison
        assert re.search(r"Stateful .*\n\n\s+Scenarios:\s+[1-9]", plain.stdout), plain.stdout
    failing_in_st = set(re.findall(r"^_+ ([A-Z]+ /\S*|Stateful tests) _+$", plain.stdout, re.MULTILINE))
    assert failing_in_st  # the comparison is not an empty one
    failing = {"Stateful tests" if operation.startswith("stateful") else operation
               for operation in re.findall(r"^  ([A-Z]+ /\S*|stateful[^:]*): ", result.stderr, re.MULTILINE)}
    assert failing == failing_in_st, (plain.stdout, result.stderr)
    generated = re.search(r"(\d+) generated", plain.stdout)
    assert generated and f", {generated[1]} requests in " in result.stderr, (plain.stdout, result.stderr)
    unique = re.search(r"(\d+) unique failures?", plain.stdout)
    assert unique and f": {unique[1]} failure(s), 0 error(s)" in result.stderr, (plain.stdout, result.stderr)
