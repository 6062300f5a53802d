"""The commands about topologies themselves: up, down, ps, fault, graph (logs: logs.py, prune: prune.py). Each
takes the resolved options (harness.options) and the two consoles, and returns its exit code."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from harness.errors import HarnessError, OptionError, TopologyNotRunning
from harness.hints import on_engine, with_engine
from harness.options import ResolvedOptions

if TYPE_CHECKING:  # imported lazily where they are used: the CLI starts without them
    import docker

    from harness.model.topology import TopologySpec
    from harness.observe import ObserveRun
    from harness.runtime.labels import Run
    from harness.runtime.topology import Topology


def load(options: ResolvedOptions, err: Console, *, notes: bool = True) -> TopologySpec:
    """The topology of the topology options, its notes printed (one line each) unless `notes` is False (a command
    that only acts on runs already there, or on a broker: the notes were said when the run was started). A file
    refused as it is read is refused with the keys an engine that answers refuses too, in the same message."""
    try:
        spec = options.topology.load()
    except HarnessError as error:
        from harness.runtime.engine_check import with_engine_refusals

        raise with_engine_refusals(error) from None
    if notes:
        from harness.runtime.substitutes import hub_prefix_note, unapplied_substitutes

        for note in [*spec.notes, *unapplied_substitutes(spec), *hub_prefix_note(spec)]:
            err.print(f"note: {note}", markup=False, soft_wrap=True)
    return spec


def _up(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.report.console import ProgressPrinter, print_table, services_table
    from harness.runtime.keptrun import kept_and_restored
    from harness.runtime.runlocks import deciding
    from harness.runtime.topology import Topology

    if options.observe and options.detach:
        raise OptionError("harness up --observe --detach: nothing would read the capture once `up` returns; run "
                          "`harness up --observe` (the coverage is said at Ctrl-C), or `pytest --observe`")
    for name in ("observe_fail_under", "observe_strict", "junit"):
        if options[name] not in (None, False) and not options.observe:
            raise OptionError(f"harness up {options.flag(name)}: it is about the observed traffic; add --observe")
    spec = load(options, err)
    progress = ProgressPrinter(err, verbose_build=options.build_log)
    if options.detach:  # as `docker compose up -d`: the kept run of the file if it is the same, else (re)started
        topology = kept_and_restored(spec, progress, lambda text: err.print(text, markup=False))
    else:  # offered to `verify`, `fuzz` and `fault` of other terminals once ready (they wait for it meanwhile)
        err.print(f"starting topology {spec.name} from {' '.join(map(str, options.topology.files))}")
        with deciding(spec, say=lambda text: err.print(text, markup=False)):
            topology = Topology.start(spec, progress=progress, shared=True)
    ended: KeyboardInterrupt | None = None  # the signal that ended it decides the exit code, not one that forced it
    try:
        # (the capture first: a call made once the URLs are shown is observed whole, at both its ends)
        observing = _observe(spec, topology, err) if options.observe else None
        print_table(out, services_table(topology))
        if options.detach:
            out.print(f"left running; remove it with: {options.topology.command('harness down')}", markup=False)
            return 0
        out.print("running" + (", observing the calls between services" if observing else "")
                  + "; press Ctrl-C to stop and remove it" + (" (and say what was observed)" if observing else ""))
        try:
            threading.Event().wait()  # until Ctrl-C / SIGTERM
        except KeyboardInterrupt as interrupt:
            ended = interrupt
            if any(service.pre_stop for service in spec.services.values()):  # the only wait of a removal
                err.print("running the pre_stop hooks, then removing it (press Ctrl-C again not to wait for the "
                          "hooks)", markup=False)
            if observing is None:
                raise
            # observing: Ctrl-C is the end of the run, whose exit code is the gates' (0 without gates)
            return _say_observed(spec, observing, options, out)
    finally:
        if not options.detach:
            try:
                topology.close()  # a further Ctrl-C (or SIGTERM) forces it, but everything is removed first
            except KeyboardInterrupt as again:
                err.print("removed")
                raise (ended or again) from None
            err.print("removed")
    return 0


def _observe(spec: TopologySpec, topology: Topology, err: Console) -> ObserveRun:
    """The capture in every service's namespace, started (said: it takes seconds on a loaded machine, and calls
    made before it are seen in part or not at all)."""
    from harness.observe import ObserveRun

    err.print("starting the traffic capture in every service's namespace", markup=False)
    run = ObserveRun(spec, topology)
    run.start()
    return run


def _say_observed(spec: TopologySpec, run: ObserveRun, options: ResolvedOptions, out: Console) -> int:
    """The coverage of each edge, and the contract matrix with it (written to reports/); the gates' verdicts (one
    JUnit case each with --junit). Returns the exit code: 0, or the gates' (harness.verdict.exit_code)."""
    from harness.errors import HarnessError
    from harness.observe.gates import gate_verdicts
    from harness.report.console import on_terminal
    from harness.report.junit import Case, write_junit
    from harness.report.matrix import matrix_folder, write_matrix
    from harness.report.observe import observed_text
    from harness.verdict import exit_code

    problem = ""
    try:
        result = run.finish()
    except HarnessError as error:
        result, problem = None, str(error)
        if not options.observe_strict and options.observe_fail_under is None:
            raise
    if result is not None:
        out.print(observed_text(result), markup=False, highlight=False, soft_wrap=True)
        text, written, _ = write_matrix(spec, [], [], matrix_folder(), width=max(out.width, 120),
                                        coverage=result.edges, terminal=on_terminal(out))
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        out.print(written, markup=False, highlight=False)
    gates = gate_verdicts(result, problem, options.observe_fail_under, bool(options.observe_strict))
    for gate in gates:
        out.print(f"{'passed' if gate.outcome == 'passed' else gate.outcome.upper()} {gate.summary}"
                  + (f"\n{gate.details}" if gate.details and gate.outcome != "passed" else ""),
                  markup=False, highlight=False, soft_wrap=True)
    if options.junit is not None:
        cases = [Case(f"harness.up.{spec.name}", gate.name, details=gate.details,
                      failure=gate.summary if gate.outcome == "failed" else None,
                      error=gate.summary if gate.outcome == "error" else None) for gate in gates]
        out.print(f"JUnit written to {write_junit(options.junit, f'harness up {spec.name}', cases)}", markup=False,
                  highlight=False)
    return exit_code(gates)


