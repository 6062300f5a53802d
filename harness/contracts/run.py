"""`harness verify`: the pacts of a topology's folder verified against the topology (already up, or started for
the run), with a progress line per pact, the edge matrix, and JSON/HTML/JUnit reports."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from rich.console import Console

from harness.contracts.matrix import Edge, as_table, edge_matrix, write_reports
from harness.contracts.pactfiles import PactFile, load_pacts
from harness.contracts.states import Registry, load_states
from harness.contracts.verify import PactResult, check_states, verify_pact
from harness.errors import HarnessError
from harness.spec.loader import load_topology
from harness.spec.model import TopologySpec


def select_pacts(spec: TopologySpec, folder: Path | None = None, provider: str | None = None,
                 consumer: str | None = None) -> tuple[list[PactFile], Registry]:
    """The pacts to verify (all of the folder, less filters) and the handlers of their states."""
    pacts = load_pacts(folder or spec.base_dir / spec.contracts.pacts)
    pacts = [p for p in pacts if (not provider or p.provider == provider) and (not consumer or p.consumer == consumer)]
    if not pacts:
        raise HarnessError("no pact to verify" + (f" for provider {provider}" if provider else "")
                           + (f" from consumer {consumer}" if consumer else "")
                           + f" in {folder or spec.base_dir / spec.contracts.pacts}")
    registry = load_states([spec.base_dir / f for f in spec.contracts.states])
    check_states([p for p in pacts if p.provider in spec.services], registry)
    return pacts, registry


def verify_topology(file: Path, *, pacts: Path | None, provider: str | None, consumer: str | None, out: Console,
                    err: Console, report: Path, junit: Path | None) -> tuple[list[PactResult], list[Edge]]:
    from harness.report.console import ProgressPrinter
    from harness.runtime.topology import Topology

    spec = load_topology(file)
    selected, registry = select_pacts(spec, pacts, provider, consumer)
    results: list[PactResult] = []
    with Topology.reused_or_started(spec, ProgressPrinter(err), say=err.print) as topology:
        for pact in selected:
            if pact.provider not in topology or pact.consumer not in spec.services:
                continue
            result = verify_pact(topology, pact, registry)
            results.append(result)
            mark = "[green]verified[/green]" if result.passed else "[red]FAILED[/red]"
            err.print(f"{mark} {pact.edge}: {len(pact.interactions)} interaction(s) in {result.seconds:.2f} s")
            if not result.passed:
                err.print(result.report, markup=False, highlight=False)
                if result.provider_log.strip():
                    err.print(f"--- log of {pact.provider} during this verification ---\n{result.provider_log}",
                              markup=False, highlight=False)
    edges = edge_matrix(spec, selected, results)
    title = f"contracts of topology {spec.project}"
    out.print(as_table(edges, title))
    as_json, as_html = write_reports(edges, report, title)
    out.print(f"matrix written to {as_json} and {as_html}")
    if junit:
        write_junit(results, junit)
    return results, edges


def write_junit(results: list[PactResult], file: Path) -> None:
    suite = ElementTree.Element("testsuite", name="pact verification", tests=str(len(results)),
                                failures=str(sum(not r.passed for r in results)),
                                time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ElementTree.SubElement(suite, "testcase", classname=f"pact.{result.pact.provider}",
                                      name=result.pact.edge, time=f"{result.seconds:.3f}")
        if not result.passed:
            failure = ElementTree.SubElement(case, "failure", message=f"pact {result.pact.edge} failed verification")
            failure.text = result.report
        ElementTree.SubElement(case, "system-out").text = result.provider_log
    file.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suite).write(file, encoding="utf-8", xml_declaration=True)
