"""`harness fuzz`: fuzz every service with `openapi:` in a topology (already up, or started for the run), print
each failure with the curl command that reproduces it, the seed and the service's log, and write JUnit."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

from rich.console import Console

from harness.errors import HarnessError
from harness.fuzz.session import Failure, ServiceResult, fuzz_service
from harness.spec.loader import load_topology


def fuzz_topology(file: Path, *, services: list[str] | None, max_examples: int | None, seed: int | None,
                  phases: list[str] | None, checks: list[str] | None, junit: Path | None,
                  err: Console) -> list[ServiceResult]:
    from harness.report.console import ProgressPrinter
    from harness.runtime.topology import Topology

    spec = load_topology(file)
    names = [n for n, s in spec.services.items() if s.openapi and (not services or n in services)]
    unknown = [n for n in services or [] if n not in spec.services or not spec.services[n].openapi]
    if unknown or not names:
        raise HarnessError(f"nothing to fuzz: {', '.join(unknown) or 'no service'} of topology {spec.project} "
                           f"declares `openapi:` (services with one: {', '.join(n for n, s in spec.services.items() if s.openapi) or 'none'})")
    results: list[ServiceResult] = []
    with Topology.reused_or_started(spec, ProgressPrinter(err), say=err.print) as topology:
        for name in names:
            err.print(f"fuzzing {name} at {topology[name].url}")
            result = fuzz_service(topology, name, max_examples=max_examples, seed=seed, phases=phases, checks=checks)
            results.append(result)
            print_result(result, err)
    if junit:
        write_junit(results, junit)
    return results


def print_result(result: ServiceResult, err: Console) -> None:
    rate = result.requests / result.seconds if result.seconds else 0.0
    summary = (f"{result.service}: {len(result.operations)} operation(s), {result.requests} requests in "
               f"{result.seconds:.1f} s ({rate:.0f}/s), seed {result.seed}")
    if result.passed:
        err.print(f"[green]passed[/green] {summary}", highlight=False)
        return
    err.print(f"[red]FAILED[/red] {summary}: {len(result.failures)} failure(s)", highlight=False)
    err.print(failures_text(result, result.failures), markup=False, highlight=False)


def failures_text(result: ServiceResult, failures: list[Failure]) -> str:
    """Each failure with the curl command(s) that redo it and the service's log lines for it; then the seed."""
    lines = []
    for failure in failures:
        curl = failure.curl.replace("\n", "\n               ")
        lines += [f"  {failure.operation}: {failure.title} ({failure.check}, {failure.phase} phase)",
                  f"    reproduce: {curl}"]
        logged = log_lines_for(failure, result.log)
        if logged:
            lines += ["    the service's log for it:", *(f"      | {line}" for line in logged)]
    lines.append(f"  rerun with --seed {result.seed} --service {result.service}")
    return "\n".join(lines)


def log_lines_for(failure: Failure, log: str, limit: int = 5) -> list[str]:
    """The service's last log lines that mention the path of the failing request."""
    last = failure.curl.strip().splitlines()[-1].split()
    method, path = last[2] if len(last) > 2 else "", urlsplit(last[-1].strip("'")).path
    lines = [line for line in log.splitlines() if path and path in line]
    return ([line for line in lines if method in line] or lines)[-limit:]


def write_junit(results: list[ServiceResult], file: Path) -> None:
    suite = ElementTree.Element("testsuite", name="fuzz", tests="0", failures="0")
    cases = failures = 0
    for result in results:
        for operation in result.operations or [result.service]:
            cases += 1
            case = ElementTree.SubElement(suite, "testcase", classname=f"fuzz.{result.service}", name=operation)
            mine = [f for f in result.failures if f.operation == operation]
            if mine:
                failures += 1
                failure = ElementTree.SubElement(case, "failure", message=f"{len(mine)} failure(s)")
                failure.text = "\n\n".join(f"{f.title} ({f.check})\n{f.curl}" for f in mine) + \
                    f"\n\nseed {result.seed}"
        stateful = [f for f in result.failures if f.operation not in result.operations]
        if stateful:
            cases += 1
            failures += 1
            case = ElementTree.SubElement(suite, "testcase", classname=f"fuzz.{result.service}", name="stateful")
            ElementTree.SubElement(case, "failure", message=f"{len(stateful)} failure(s)").text = "\n\n".join(
                f"{f.title} ({f.check})\n{f.curl}" for f in stateful)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    file.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suite).write(file, encoding="utf-8", xml_declaration=True)
