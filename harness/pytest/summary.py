"""What the --topology session says at the end of the run: workers whose results were lost, the contract matrix
(written where `harness verify` writes it), a line per fuzzed service, what was restored, a topology kept running."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.pytest.session import TopologySession


class SessionSummary:
    """The --topology session's part of pytest's terminal summary (a plugin beside it)."""

    def __init__(self, plugin: TopologySession) -> None:
        self.plugin = plugin

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        plugin = self.plugin
        if plugin.worker is not None:
            return  # an xdist worker: the controller reports the whole run
        options = plugin.options
        if plugin.lost and (options.pact_verify or options.pact_drift or options.fuzz
                            or plugin.config.pluginmanager.has_plugin("harness-report-page")):
            terminalreporter.section("results of xdist workers that could not be collected", red=True)
            for note in plugin.lost:
                terminalreporter.write_line(f"- {note}: the contract matrix and the report page miss its results")
        self._report_matrix(terminalreporter)
        self._report_fuzzing(terminalreporter)
        if plugin.restored:
            terminalreporter.section("topology restored at the end of the session")
            for note in plugin.restored:
                terminalreporter.write_line(f"- {note}")
        if plugin.teardown_failures:
            terminalreporter.section("pre_stop hooks that failed (the topology was removed)", red=True)
            for note in plugin.teardown_failures:
                terminalreporter.write_line(f"- {note}")
        if plugin.teardown_errors:
            terminalreporter.section("the topology could not be removed", red=True)
            for note in plugin.teardown_errors:
                terminalreporter.write_line(note)
        if plugin.topology is not None and plugin.keep:
            terminalreporter.section("topology kept running")
            for name, url in plugin.topology.urls().items():
                terminalreporter.write_line(f"{name:20} {url}")
            terminalreporter.write_line(f"remove it with: {plugin.topology_options.command('harness down')}")

    def _report_fuzzing(self, terminalreporter: Any) -> None:
        """A line per fuzzed service, in the order they ran: its seed, mode, phases and checks, and its verdict."""
        results = self.plugin.fuzz.results() if self.plugin.fuzz is not None else []
        if not results:
            return
        from harness.report.fuzz import accepted_text, baseline_text, summary_line

        terminalreporter.section("fuzzing (one service after another)")
        for result in results:
            terminalreporter.write_line(f"{'passed' if result.passed else 'FAILED'} {summary_line(result)}")
            if result.accepted:
                terminalreporter.write_line(accepted_text(result.accepted))
        if self.plugin.baseline is not None:
            flags = self.plugin.options.flags("fuzz")
            terminalreporter.write_line(baseline_text(self.plugin.baseline, flags["baseline"] + "-prune"))
        if self.plugin.baseline_error:
            terminalreporter.write_line(self.plugin.baseline_error, red=True)

    def _report_matrix(self, terminalreporter: Any) -> None:
        """The contract matrix of the pacts verified (with their drift, with --pact-drift), written where `harness
        verify` writes it (report.matrix.matrix_folder). --collect-only, -k leaving no pact: nothing is said; every
        pact excluded: the last run's matrix stays as it was, and that is said."""
        plugin = self.plugin
        observed = plugin.observing
        if observed.error:
            terminalreporter.section("observed traffic (--observe)", red=True)
            terminalreporter.write_line(observed.error, red=True)
        coverage = observed.result.edges if observed.result is not None else None
        verified = plugin.pacts_run and plugin.verify is not None and bool(plugin.verify.results)
        if not verified and coverage is None:
            return
        from harness.pytest.page import report_file
        from harness.report.matrix import matrix_folder, write_matrix

        assert plugin.spec is not None
        text, written, _ = write_matrix(plugin.spec, plugin.verify.results if verified and plugin.verify else [],
                                     plugin.drift.results if plugin.drift else [],
                                     matrix_folder(report_file(plugin.config)),
                                     width=max(plugin.config.get_terminal_writer().fullwidth, 120), coverage=coverage,
                                     partial=self._partial(), terminal=_on_terminal(plugin.config))
        if observed.result is not None:
            from harness.report.observe import observed_text

            gated = " (--observe)" if observed.gates else " (--observe; information only)"
            terminalreporter.section("contract coverage from observed traffic" + gated)
            terminalreporter.write(observed_text(observed.result))
            for gate in observed.gates:  # (a gate that did not pass is reported as a failed test is: said there)
                if gate.outcome == "passed":
                    terminalreporter.write_line(f"passed {gate.summary}")
        if not verified:
            terminalreporter.section("contract matrix")
            terminalreporter.write(text)
            terminalreporter.write_line(written)
            return
        assert plugin.verify is not None
        if plugin.verify.verified_any:
            terminalreporter.section("contract matrix")
            terminalreporter.write(text)
        terminalreporter.write_line(written)
        from harness.report.contracts import cached_note

        cached = [r for r in plugin.verify.results if r.cached_from and not r.cached_by]
        if cached:
            terminalreporter.write_line(
                f"{len(cached)} pact(s) not verified again: verified by an earlier run against the same provider, "
                "topology and states (--pact-no-cache verifies them again): "
                + ", ".join(f"{r.edge} {cached_note(r)}" for r in cached))
        at_broker = [r for r in plugin.verify.results if r.cached_by]
        if at_broker:
            terminalreporter.write_line(
                f"{len(at_broker)} pact(s) not verified again: the Pact Broker has a successful result of the same "
                "pact content by the same provider version (--provider-version, or a clean git checkout's commit; "
                "--pact-no-cache verifies them again): " + ", ".join(f"{r.edge} {cached_note(r)}" for r in at_broker))
        from harness.contracts.running import running_notes

        for note in running_notes(plugin.verify.results):  # a service's mounted files changed since it started
            terminalreporter.write_line(f"note: {note}")
        if plugin.verify.results_publication is not None:
            terminalreporter.write_line(plugin.verify.results_publication)
        self._report_pending(terminalreporter)

    def _partial(self) -> str:
        return partial_run(self.plugin.verify)

    def _report_pending(self, terminalreporter: Any) -> None:
        """The pacts whose failing interactions are pending (V4): passed, as pact-python's Verifier counts them, and
        said here as `harness verify` says them (their report: -rP, and the items' JUnit property `pending`)."""
        from harness.report.contracts import headline

        assert self.plugin.verify is not None
        pending = [r for r in self.plugin.verify.results  # V4 pending interactions, and pacts pending at a broker
                   if (r.passed or (r.pending and r.verdict == "failed")) and any(not i.passed for i in r.interactions)]
        if not pending:
            return
        terminalreporter.section("pending interactions that failed (passed, as pact-python's Verifier counts them)")
        for result in pending:
            terminalreporter.write_line(headline(result))
            for interaction in result.interactions:
                if not interaction.passed:
                    terminalreporter.write_line(f"  - {interaction.label}: failed, pending: "
                                                + "; ".join(interaction.problems))


def _on_terminal(config: Any) -> bool:
    """Whether pytest's terminal reporter writes to a terminal (its tables' form: harness.report.console)."""
    file = getattr(config.get_terminal_writer(), "_file", None)  # pytest's TerminalWriter keeps no public stream
    return bool(file is not None and file.isatty())


def partial_run(run: Any) -> str:
    """Why a session's pact run (contracts.run's) verified only some of the pacts it selected, or some of their
    interactions (-k, --lf, -x, node ids); "" when it verified them all, or verified none (None)."""
    if run is None:
        return ""
    done = {result.path for result in run.results}
    left = [source for source in run.selection.sources if source.path not in done]
    fewer = [result for result in run.results if result.partial]
    said = [f"{len(left)} of {len(run.selection.sources)} pact(s) not run"] if left else []
    said += [f"{len(fewer)} pact(s) with only some interactions run"] if fewer else []
    return ", ".join(said)
