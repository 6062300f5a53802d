"""`harness`: up / down / ps / logs / graph / verify / fuzz / drift / fault for a topology file.

Exit codes (a CI can tell them apart): 0 all passed, 1 failures found (pacts, fuzzing), 2 bad input (topology file,
pact file, options), 3 environment (Docker engine, image, build, a service that does not start), 4 internal error,
130 interrupted. The front-end only wires and prints through harness.report.
"""

from __future__ import annotations

import argparse
import sys
import threading
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_PASSED, HarnessError, TopologyNotRunning
from harness.report.console import make_console
from harness.runtime.interrupts import interrupt_on_sigterm


def main(argv: list[str] | None = None) -> int:
    """Run one command. Returns the exit code (see the module docstring); never raises."""
    parser = _parser()
    args = parser.parse_args(argv)  # a bad option exits 2 with argparse's usage message
    args.command_line = "harness " + " ".join(sys.argv[1:] if argv is None else argv)  # for the report page
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    out, err = make_console(), make_console(stderr=True)
    interrupt_on_sigterm()
    try:
        return int(args.run(args, out, err) or 0)
    except HarnessError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", markup=True, soft_wrap=True)
        return error.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: a bug, said as one
        err.print(f"internal error of pytest-topology: {type(error).__name__}: {error}\n"
                  "This is a bug; please report it with the traceback below.", markup=False, soft_wrap=True)
        err.print("".join(traceback.format_exception(error)), markup=False, soft_wrap=True)
        return EXIT_INTERNAL


