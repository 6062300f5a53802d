"""The commands of the features: verify (pacts against running providers), fuzz (schemathesis), drift (pacts against
OpenAPI documents). Each takes the resolved options (harness.options) and the two consoles, and returns its exit
code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from harness import verdict
from harness.cli.topologies import load
from harness.errors import HarnessError, TopologyFileError
from harness.options import ResolvedOptions

if TYPE_CHECKING:
    from harness.fuzz.baseline import BaselineOutcome
    from harness.fuzz.results import ServiceResult
    from harness.model.topology import TopologySpec
    from harness.report.annotations import Annotation
    from harness.report.fuzz import Rerun
    from harness.report.junit import Case
    from harness.report.page import RunRecorder
    from harness.runtime.topology import Progress, Topology


def _verify(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.extras import CONTRACTS_DRIFT, CONTRACTS_PACT, installed, require

    require("harness verify", CONTRACTS_PACT)
    from harness.contracts.matrix import edge_matrix
    from harness.contracts.run import VerifyOptions, VerifyRun, drift_column, exit_code
    from harness.contracts.running import running_notes
    from harness.report.console import ProgressPrinter, on_terminal
    from harness.report.contracts import pact_cases, print_result, print_summary, write_pact_junit
    from harness.report.matrix import matrix_folder, matrix_markdown, write_matrix

    report = options.verify_report
    page = report if _is_page(report) else None
    folder = matrix_folder(page, None if page is not None else report)
    if page is not None and page.resolve() == (folder / "contract-matrix.html").resolve():
        from harness.errors import OptionError

        raise OptionError(f"--report {page}: that name is the contract matrix's file; choose another, e.g. "
                          f"{folder / 'report.html'}")
    _check_outputs(options, junit=options.junit, page=page, folder=None if page is not None else report)
    recorder = _recorder(options, page)
    spec = _load(options, err, out, "harness verify")
    # every problem of the files, at once, before anything starts
    from harness.contracts.broker_config import broker_config
    from harness.contracts.cache import cache_folder

    run = VerifyRun(spec, VerifyOptions(options.pacts, options.provider, options.consumer,
                                        broker=broker_config(spec, options.values),
                                        cache=None if options.pact_no_cache else cache_folder(),
                                        outputs=(folder, *([page] if page else []),
                                                 *([options.junit] if options.junit else []))),
                    on_result=lambda result: print_result(result, err))
    for note in run.selection.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    drift = []
    try:
        if not run.needs_topology:  # every pact excluded, unreadable or verified before: nothing to start
            run.run(None)
        else:
            with _started(options, spec, "pact verification", _progress(recorder, ProgressPrinter(err)),
                          err, out, "harness verify") as topology:
                run.run(topology)
                # the matrix's drift column: static; a document the service serves comes from this running topology
                drift = drift_column(topology, run.selection) if installed(CONTRACTS_DRIFT[1]) else []
                if recorder is not None:
                    recorder.snapshot(topology)
    finally:
        run.close()
    text, written, html = write_matrix(spec, run.results, drift, folder, width=max(out.width, 120),
                                       terminal=on_terminal(out))
    out.print(text, markup=False, highlight=False, end="")
    out.print(written, soft_wrap=True)
    _write_page(recorder, page, spec, out, pacts=run.results, drift=drift)
    if options.junit:
        write_pact_junit(run.results, options.junit, options.topology.files[0])
    _annotate(options, out, "harness verify", pact_cases(run.results, options.topology.files[0]),
              matrix=matrix_markdown(edge_matrix(spec, run.results, drift), f"contracts of topology {spec.name}"),
              links=[html, page, options.junit])  # the matrix only when this run wrote it
    try:
        out.file.flush()  # the matrix before the summary on stderr
    except BrokenPipeError:
        out.on_broken_pipe()
    print_summary(run.results, err)
    for note in running_notes(run.results):  # a service's mounted files changed since its container started
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if run.results_publication is not None:
        err.print(run.results_publication, markup=False, highlight=False, soft_wrap=True)
    return exit_code(run.results)


def _fuzz(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.extras import FUZZ, require

    require("harness fuzz", FUZZ)
    from harness.fuzz.options import run_settings
    from harness.fuzz.session import FuzzRun
    from harness.report.console import ProgressPrinter
    from harness.report.fuzz import (
        Rerun,
        baseline_counts,
        baseline_text,
        closing_text,
        fuzz_cases,
        print_result,
        reused_note,
        run_headline,
        write_fuzz_junit,
    )

    rerun = Rerun(_fuzz_command(options), options.flags("fuzz"))
    _check_outputs(options, junit=options.junit, page=options.topology_report)
    recorder = _recorder(options, _page_option(options.topology_report), rerun)
    spec = _load(options, err, out, "harness fuzz")
    # fails early (exit 2): no service to fuzz, an auth hook that does not import, a misspelt check, ...
    run = FuzzRun(spec, options.fuzz_options(), options.fuzz_service, options.flags("fuzz"))
    run.prepare()  # while the topology starts
    with _started(options, spec, "fuzz", _progress(recorder, ProgressPrinter(err)), err, out,
                  "harness fuzz") as topology:
        assert run.options.seed is not None
        if topology.keep:  # a run started before (`harness up --detach`): its state is what earlier runs left
            rerun = dataclasses.replace(rerun, reused=options.topology.command("harness", "down"))
            if recorder is not None:
                recorder.facts.rerun = rerun
            err.print(reused_note(spec.name, rerun.reused), markup=False, highlight=False, soft_wrap=True)
        err.print(run_headline(run.names, run.options.seed, *run_settings(run.options)), markup=False,
                  highlight=False, soft_wrap=True)
        for name in run.names:
            err.print(f"fuzzing {name} at {topology[name].url}", soft_wrap=True)
        results = run.run(topology, on_result=lambda result: print_result(result, err, rerun))
        if recorder is not None:
            recorder.snapshot(topology)
    outcome = run.settle_baseline()  # accepted, not reproduced; the file written as `st run` writes it
    if outcome is not None:
        err.print(baseline_text(outcome), markup=False, highlight=False, soft_wrap=True)
    err.print(closing_text(results), markup=False, highlight=False, soft_wrap=True)
    if options.junit:
        write_fuzz_junit(results, options.junit, options.topology.files[0], rerun, spec)
    _write_page(recorder, options.topology_report, spec, out, fuzz=results, fuzz_baseline=outcome)
    _annotate(options, out, "harness fuzz", fuzz_cases(results, options.topology.files[0], rerun, spec),
              links=[options.topology_report, options.junit], notes=[baseline_counts(outcome)] if outcome else [])
    return verdict.exit_code(results)


@contextmanager
def _started(options: ResolvedOptions, spec: TopologySpec, suite: str, progress: Progress, err: Console,
             out: Console, title: str) -> Iterator[Topology]:
    """The running topology of the run (Topology.reused_or_started). When it does not start, or no engine answers,
    --junit still gets its file (one errored case `topology NAME`, as pytest's --junitxml has it) and the failure is
    annotated (--annotations) at the service it names in the topology file; then the error is raised."""
    from harness.runtime.topology import Topology

    with ExitStack() as stack:
        try:
            topology = stack.enter_context(Topology.reused_or_started(spec, progress, say=err.print))
        except HarnessError as error:
            if options.junit:
                from harness.report.junit import write_start_failure_junit

                write_start_failure_junit(options.junit, suite, options.topology.files[0], spec.name, error)
            from harness.report.annotations import mark_annotated, start_annotation

            _annotate(options, out, title, [], more=[start_annotation(error, spec)])
            mark_annotated(error)
            raise
        yield topology


def _fuzz_command(options: ResolvedOptions) -> list[str]:
    """`harness fuzz` with the options that decide the topology, as given: a rerun hint starts with it."""
    words = ["harness", "fuzz"]
    for name in ("topology", "topology_profile", "topology_env_file", "image_substitute"):
        values = options[name] if isinstance(options[name], list) else [options[name]] if options[name] else []
        for value in values:
            words += [options.flag(name), str(value)]
    return words


def _drift(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.extras import CONTRACTS_DRIFT, require

    require("harness drift", CONTRACTS_DRIFT)
    from harness.contracts.drift import DriftOptions, DriftRun, running_fetcher
    from harness.report.drift import drift_cases, print_result, summary, write_drift_junit

    _check_outputs(options, junit=options.junit, page=options.topology_report)
    recorder = _recorder(options, _page_option(options.topology_report))
    spec = _load(options, err, out, "harness drift")
    run = DriftRun(spec, DriftOptions(options.pacts, options.provider), fetch=running_fetcher(spec))
    for result in run.run():
        print_result(result, out)
    results = run.results
    out.print(summary(results), markup=False, highlight=False)
    if options.junit:
        write_drift_junit(results, options.junit, options.topology.files[0])
    _write_page(recorder, options.topology_report, spec, out, drift=results)
    _annotate(options, out, "harness drift", drift_cases(results, options.topology.files[0]),
              links=[options.topology_report, options.junit])
    # an error (an unreadable pact or document, a provider not in the topology) is bad input: 2, over a drift's 1
    return verdict.exit_code(results)


def _load(options: ResolvedOptions, err: Console, out: Console, title: str) -> TopologySpec:
    """The topology of the options; an invalid file is annotated (--annotations) at its line, then raised."""
    try:
        return load(options, err)
    except TopologyFileError as error:
        from harness.report.annotations import Annotation, file_line_location, mark_annotated

        where = file_line_location(error.location, options.topology.files)
        _annotate(options, out, title, [], more=[Annotation("topology file", str(error), where)])
        mark_annotated(error)
        raise


def _annotate(options: ResolvedOptions, out: Console, title: str, cases: list[Case], *, matrix: str = "",
              links: list[Path | None] | None = None, more: list[Annotation] | None = None,
              notes: list[str] | None = None) -> None:
    """The run's CI annotations on stdout, and its step summary (--annotations; harness.report.annotations)."""
    from harness.report.annotations import write_ci

    out.file.flush()
    write_ci(options.annotations, title, cases, _line_writer(out), matrix=matrix,
             links=links or [], more=more or [], notes=notes or [])
    out.file.flush()


def _line_writer(out: Console) -> Callable[[str], None]:
    def write(line: str) -> None:  # as is: no markup, no wrapping, no emoji codes (`:x:`) replaced
        out.file.write(line + "\n")
    return write


def _check_outputs(options: ResolvedOptions, *, junit: Path | None, page: Path | None,
                   folder: Path | None = None) -> None:
    """The files the run will write can be written (OptionError, exit 2, before anything starts)."""
    from harness.options.outputs import check_output_file, check_output_folder

    if junit is not None:
        check_output_file(junit, options.flag("junit"))
    if page is not None:  # --report: the page of fuzz and drift (topology_report, or the ini's), of verify
        check_output_file(page, options.source("topology_report" if "topology_report" in options.values
                                               else "verify_report"))
    if folder is not None and "verify_report" in options.given:
        check_output_folder(folder, options.flag("verify_report"))


def _is_page(path: Path | None) -> bool:
    return path is not None and path.suffix.lower() in (".html", ".htm")


def _page_option(path: Path | None) -> Path | None:
    """`--report` of fuzz and drift: the page's file, which must end in .html (exit 2 otherwise)."""
    if path is not None and not _is_page(path):
        from harness.errors import OptionError

        raise OptionError(f"--report {path}: the report page is one HTML file; give a name ending in .html, e.g. "
                          f"{path / 'report.html'}")
    return path


def _recorder(options: ResolvedOptions, page: Path | None, rerun: Rerun | None = None) -> RunRecorder | None:
    if page is None:
        return None
    from harness.report.page import RunRecorder

    return RunRecorder(options.command_line, rerun)


def _progress(recorder: RunRecorder | None, printer: Progress) -> Progress:
    return printer if recorder is None else recorder.progress(printer)


def _write_page(recorder: RunRecorder | None, page: Path | None, spec: TopologySpec, out: Console, *,
                pacts: list[Any] | None = None, drift: list[Any] | None = None,
                fuzz: list[ServiceResult] | None = None, fuzz_baseline: BaselineOutcome | None = None) -> None:
    """The report page of this run, when --report names one."""
    if recorder is None or page is None:
        return
    from harness.report.page import write_page

    written = write_page(recorder.page(spec, pacts=pacts, drift=drift, fuzz=fuzz, fuzz_baseline=fuzz_baseline), page)
    out.print(f"report page written to {written}", soft_wrap=True)


