"""`harness`: up / down / ps / logs / graph for a topology file, with a clear message and non-zero exit on errors."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError, TopologyNotRunning
from harness.runtime.interrupts import interrupt_on_sigterm

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    interrupt_on_sigterm()
    try:
        return int(args.run(args) or 0)
    except HarnessError as error:
        err.print(f"[red]error:[/red] {error}", markup=True, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Service topologies for tests, in containers.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = commands.add_parser("up", help="start a topology, print its URLs, keep it until Ctrl-C (or --detach)")
    up.add_argument("topology", type=Path, help="topology file (YAML or docker-compose)")
    up.add_argument("--detach", "-d", action="store_true", help="leave it running and return (remove: harness down)")
    up.add_argument("--build-log", action="store_true", help="show docker build output")
    up.set_defaults(run=_up)

    down = commands.add_parser("down", help="remove running topologies (all, or those of one file)")
    down.add_argument("topology", type=Path, nargs="?", help="only the topology of this file")
    down.set_defaults(run=_down)

    ps = commands.add_parser("ps", help="list running topologies and their services")
    ps.set_defaults(run=_ps)

    logs = commands.add_parser("logs", help="print a service's log")
    logs.add_argument("service")
    logs.add_argument("--topology", type=Path, help="topology file, when several are running")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.set_defaults(run=_logs)

    verify = commands.add_parser("verify", help="verify every pact against its provider running in the topology")
    verify.add_argument("--topology", type=Path, required=True, help="topology file (YAML or docker-compose)")
    verify.add_argument("--pacts", type=Path, help="pact folder (default: contracts.pacts of the topology file)")
    verify.add_argument("--provider", help="only pacts of this provider")
    verify.add_argument("--consumer", help="only pacts of this consumer")
    verify.add_argument("--junit", type=Path, help="write a JUnit XML report, one test case per pact")
    verify.add_argument("--report", type=Path, default=Path("reports"),
                        help="folder for contract-matrix.json and .html (default: reports)")
    verify.set_defaults(run=_verify)

    fuzz = commands.add_parser("fuzz", help="run schemathesis against every service of the topology with `openapi:`")
    fuzz.add_argument("--topology", type=Path, required=True, help="topology file (YAML or docker-compose)")
    fuzz.add_argument("--service", action="append", help="only this service (repeatable)")
    fuzz.add_argument("--max-examples", type=int, help="examples per operation (schemathesis' default otherwise)")
    fuzz.add_argument("--seed", type=int, help="seed, to reproduce a run")
    fuzz.add_argument("--phases", help="comma-separated, of: examples,coverage,fuzzing,stateful (default: all)")
    fuzz.add_argument("--checks", help="comma-separated schemathesis checks (default: the topology's, else "
                                       "not_a_server_error,status_code_conformance,content_type_conformance,"
                                       "response_schema_conformance)")
    fuzz.add_argument("--junit", type=Path, help="write a JUnit XML report, one test case per service and operation")
    fuzz.set_defaults(run=_fuzz)

    graph = commands.add_parser("graph", help="print the dependency graph as text and Mermaid")
    graph.add_argument("topology", type=Path)
    graph.add_argument("--format", choices=("text", "mermaid", "both"), default="both")
    graph.set_defaults(run=_graph)
    return parser


def _up(args: argparse.Namespace) -> int:
    from harness.report.console import ProgressPrinter, services_table
    from harness.spec.loader import load_topology
    from harness.runtime.topology import Topology

    spec = load_topology(args.topology)
    err.print(f"starting topology {spec.project} from {args.topology}")
    topology = Topology.start(spec, progress=ProgressPrinter(err, verbose_build=args.build_log), keep=args.detach)
    try:
        out.print(services_table(topology))
        if args.detach:
            out.print("left running; remove it with: harness down")
            return 0
        out.print("running; press Ctrl-C to stop and remove it")
        threading.Event().wait()  # until Ctrl-C / SIGTERM
    finally:
        if not args.detach:
            topology.close()
            err.print("removed")
    return 0


def _down(args: argparse.Namespace) -> int:
    from harness.runtime.engine import connect
    from harness.runtime.labels import remove_leftovers

    project = None
    if args.topology:
        from harness.spec.loader import load_topology

        project = load_topology(args.topology).project
    removed = remove_leftovers(connect(), include_kept=True, topology=project)
    out.print(f"removed {removed} container(s)")
    return 0


def _ps(args: argparse.Namespace) -> int:
    from rich.table import Table

    from harness.runtime import labels as L
    from harness.runtime.engine import connect

    runs = L.find_runs(connect())
    if not runs:
        out.print("no topology is running")
        return 0
    table = Table("topology", "run", "service", "status", "ports (container -> 127.0.0.1)", "kept")
    for run_id, containers in runs:
        for container in sorted(containers, key=lambda c: c.labels.get(L.SERVICE, "")):
            ports = ", ".join(f"{c} -> {h}" for c, h in L.published_ports(container).items())
            table.add_row(container.labels.get(L.TOPOLOGY, "?"), run_id, container.labels.get(L.SERVICE, "?"),
                          container.status, ports or "-", container.labels.get(L.KEEP, "false"))
    out.print(table)
    return 0


def _logs(args: argparse.Namespace) -> int:
    from harness.runtime import labels as L
    from harness.runtime.engine import connect

    project = None
    if args.topology:
        from harness.spec.loader import load_topology

        project = load_topology(args.topology).project
    runs = L.find_runs(connect(), project)
    if project:
        runs = runs[:1]  # the newest run of that topology
    matches = [c for _, containers in runs for c in containers if c.labels.get(L.SERVICE) == args.service]
    if not matches:
        raise TopologyNotRunning(f"no running service '{args.service}'"
                                 + (f" in topology {project}" if project else "")
                                 + "; `harness ps` lists what is running")
    if len({c.labels.get(L.RUN) for c in matches}) > 1:
        names = ", ".join(sorted({c.labels.get(L.TOPOLOGY, "?") for c in matches}))
        raise TopologyNotRunning(f"service '{args.service}' runs in several topologies ({names}); "
                                 "choose one with --topology FILE")
    options = {"tail": args.tail} if args.tail else {}
    sys.stdout.write(matches[0].logs(**options).decode("utf-8", "replace"))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from harness.contracts.run import verify_topology

    results, edges = verify_topology(args.topology, pacts=args.pacts, provider=args.provider,
                                     consumer=args.consumer, out=out, err=err, report=args.report,
                                     junit=args.junit)
    return 0 if results and all(r.passed for r in results) else 1


def _fuzz(args: argparse.Namespace) -> int:
    from harness.report.fuzz import fuzz_topology

    results = fuzz_topology(args.topology, services=args.service, max_examples=args.max_examples, seed=args.seed,
                            phases=args.phases.split(",") if args.phases else None,
                            checks=args.checks.split(",") if args.checks else None, junit=args.junit, err=err)
    return 0 if all(r.passed for r in results) else 1


def _graph(args: argparse.Namespace) -> int:
    from harness.spec.loader import load_topology
    from harness.spec.plan import StartPlan

    plan = StartPlan.from_spec(load_topology(args.topology))
    if args.format in ("text", "both"):
        out.print(plan.as_text(), markup=False)
    if args.format == "both":
        out.print()
    if args.format in ("mermaid", "both"):
        out.print("```mermaid\n" + plan.as_mermaid() + "\n```", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