TOPOLOGY_HELP = ("topology file (YAML or docker-compose); repeatable: compose files merged by Compose (`-f a -f b`); "
                 "a folder reads its compose file and override as `docker compose` does")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Service topologies for tests, in containers.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = commands.add_parser("up", help="start a topology, print its URLs, keep it until Ctrl-C (or --detach)")
    up.add_argument("topology", type=Path, nargs="+", metavar="FILE",
                    help="topology file (YAML or docker-compose); several compose files are merged by Compose; a "
                         "folder reads its compose file and override as `docker compose` does")
    _topology_options(up)
    up.add_argument("--detach", "-d", action="store_true", help="leave it running and return (remove: harness down)")
    up.add_argument("--build-log", action="store_true", help="show docker build output")
    up.set_defaults(run=_up)

    down = commands.add_parser("down", help="remove kept topologies and those whose owner process is gone: of one "
                                            "file, of the files under this folder, one run, or --all")
    down.add_argument("topology", type=Path, nargs="*", metavar="FILE",
                      help="only the topology of this file (of these compose files, of this folder: as started)")
    _topology_options(down)
    down.add_argument("--run", dest="run_id", metavar="RUN", help="only this run (its id as `harness ps` shows it)")
    down.add_argument("--all", action="store_true", help="every kept topology on the engine, wherever its file is")
    down.set_defaults(run=_down)

    prune = commands.add_parser("prune", help="remove unused built images of each build context under this folder "
                                              "but the newest N, untagged ones too (--all: anywhere, and unused "
                                              "image-substitute tags)")
    prune.add_argument("--keep", type=int, default=0, metavar="N",
                       help="unused images kept per build context, the newest (default 0: every unused one is removed)")
    prune.add_argument("--all", action="store_true", help="build contexts anywhere, not only under this folder; "
                                                          "also unused image-substitute tags (engine-wide)")
    prune.set_defaults(run=_prune)

    ps = commands.add_parser("ps", help="list running topologies and their services, and runs left behind by a "
                                        "process that died (with the command that removes them)")
    ps.set_defaults(run=_ps)

    logs = commands.add_parser("logs", help="print a service's log")
    logs.add_argument("service")
    logs.add_argument("--topology", type=Path, action="append", metavar="FILE",
                      help="topology file, when several are running (repeatable: compose files merged)")
    _topology_options(logs)
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.set_defaults(run=_logs)

    verify = commands.add_parser("verify", help="verify every pact against its provider running in the topology")
    verify.add_argument("--topology", type=Path, required=True, action="append", metavar="FILE", help=TOPOLOGY_HELP)
    _topology_options(verify)
    verify.add_argument("--pacts", type=Path, help="pact folder (default: contracts.pacts of the topology file)")
    verify.add_argument("--provider", help="only pacts of this provider")
    verify.add_argument("--consumer", help="only pacts of this consumer")
    verify.add_argument("--junit", type=Path, help="write a JUnit XML report, one test case per interaction")
    verify.add_argument("--report", type=Path, default=Path("reports"),
                        help="a folder for contract-matrix.json and .html (default: reports); or FILE.html: the "
                             "run's report page, with the matrix files beside it")
    verify.set_defaults(run=_verify)

    fuzz = commands.add_parser("fuzz", help="run schemathesis against every service of the topology with `openapi:`, "
                                             "one after another")
    fuzz.add_argument("--topology", type=Path, required=True, action="append", metavar="FILE", help=TOPOLOGY_HELP)
    _topology_options(fuzz)
    fuzz.add_argument("--service", action="append", help="only this service (repeatable)")
    fuzz.add_argument("--max-examples", type=int, help="examples per operation (schemathesis' default otherwise)")
    fuzz.add_argument("--seed", type=int, help="seed, to reproduce a run")
    fuzz.add_argument("--phases", help="comma-separated, of: examples,coverage,fuzzing,stateful (default: `st run`'s)")
    fuzz.add_argument("--checks", help="comma-separated schemathesis checks (default: the service's `fuzz: {checks: "
                                       "...}`, else `st run`'s)")
    fuzz.add_argument("--mode", choices=("positive", "negative", "all"),
                      help="generated data: valid (positive), invalid (negative) or both (default: the service's "
                           "`fuzz: {mode: ...}`, else `st run`'s)")
    fuzz.add_argument("--workers", type=_positive_int, default=1, help="schemathesis workers per service (default 1)")
    fuzz.add_argument("--junit", type=Path, help="write a JUnit XML report, one test case per service and operation")
    fuzz.add_argument("--report", type=Path, metavar="FILE.html", help="write the run's report page (one HTML file)")
    fuzz.set_defaults(run=_fuzz)

    drift = commands.add_parser("drift", help="check every pact against its provider's OpenAPI document, statically "
                                             "(nothing is started)")
    drift.add_argument("--topology", type=Path, required=True, action="append", metavar="FILE", help=TOPOLOGY_HELP)
    _topology_options(drift)
    drift.add_argument("--pacts", type=Path, help="pact folder (default: contracts.pacts of the topology file)")
    drift.add_argument("--provider", help="only pacts of this provider")
    drift.add_argument("--junit", type=Path, help="write a JUnit XML report, one test case per interaction")
    drift.add_argument("--report", type=Path, metavar="FILE.html", help="write the run's report page (one HTML file)")
    drift.set_defaults(run=_drift)

    fault = commands.add_parser(
        "fault", help="put a fault on the calls one service makes to another in a running topology (harness up "
                      "--detach), list the faults in place, or remove them (--clear)")
    fault.add_argument("edge", nargs="*", metavar="[FILE] [CONSUMER [PROVIDER]]",
                       help="the topology file (or compose folder) of the running topology, unless --topology is "
                            "given; the service whose calls are affected; the service it calls (omitted: everything "
                            "it calls)")
    fault.add_argument("--topology", type=Path, action="append", metavar="FILE",
                       help="topology file, instead of the first argument (repeatable: compose files merged)")
    fault.add_argument("--delay", type=int, metavar="MS", help="hold each packet MS milliseconds")
    fault.add_argument("--jitter", type=int, default=0, metavar="MS", help="with --delay: +- MS, uniform")
    fault.add_argument("--loss", type=float, metavar="PERCENT", help="drop PERCENT %% of the packets")
    fault.add_argument("--cut", nargs="?", const="reject", choices=("reject", "drop"),
                       help="cut the edge: reject (refused at once, the default) or drop (calls hang)")
    fault.add_argument("--clear", action="store_true", help="remove every fault of the topology")
    fault.set_defaults(run=_fault)

    graph = commands.add_parser("graph", help="print the dependency graph as text and Mermaid")
    graph.add_argument("topology", type=Path, nargs="+", metavar="FILE")
    _topology_options(graph)
    graph.add_argument("--format", choices=("text", "mermaid", "both"), default="both")
    graph.set_defaults(run=_graph)
    return parser