PS_COLUMNS = ("topology", "run", "service", "status", "ports (container -> 127.0.0.1)", "kept", "file", "run state")


def _ps(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.cli.down import file_identity
    from harness.errors import ComposeUnavailable, DockerUnavailable, TopologyFileError
    from harness.runtime import labels as L
    from harness.runtime.engine import connect, service_host
    from harness.runtime.engine_runs import known_runs
    from harness.runtime.engines import file_engines

    # the engines this machine knows of: its own, the topology file's (given, or the ini's), those the runs name
    spec, unread = None, None
    try:
        spec = load(options, err, notes=False) if options.topology.files else None
    except (TopologyFileError, ComposeUnavailable) as error:  # its runs are found by their label all the same
        unread = error
    engines = [(engine.name, engine.host) for engine in spec.engines] if spec is not None else []
    if spec is not None:
        file_engines(spec)  # a Docker context that does not exist: the file's error (exit 2), as for `up`
    try:
        client: docker.DockerClient | None = connect()
    except DockerUnavailable as error:
        if not engines:
            raise
        client = None
        err.print(f"note: this machine's engine is not listed: {error.message.splitlines()[0]}", markup=False,
                  soft_wrap=True)
    known, unanswered = known_runs(client, engines)
    if spec is not None:
        for engine in unanswered:
            err.print(f"note: {engine} of topology {spec.name} does not answer: its runs are not listed",
                      markup=False, soft_wrap=True)
    # live runs (kept, or of a live owner) as before, and what a process that died left (its owner is gone)
    # of a file given on the command line, only its runs (as `harness down --topology FILE` takes them)
    mine = (str(spec.identity) if spec is not None else file_identity(options)) if "topology" in options.given \
        else None
    # (and every run on the file's own engines: those it names are asked for it)
    # one project's runs, as `docker compose ps`: the file's name now (-p's, COMPOSE_PROJECT_NAME's, name:, the
    # folder's), or without a file `-p NAME` (COMPOSE_PROJECT_NAME)
    project = spec.name if spec is not None and mine is not None else options.topology.project_name
    known = [k for k in known if ((k.run.containers and (k.run.kept or k.run.owner_alive)) or k.run.orphaned)
             and (mine is None or k.run.file == mine or k.found_on is not None)
             and (project is None or k.run.topology == project)]
    if unread is not None and not known and not getattr(unread, "compose_reads", False):
        raise unread  # nothing of it to list, and Docker Compose cannot read it either: its error, as Compose's
    if unread is not None and known:
        err.print(f"note: {unread.message.splitlines()[0]}\nnote: its runs are listed by their label (the file "
                  "cannot be used as it is now)", markup=False, highlight=False, soft_wrap=True)
    if spec is not None and mine is not None:
        say_other_projects(client, spec, err)
    if not known:
        out.print("no topology is running" if mine is None else "no run of " + (
                  f"topology {spec.name} ({mine})" if spec is not None else _shown(mine)) + " is running",
                  markup=False, highlight=False, soft_wrap=True)
        return 0
    rows: list[tuple[str, ...]] = []
    # a host in each port cell only when some run is on another engine (the header names this one's otherwise)
    elsewhere = any(found.spread is not None or found.found_on is not None for found in known)
    for found in known:
        run, across = found.run, found.spread  # across engines: its containers on each of them, each's engine
        state = _run_state(run, across.unanswered if across is not None else (),
                           found.found_on[1] if found.found_on is not None else None)
        if not run.containers:
            rows.append((run.topology, run.run_id, "-", "-", "no container left", "-", str(run.kept).lower(),
                         _shown(run.file), state))
        replicas = Counter(L.labels_of(c).get(L.SERVICE) for c in run.containers)
        for where in across.unanswered if across is not None else []:
            rows.append((run.topology, run.run_id, "?", where, "did not answer", "-", str(run.kept).lower(),
                         _shown(run.file), state))
        # a run on one engine: this machine's ("-"), or another one's, named by its host
        engine = found.found_on[1] if found.found_on is not None else "-"
        host = found.host or service_host()
        # a helper right after the service it works for
        for container in sorted(run.containers, key=lambda c: (*_belongs_to(L.labels_of(c)), L.replica_of(c))):
            on = across.engine_of.get(container.id, "-") if across is not None else engine
            ports = L.ports_text(L.published_ports(container), L.published_by_protocol(container, "udp"),
                                 L.published_by_protocol(container, "sctp"),
                                 "" if not elsewhere else across.hosts.get(on, host) if across is not None else host,
                                 L.further_bindings(container))
            labels = L.labels_of(container)
            name, role = _belongs_to(labels)
            service = f"({role} {name})" if role else L.replica_name(name, L.replica_of(container), replicas[name])
            rows.append((run.topology, run.run_id, service, on, L.shown_status(container), ports or "-",
                         str(run.kept).lower(), _shown(run.file), state))
    # the host the ports are published on: the engine's (a remote one's), or each engine's in its cells
    columns: tuple[str, ...] = (*PS_COLUMNS[:4], f"ports (container -> {service_host()})", *PS_COLUMNS[5:])
    if elsewhere:  # the engine column
        columns = (*PS_COLUMNS[:3], "engine", *PS_COLUMNS[3:])
        columns = (*columns[:5], "ports (container -> host:port)", *columns[6:])
    else:
        rows = [(*row[:3], *row[4:]) for row in rows]
    if not out.file.isatty():  # a pipe, a file, CI: as `docker ps` writes it, a line per container, columns aligned
        from harness.report.text import aligned

        out.file.write(aligned([columns, *rows]))  # by spaces (3 or more between two), never wrapped or coloured
        out.file.flush()
        return 0
    from rich.table import Table

    table = Table(*columns)
    runs_of_rows = [row[1] for row in rows]
    for index, (*cells, state) in enumerate(rows):
        shown = escape(state) if runs_of_rows[index - 1:index] != [cells[1]] else ""  # once per run, on its first row
        table.add_row(*map(escape, cells), f"[red]{shown}[/red]" if state.startswith(("orphaned", "start ")) else shown,
                      end_section=runs_of_rows[index + 1:index + 2] != [cells[1]])
    out.print(table)
    return 0


def _belongs_to(labels: dict[str, str]) -> tuple[str, str]:
    """(service, role) of a container of a run: role "" for the service's own, "faults of" or "observes" for a
    helper in its namespace (a fault helper, a traffic capture of --observe); ("?", "") for neither."""
    from harness.runtime import labels as L
    from harness.runtime.fault_helper import HELPER_OF as FAULTS_OF
    from harness.runtime.observe import OBSERVES

    return ((labels[FAULTS_OF], "faults of") if FAULTS_OF in labels else (labels[OBSERVES], "observes")
            if OBSERVES in labels else (labels.get(L.SERVICE, "?"), ""))


def _run_state(run: Run, unanswered: Sequence[str] = (), engine: str | None = None) -> str:
    """How a run stands, in the words of `harness ps`: started or starting (and whose it is), or left behind by an
    owner process that is gone (and the command that removes it: given on `engine`, as `engines:` writes it, when the
    run was found on an engine other than this process's). `unanswered`: its engines that did not answer ("engine
    'two' (tcp://...)"); the mark that its start finished may be on one of them, so a run not marked on those that
    answered is not said to be unfinished, only what is known."""
    from harness.runtime import labels as L

    owner = L.owner_process(run.owner)
    down = f"harness down --run {run.run_id}"
    remove = f"remove it: {on_engine(down, engine) if engine is not None else with_engine(down)}"
    unknown = (f"{', '.join(unanswered)} {'does' if len(unanswered) == 1 else 'do'} not answer (whether its start "
               "finished is not known)") if unanswered and not run.started else ""
    if run.orphaned:
        start = f"; {unknown}" if unknown else "" if run.started else ", its start never finished"
        return f"orphaned: owner {owner} is gone{start}; {remove}"
    if run.kept and run.started:
        return "started, kept"
    if run.kept and L.owner_gone(run.owner):
        return (f"kept: owner {owner} is gone; {unknown}; {remove}" if unknown else
                f"start never finished: owner {owner} is gone; {remove}")
    return f"{'started' if run.started else 'starting'} (owner {owner})"


def say_other_projects(client: docker.DockerClient | None, spec: TopologySpec, err: Console) -> None:
    """`harness down FILE` and `ps FILE` take one project of FILE (as `docker compose down`, `ps`): a run of the same
    file under another name (`-p`, COMPOSE_PROJECT_NAME, `name:` since edited) is another project; say how to
    remove it rather than leave it unsaid."""
    from harness.hints import down_command
    from harness.runtime import labels as L

    for name in sorted({run.topology for run in L.find_runs(client, spec.identity) if run.topology != spec.name}
                       if client is not None else ()):
        err.print(f"note: topology {name} of {_shown(spec.identity)} is running too (another project name); remove "
                  f"it with: {down_command(_shown(spec.identity), name)}", markup=False, soft_wrap=True)


def _shown(file: str) -> str:
    """A topology file as a path relative to the current folder when it is under it (several, from a run's label:
    each, joined by ',')."""
    if "," in file and all(Path(f).is_absolute() for f in file.split(",")):
        return ",".join(map(_shown, file.split(",")))
    try:
        return str(Path(file).relative_to(Path.cwd()))
    except ValueError:
        return file


def _fault(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.errors import OptionError
    from harness.report.faults import print_faults
    from harness.runtime.topology import Topology

    given = list(options.edge)  # (a topology file given as the first of them: harness.cli.parser)
    if len(given) > 2:
        raise OptionError(f"harness fault: too many arguments ({' '.join(given)}): give CONSUMER [PROVIDER]")
    consumer, provider = (given + [None, None])[:2]
    kinds = [options.delay is not None, options.loss is not None, options.cut is not None]
    if options.clear and (consumer or any(kinds)):
        raise OptionError("harness fault: --clear removes every fault and takes no service or fault option")
    if consumer and not any(kinds):
        raise OptionError(f"harness fault: say which fault to put on {consumer}'s calls: --delay MS "
                          "[--jitter MS], --loss PERCENT or --cut [reject|drop]")
    if any(kinds) and not consumer:
        raise OptionError("harness fault: name the service whose calls get the fault (and the one it calls)")
    spec = options.topology.load()
    topology = Topology.attach(spec)
    if topology is None:
        raise TopologyNotRunning(f"topology {spec.name} is not running; start it with "
                                 f"`{options.topology.command('harness up --detach')}` first")
    if options.clear:
        print_faults(topology.faults.clear(), out, f"removed from topology {spec.name}:")
        return 0
    if consumer:
        edge = topology.faults.edge(consumer, provider)
        added = []
        if options.cut is not None:
            added.append(edge.cut(options.cut))
        if options.loss is not None:
            added.append(edge.loss(options.loss))
        if options.delay is not None:
            added.append(edge.delay(options.delay, options.jitter))
        print_faults([a.fault for a in added], out, "added:")
    print_faults(topology.faults.active(), out, f"faults in place in topology {spec.name} "
                                                 f"(remove: {options.topology.command('harness fault')} --clear):")
    return 0


def _graph(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.model.plan import StartPlan

    plan = StartPlan.from_spec(load(options, err))
    if options.format in ("text", "both"):
        out.print(plan.as_text(), markup=False)
    if options.format == "both":
        out.print()
    if options.format in ("mermaid", "both"):
        out.print("```mermaid\n" + plan.as_mermaid() + "\n```", markup=False)
    return 0


