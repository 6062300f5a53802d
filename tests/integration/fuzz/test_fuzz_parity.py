"""`harness fuzz` and `pytest --fuzz` with no mode, check or phase option do what plain `st run` does by default, and
the same seed gives the same findings every time (tests/topologies/fuzz-shared.yaml: catalog's PUTs set the stock
that orders reads, so what orders answers depends on what was sent to catalog before; orders answers 500 to an item
id past its database's integer range, which only data outside the schema reaches).

Each `harness fuzz` here starts the topology afresh (nothing is running to reuse), as a CI run does."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Topology, load_topology

from ..conftest import TOPOLOGIES, fresh_examples, service_report

BIN = Path(sys.executable).parent
SHARED = TOPOLOGIES / "fuzz-shared.yaml"
SEED, EXAMPLES = "3", "10"
SERVICES = ["catalog", "orders"]  # the topology's order
FINDING = re.compile(r"^  (?:ERROR )?(?P<operation>.+?): (?P<title>.+) \((?P<check>[a-z_]+)(?: \[ST\d+\])?(?:, (?P<phases>[^)]*))?\)$")
OUT_OF_RANGE = ("/items/{id}", "Server error")  # the 500 only data outside the schema reaches
CONFLICT = ("/orders", "Undocumented status code")  # the 409 only catalog's writes before it cause


def harness_fuzz(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "harness"), "fuzz", "--topology", str(SHARED), *args], capture_output=True,
                          text=True, timeout=900)


def findings(report: str) -> set[tuple[str, str]]:
    """(path, title) of every finding of a service's report, or ("stateful", title) for one only sequences found, as
    `st run` names them. (The path: `st run` names a failure by the request's method, which for
    `unsupported_method` is not the operation's.)"""
    return {("stateful" if m["phases"] == "stateful phase" else m["operation"].split(" ")[-1].rstrip(")"),
             m["title"]) for m in map(FINDING.match, report.splitlines()) if m}


def st_findings(url: str, cwd: Path) -> tuple[set[tuple[str, str]], str]:
    """(path, title) of every failure plain `st run` reports with its defaults, the seed and the examples (an
    empty example database, as `st run` in a folder without `.hypothesis` and as the harness runs it); and its output."""
    result = subprocess.run([str(BIN / "st"), "run", f"{url}/openapi.json", "-n", EXAMPLES, "--seed", SEED,
                             "--generation-database", fresh_examples(cwd), "--no-color"],
                            capture_output=True, text=True, timeout=900, cwd=cwd)
    found, operation = set(), ""
    for line in result.stdout.split("=== FAILURES ===", 1)[-1].splitlines():
        if header := re.fullmatch(r"_+ (.+?) _+", line):
            operation = "stateful" if header[1] == "Stateful tests" else header[1].split(" ")[-1]
        elif failure := re.fullmatch(r"- (?:ST\d+ )?(.+)", line):
            found.add((operation, failure[1].strip()))
    return found, result.stdout


@pytest.fixture(scope="module")
def runs() -> list[subprocess.CompletedProcess]:
    """Three `harness fuzz` runs with one seed and no mode, check or phase option, each on a fresh topology."""
    return [harness_fuzz("--seed", SEED, "--max-examples", EXAMPLES) for _ in range(3)]


def test_with_no_options_a_run_uses_st_runs_defaults_and_says_them(runs: list[subprocess.CompletedProcess]) -> None:
    from harness.fuzz.engine import st_run_defaults

    defaults = st_run_defaults()
    stderr = runs[0].stderr
    assert runs[0].returncode == 1, stderr
    assert (f"fuzzing catalog, orders, one after another, with seed {SEED}; mode {defaults.mode} (st run's default); "
            f"checks {','.join(defaults.checks)} (st run's default); phases {','.join(defaults.phases)} "
            "(st run's default)") in stderr
    for service in SERVICES:
        line = service_report(stderr, service).splitlines()[0]  # the list is said once, in the run's first line
        assert (f", seed {SEED}, mode {defaults.mode}, phases {','.join(defaults.phases)}, st run's default checks "
                f"({len(defaults.checks)})") in line and defaults.checks[-1] not in line


def test_every_failure_plain_st_run_finds_with_its_defaults_is_found(runs: list[subprocess.CompletedProcess],
                                                                      tmp_path: Path) -> None:
    """`st run` on each service in the topology's order, on a fresh topology, with its defaults, the same seed and
    examples: each of its failures is in the harness's report of that service (which may have more)."""
    plain = {}
    with Topology.start(load_topology(SHARED)) as running:
        for service in SERVICES:
            plain[service] = st_findings(running[service].url, tmp_path)
    for service in SERVICES:
        found, output = plain[service]
        assert found <= findings(service_report(runs[0].stderr, service)), (output, runs[0].stderr)
    assert OUT_OF_RANGE in plain["orders"][0], plain["orders"][1]  # the comparison is not an empty one
    assert CONFLICT in plain["orders"][0], plain["orders"][1]


def test_one_seed_gives_the_same_findings_every_run(runs: list[subprocess.CompletedProcess]) -> None:
    """The same findings, each with its check and the phases it was seen in, and the same failing requests."""
    def said(run: subprocess.CompletedProcess) -> dict[str, list[str]]:
        report = re.sub(r"http://127\.0\.0\.1:\d+", "URL", run.stderr)  # each run's own ports
        return {service: [line for line in service_report(report, service).splitlines()
                          if FINDING.match(line) or line.startswith("    reproduce: ")] for service in SERVICES}

    per_run = [said(run) for run in runs]
    assert per_run[0] == per_run[1] == per_run[2], [run.stderr for run in runs]
    found = findings(service_report(runs[0].stderr, "orders"))
    assert OUT_OF_RANGE in found and CONFLICT in found, runs[0].stderr


def test_a_findings_rerun_hint_pasted_as_it_is_reproduces_it(runs: list[subprocess.CompletedProcess]) -> None:
    """orders' 409 comes from the stock catalog's run set before: its hint runs catalog first, with the seed and the
    examples; orders alone with the seed does not get it."""
    orders = service_report(runs[0].stderr, "orders")
    hints = re.findall(r"^  rerun with: (.+)$", orders, re.MULTILINE)
    assert hints == [f"harness fuzz --topology {SHARED} --seed {SEED} --service catalog --service orders "
                     f"--max-examples {EXAMPLES}"], orders
    command = shlex.split(hints[0])
    again = subprocess.run([str(BIN / command[0]), *command[1:]], capture_output=True, text=True, timeout=900)
    assert findings(service_report(again.stderr, "orders")) == findings(orders), again.stderr
    alone = harness_fuzz("--seed", SEED, "--max-examples", EXAMPLES, "--service", "orders")
    assert OUT_OF_RANGE in findings(service_report(alone.stderr, "orders")), alone.stderr
    assert CONFLICT not in findings(service_report(alone.stderr, "orders")), alone.stderr


def test_pytest_fuzz_follows_the_same_defaults_order_and_seed(pytester: pytest.Pytester,
                                                               runs: list[subprocess.CompletedProcess]) -> None:
    result = pytester.runpytest_subprocess("--topology", str(SHARED), "--fuzz", "--fuzz-seed", SEED,
                                           "--fuzz-max-examples", EXAMPLES, "-v")
    output = result.stdout.str()
    failed = set(re.findall(r"fuzz\[(\S+) (?:[A-Z]+ )?([^\]]+)\] FAILED", output))
    cli = {(service, path) for service in SERVICES for path, _ in findings(service_report(runs[0].stderr, service))}
    assert failed == cli, output
    hints = set(re.findall(r"rerun with: (pytest .+)$", output, re.MULTILINE))
    assert hints and all(f" --topology {SHARED} --fuzz " in hint for hint in hints), output
    assert (f"--fuzz-seed {SEED} --fuzz-service catalog --fuzz-service orders --fuzz-max-examples {EXAMPLES}" in
            " ".join(hints)), output
    assert CONFLICT[1] in output
    from harness.fuzz.engine import st_run_defaults

    phases = ",".join(st_run_defaults().phases)
    said = re.findall(rf"^(passed|FAILED) (\S+) at .*, seed {SEED}, mode (\S+), phases {phases}, st run's default "
                      r"checks \(\d+\)", output,
                      re.MULTILINE)  # the session's summary: a line per service, in the order they ran
    assert said == [("passed", "catalog", st_run_defaults().mode), ("FAILED", "orders", st_run_defaults().mode)], output