def _topology_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--topology-profile", action="append", default=[], metavar="PROFILE",
                         help="compose file: enable this profile (repeatable; COMPOSE_PROFILES is read too)")
    command.add_argument("--topology-env-file", type=Path, metavar="FILE",
                         help="compose file: interpolation variables from FILE instead of .env")
    command.add_argument("--image-substitute", action="append", default=[], metavar="IMAGE=SUBSTITUTE",
                         help="use SUBSTITUTE wherever IMAGE is named (image: and FROM lines); 'docker.io/=PREFIX/' "
                              "replaces a registry prefix (repeatable)")


def _load(args: argparse.Namespace, err: Console):  # noqa: ANN202 - TopologySpec (imported lazily)
    """The topology of `args.topology` with the topology options, its notes printed (one line each)."""
    from harness.spec.loader import load_topology, parse_substitutes

    spec = load_topology(args.topology, profiles=args.topology_profile, env_file=args.topology_env_file,
                         image_substitutes=parse_substitutes(args.image_substitute))
    for note in spec.notes:
        err.print(f"note: {note}", markup=False, soft_wrap=True)
    return spec


def _up(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.report.console import ProgressPrinter, services_table
    from harness.runtime.runlocks import deciding
    from harness.runtime.topology import Topology

    spec = _load(args, err)
    progress = ProgressPrinter(err, verbose_build=args.build_log)
    if args.detach:  # as `docker compose up -d`: the kept run of the file if it is the same, else (re)started
        topology = Topology.kept_or_started(spec, progress=progress, say=lambda text: err.print(text, markup=False))
    else:  # offered to `verify`, `fuzz` and `fault` of other terminals once ready (they wait for it meanwhile)
        err.print(f"starting topology {spec.project} from {_given(args)}")
        with deciding(spec, say=lambda text: err.print(text, markup=False)):
            topology = Topology.start(spec, progress=progress, shared=True)
    try:
        out.print(services_table(topology))
        if args.detach:
            out.print(f"left running; remove it with: harness down {_given(args)}", markup=False)
            return 0
        out.print("running; press Ctrl-C to stop and remove it")
        threading.Event().wait()  # until Ctrl-C / SIGTERM
    finally:
        if not args.detach:
            topology.close()
            err.print("removed")
    return 0


def _down(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.errors import OptionError
    from harness.runtime.engine import connect
    from harness.runtime.labels import remove_leftovers

    if sum(map(bool, (args.topology, args.run_id, args.all))) > 1:
        raise OptionError("harness down: give one of a topology file, --run RUN or --all")
    if args.run_id:
        return _down_run(args.run_id, out)
    if args.topology:
        spec = _load(args, err)
        client = connect()
        removed = remove_leftovers(client, include_kept=True, file=spec.identity)
        out.print(f"removed {removed} container(s)")
        _say_other_file_sets(client, spec, err)
        return 0
    removed = remove_leftovers(connect(), include_kept=True, under=None if args.all else Path.cwd())
    out.print(f"removed {removed} container(s)" + ("" if args.all else
              f" of topology files under {Path.cwd()} (`harness down --all`: wherever their file is)"))
    return 0


def _given(args: argparse.Namespace) -> str:
    """The topology files as given on the command line (several: separated by spaces, as `harness down` takes them)."""
    return " ".join(str(f) for f in args.topology)


def _say_other_file_sets(client, spec, err: Console) -> None:  # noqa: ANN001 - DockerClient, TopologySpec
    """`harness down a.yml` removes the runs of a.yml alone: a run of a.yml merged with other files is another
    topology (as `docker compose -f a.yml -f b.yml`); say how to remove it rather than leave it unsaid."""
    from harness.runtime import labels as L

    others = {run.file for run in L.find_runs(client) if run.file != spec.identity
              and {str(f) for f in spec.files} <= set(run.file.split(","))}
    for files in sorted(others):
        err.print(f"note: a run of {' + '.join(_shown(f) for f in files.split(','))} is left running (another set "
                  f"of files); remove it with: harness down {' '.join(_shown(f) for f in files.split(','))}",
                  markup=False, soft_wrap=True)


def _down_run(run_id: str, out: Console) -> int:
    """`harness down --run RUN`: one run, kept or left behind; never one its live owner still uses."""
    from harness.errors import OptionError
    from harness.runtime import labels as L
    from harness.runtime.engine import connect

    client = connect()
    run = next((run for run in L.list_runs(client) if run.run_id == run_id), None)
    if run is None:
        raise TopologyNotRunning(f"harness down --run {run_id}: no run {run_id} on the engine (removed already?); "
                                 "`harness ps` lists the runs")
    if not run.kept and L.owner_gone(run.owner) is False:
        raise OptionError(f"harness down --run {run_id}: run {run_id} of topology {run.topology} belongs to "
                          f"{L.owner_process(run.owner)}, which is still running (`harness up`, or a test session); "
                          "stop that process (Ctrl-C) and it removes its run")
    removed = L.remove_run(client, run_id)
    out.print(f"removed {removed} container(s) of run {run_id} (topology {run.topology})", markup=False,
              highlight=False, soft_wrap=True)
    return 0


def _prune(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.errors import OptionError
    from harness.runtime.engine import connect
    from harness.runtime.prune import prune_images, under

    if args.keep < 0:
        raise OptionError(f"harness prune --keep {args.keep}: a number of images, 0 or more")
    pruned = prune_images(connect(), keep=args.keep,  # substitutes have no folder: engine-wide, so only with --all
                          wanted=(lambda context: True) if args.all else under(Path.cwd()), substitutes=args.all)
    for what in pruned.removed:
        out.print(f"removed {what}", markup=False, highlight=False)
    for context in pruned.busy:
        out.print(f"left {context} alone: a session is building or starting from it (run `harness prune` again "
                  "once it has started)", markup=False, highlight=False)
    where = "" if args.all else f" (build contexts under {Path.cwd()}; --all: anywhere, and substitute tags)"
    out.print(f"removed {len(pruned.removed)} built image(s) or tag(s){where}", markup=False,
              highlight=False)
    return 0


PS_COLUMNS = ("topology", "run", "service", "status", "ports (container -> 127.0.0.1)", "kept", "file", "run state")


def _ps(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.fault_helper import HELPER_OF as FAULTS_OF

    # live runs (kept, or of a live owner) as before, and what a process that died left (its owner is gone)
    runs = [run for run in L.list_runs(connect())
            if (run.containers and (run.kept or run.owner_alive)) or run.orphaned]
    if not runs:
        out.print("no topology is running")
        return 0
    rows = []
    for run in runs:
        state = _run_state(run)
        if not run.containers:
            rows.append((run.topology, run.run_id, "-", "no container left", "-", str(run.kept).lower(),
                         _shown(run.file), state))
        for container in sorted(run.containers, key=lambda c: L.labels_of(c).get(L.SERVICE, "")):
            ports = ", ".join(f"{c} -> {h}" for c, h in L.published_ports(container).items())
            labels = L.labels_of(container)
            service = labels.get(L.SERVICE) or (  # a fault helper has no service of its own
                f"(faults of {labels[FAULTS_OF]})" if FAULTS_OF in labels else "?")
            rows.append((run.topology, run.run_id, service, L.container_status(container), ports or "-",
                         str(run.kept).lower(), _shown(run.file), state))
    if not out.file.isatty():  # a pipe, a file, CI: as `docker ps` writes it, a line per container, columns aligned
        out.file.write(aligned([PS_COLUMNS, *rows]))  # by spaces (3 or more between two), never wrapped or coloured
        out.file.flush()
        return 0
    from rich.table import Table

    table = Table(*PS_COLUMNS)
    runs_of_rows = [row[1] for row in rows]
    for index, (*cells, state) in enumerate(rows):
        shown = escape(state) if runs_of_rows[index - 1:index] != [cells[1]] else ""  # once per run, on its first row
        table.add_row(*map(escape, cells), f"[red]{shown}[/red]" if state.startswith(("orphaned", "start ")) else shown,
                      end_section=runs_of_rows[index + 1:index + 2] != [cells[1]])
    out.print(table)
    return 0


def aligned(rows: list[tuple[str, ...]]) -> str:
    """`rows` as lines of columns padded to their widths, three spaces apart, after a one-space margin (as in the
    table: `grep " NAME "` finds a row by any cell). A cell's own runs of spaces and its line breaks become one
    space, so `re.split(" {3,}", line.strip())` gives the cells back."""
    cells = [[" ".join(str(cell).split()) or "-" for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    return "".join(" " + "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                   + "\n" for row in cells)


def _run_state(run) -> str:  # noqa: ANN001 - a harness.runtime.labels.Run
    """How a run stands, in the words of `harness ps`: started or starting (and whose it is), or left behind by an
    owner process that is gone (and the command that removes it)."""
    from harness.runtime import labels as L

    owner = L.owner_process(run.owner)
    remove = f"remove it: harness down --run {run.run_id}"
    if run.orphaned:
        return (f"orphaned: owner {owner} is gone{'' if run.started else ', its start never finished'}; {remove}")
    if run.kept and run.started:
        return "started, kept"
    if run.kept and L.owner_gone(run.owner):
        return f"start never finished: owner {owner} is gone; {remove}"
    return f"{'started' if run.started else 'starting'} (owner {owner})"


def _shown(file: str) -> str:
    """A topology file as a path relative to the current folder when it is under it (several, from a run's label:
    each, joined by ',')."""
    if "," in file and all(Path(f).is_absolute() for f in file.split(",")):
        return ",".join(map(_shown, file.split(",")))
    try:
        return str(Path(file).relative_to(Path.cwd()))
    except ValueError:
        return file


def _logs(args: argparse.Namespace, out: Console, err: Console) -> int:
    import docker.errors

    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.spec.secrets import Masker, secret_values

    file = project = spec = None
    if args.topology:
        spec = _load(args, err)
        file, project = spec.identity, spec.project
    client = connect()
    runs = L.find_runs(client, file)
    if file:
        runs = [run for run in runs if run.topology == project][:1]  # the newest run of that topology
    matches = [(run, c) for run in runs for c in run.containers if L.labels_of(c).get(L.SERVICE) == args.service]
    if not matches:
        raise TopologyNotRunning(f"no running service '{args.service}'"
                                 + (f" in topology {project} ({_given(args)})" if project else "")
                                 + "; `harness ps` lists what is running")
    if len({run.run_id for run, _ in matches}) > 1:
        names = ", ".join(f"{run.topology} ({_shown(run.file)}, run {run.run_id})" for run, _ in matches)
        raise TopologyNotRunning(f"service '{args.service}' runs in several topologies: {names}; "
                                 "choose one with --topology FILE")
    options = {"tail": args.tail} if args.tail else {}
    try:
        container = client.containers.get(matches[0][1].id)  # inspected: its environment, whose secrets are hidden
        environment = dict(entry.partition("=")[::2] for entry in container.attrs["Config"].get("Env") or [])
        text = Masker(spec, extra=secret_values(environment))(container.logs(**options).decode("utf-8", "replace"))
    except docker.errors.NotFound:
        raise TopologyNotRunning(f"service '{args.service}' was removed while its log was being read (its topology "
                                 "was taken down); `harness ps` lists what is running") from None
    sys.stdout.write(text)
    return 0


def _verify(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.extras import CONTRACTS_DRIFT, CONTRACTS_PACT, installed, require

    require("harness verify", CONTRACTS_PACT)
    from harness.contracts.matrix import edge_matrix
    from harness.contracts.run import decided_before_running, drift_column, exit_code, select_pacts, verify_all
    from harness.report.console import ProgressPrinter
    from harness.report.contracts import print_result, print_summary, write_pact_junit
    from harness.report.matrix import matrix_text, write_reports
    from harness.runtime.topology import Topology

    page, matrix_folder = (args.report, args.report.parent) if _is_page(args.report) else (None, args.report)
    if page is not None and page.resolve() == (matrix_folder / "contract-matrix.html").resolve():
        from harness.errors import OptionError

        raise OptionError(f"--report {page}: that name is the contract matrix's file; choose another, e.g. "
                          f"{matrix_folder / 'report.html'}")
    recorder = _recorder(args, page)
    spec = _load(args, err)
    selection = select_pacts(spec, args.pacts, args.provider, args.consumer)  # every problem of the files, at once
    for note in selection.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    decided = [decided_before_running(spec, source) for source in selection.sources]
    results, drift = [], []
    if all(decided):  # every pact excluded: nothing to start
        results = [result for result in decided if result is not None]
        for result in results:
            print_result(result, err)
    else:
        with Topology.reused_or_started(spec, _progress(recorder, ProgressPrinter(err)), say=err.print) as topology:
            for result in verify_all(topology, selection):
                results.append(result)
                print_result(result, err)
            # the matrix's drift column: static; a document the service serves comes from this running topology
            drift = drift_column(topology, selection) if installed(CONTRACTS_DRIFT[1]) else []
            if recorder is not None:
                recorder.snapshot(topology)
    edges = edge_matrix(spec, results, drift)
    title = f"contracts of topology {spec.project}"
    out.print(matrix_text(edges, title, width=max(out.width, 120)), markup=False, highlight=False, end="")
    if any(result.verdict != "excluded" for result in results):
        as_json, as_html = write_reports(edges, matrix_folder, title)
        out.print(f"matrix written to {as_json} and {as_html}", soft_wrap=True)
    else:
        out.print(f"nothing was verified (every pact is excluded): the contract matrix in {matrix_folder} is left as "
                  "the last run that verified wrote it", soft_wrap=True)
    _write_page(recorder, page, spec, out, pacts=results, drift=drift)
    if args.junit:
        write_pact_junit(results, args.junit)
    out.file.flush()
    print_summary(results, err)
    return exit_code(results)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _fuzz(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.extras import FUZZ, require

    require("harness fuzz", FUZZ)
    from harness.fuzz.session import (
        FuzzOptions,
        fuzz_all,
        fuzz_targets,
        prepare_runs,
        refuse_unknown_names,
        run_settings,
        split_names,
    )
    from harness.report.console import ProgressPrinter
    from harness.report.fuzz import CLI_FLAGS, Rerun, print_result, run_headline, write_fuzz_junit
    from harness.runtime.topology import Topology

    recorder = _recorder(args, _page_option(args.report))
    spec = _load(args, err)
    names = fuzz_targets(spec, args.service)  # also fails early (exit 2) on an auth hook that does not import
    options = FuzzOptions(max_examples=args.max_examples, seed=args.seed, phases=split_names(args.phases),
                          checks=split_names(args.checks), mode=args.mode, workers=args.workers).with_seed()
    refuse_unknown_names(spec, names, options)  # before anything starts: a misspelt check would not run
    prepare_runs(names, options)  # while the topology starts
    rerun = Rerun(_fuzz_command(args), CLI_FLAGS)
    with Topology.reused_or_started(spec, _progress(recorder, ProgressPrinter(err)), say=err.print) as topology:
        assert options.seed is not None
        err.print(run_headline(names, options.seed, *run_settings(options)), markup=False, highlight=False,
                  soft_wrap=True)
        for name in names:
            err.print(f"fuzzing {name} at {topology[name].url}", soft_wrap=True)
        results = fuzz_all(topology, names, options, on_result=lambda result: print_result(result, err, rerun))
        if recorder is not None:
            recorder.snapshot(topology)
    if args.junit:
        write_fuzz_junit(results, args.junit, rerun)
    _write_page(recorder, args.report, spec, out, fuzz=results)
    return EXIT_PASSED if all(r.passed for r in results) else EXIT_FAILED


def _fuzz_command(args: argparse.Namespace) -> list[str]:
    """`harness fuzz` with the options that decide the topology, as given: a rerun hint starts with it."""
    words = ["harness", "fuzz"]
    for file in args.topology:
        words += ["--topology", str(file)]
    for profile in args.topology_profile:
        words += ["--topology-profile", profile]
    if args.topology_env_file:
        words += ["--topology-env-file", str(args.topology_env_file)]
    for substitute in args.image_substitute:
        words += ["--image-substitute", substitute]
    return words


def _drift(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.extras import CONTRACTS_DRIFT, require

    require("harness drift", CONTRACTS_DRIFT)
    from harness.contracts.drift import CLEAN, ERROR, NOT_APPLICABLE, check_topology, running_fetcher
    from harness.report.drift import print_result, summary, write_drift_junit

    recorder = _recorder(args, _page_option(args.report))
    spec = _load(args, err)
    results = []
    for result in check_topology(spec, args.pacts, args.provider, fetch=running_fetcher(spec)):
        results.append(result)
        print_result(result, out)
    out.print(summary(results), markup=False, highlight=False)
    if args.junit:
        write_drift_junit(results, args.junit)
    _write_page(recorder, args.report, spec, out, drift=results)
    if any(r.verdict == ERROR for r in results):
        return EXIT_BAD_INPUT  # an unreadable pact or document, a provider not in the topology (README: exit codes)
    return EXIT_PASSED if all(r.verdict in (CLEAN, NOT_APPLICABLE) for r in results) else EXIT_FAILED


def _is_page(path: Path | None) -> bool:
    return path is not None and path.suffix.lower() in (".html", ".htm")


def _page_option(path: Path | None) -> Path | None:
    """`--report` of fuzz and drift: the page's file, which must end in .html (exit 2 otherwise)."""
    if path is not None and not _is_page(path):
        from harness.errors import OptionError

        raise OptionError(f"--report {path}: the report page is one HTML file; give a name ending in .html, e.g. "
                          f"{path / 'report.html'}")
    return path


def _recorder(args: argparse.Namespace, page: Path | None):  # noqa: ANN202 - RunRecorder | None (lazy import)
    if page is None:
        return None
    from harness.report.page import RunRecorder

    return RunRecorder(args.command_line)


def _progress(recorder, printer):  # noqa: ANN001, ANN202 - RunRecorder | None, Progress -> Progress
    return printer if recorder is None else recorder.progress(printer)


def _write_page(recorder, page: Path | None, spec, out: Console, **results: list) -> None:  # noqa: ANN001
    """The report page of this run, when --report names one."""
    if recorder is None or page is None:
        return
    from harness.report.page import write_page

    written = write_page(recorder.page(spec, **results), page)
    out.print(f"report page written to {written}", soft_wrap=True)


def _fault(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.errors import OptionError
    from harness.report.faults import print_faults
    from harness.runtime.topology import Topology
    from harness.spec.loader import load_topology

    given = list(args.edge)
    if not args.topology:  # `harness fault FILE [CONSUMER [PROVIDER]]`
        if not given:
            raise OptionError("harness fault: name the topology file (harness fault FILE ... or --topology FILE)")
        args.topology = [Path(given.pop(0))]
    if len(given) > 2:
        raise OptionError(f"harness fault: too many arguments ({' '.join(given)}): give CONSUMER [PROVIDER]")
    args.consumer, args.provider = (given + [None, None])[:2]
    kinds = [args.delay is not None, args.loss is not None, args.cut is not None]
    if args.clear and (args.consumer or any(kinds)):
        raise OptionError("harness fault: --clear removes every fault and takes no service or fault option")
    if args.consumer and not any(kinds):
        raise OptionError(f"harness fault: say which fault to put on {args.consumer}'s calls: --delay MS "
                          "[--jitter MS], --loss PERCENT or --cut [reject|drop]")
    if any(kinds) and not args.consumer:
        raise OptionError("harness fault: name the service whose calls get the fault (and the one it calls)")
    spec = load_topology(args.topology)
    topology = Topology.attach(spec)
    if topology is None:
        raise TopologyNotRunning(f"topology {spec.project} is not running; start it with "
                                 f"`harness up {_given(args)} --detach` first")
    if args.clear:
        print_faults(topology.faults.clear(), out, f"removed from topology {spec.project}:")
        return 0
    if args.consumer:
        edge = topology.faults.edge(args.consumer, args.provider)
        added = []
        if args.cut is not None:
            added.append(edge.cut(args.cut))
        if args.loss is not None:
            added.append(edge.loss(args.loss))
        if args.delay is not None:
            added.append(edge.delay(args.delay, args.jitter))
        print_faults([a.fault for a in added], out, "added:")
    print_faults(topology.faults.active(), out, f"faults in place in topology {spec.project} "
                                                 f"(remove: harness fault {_fault_files(args)} --clear):")
    return 0


def _fault_files(args: argparse.Namespace) -> str:
    return str(args.topology[0]) if len(args.topology) == 1 else " ".join(f"--topology {f}" for f in args.topology)


def _graph(args: argparse.Namespace, out: Console, err: Console) -> int:
    from harness.spec.plan import StartPlan

    plan = StartPlan.from_spec(_load(args, err))
    if args.format in ("text", "both"):
        out.print(plan.as_text(), markup=False)
    if args.format == "both":
        out.print()
    if args.format in ("mermaid", "both"):
        out.print("```mermaid\n" + plan.as_mermaid() + "\n```", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
