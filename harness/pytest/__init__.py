"""pytest plugin: `--topology FILE` gives tests a session-scoped `topology` fixture with every service running; and,
for conftest files, `harness.pytest.topology_fixture(spec_or_file, scope="module")`:

    import harness.pytest
    shop_topology = harness.pytest.topology_fixture(shop, scope="module")

Costs nothing without --topology: Docker, testcontainers, pact-python and schemathesis are imported only when used.
Modules: options (pytest's options and ini keys, generated from harness.options; the session's options resolved
once), session (the --topology session: its topology and its feature runs), runs (the runs made from the options),
collection (the pact, fuzz and drift items it adds), items, xdist (a topology shared by xdist workers), summary (the
end of the terminal report), pact (the `pact` fixture), publishing (--pact-publish asks the broker first), fixtures
(`topology_fixture` for conftest files), rewrite (the library modules pytest's assert rewriting leaves alone). May
import: pytest, harness.* (lazily, inside hooks and fixtures).
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest import ci as ci_plugin
from harness.pytest import faults as faults_plugin
from harness.pytest import page as page_plugin
from harness.pytest.engine_lost import engine_call_failed, service_call_failed, silent_engine
from harness.pytest.fixtures import topology_fixture
from harness.pytest.options import add_options, resolved
from harness.pytest.pact import WrittenByWorkers, call_passed_key, pact, report_folders, write_recorded_pacts
from harness.pytest.session import EXCLUSIVE, INTERRUPTED, PLUGIN_NAME, TopologySession, active_topologies

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from harness.runtime.topology import Topology

__all__ = ["pact", "pytest_addoption", "pytest_configure", "topology", "topology_fixture"]
_started_at = pytest.StashKey[float]()
_previous = pytest.StashKey[tuple[str, float]]()  # on a test: the item before it, and when it ended (time.time())
_last_test = pytest.StashKey[str]()
_last_ended_at = pytest.StashKey[float]()
_broken_since = pytest.StashKey[str]()  # the test after which a topology could not be restored
_engine_lost = pytest.StashKey[tuple[str, str]]()  # an engine of a run that stopped answering: its line, who found it
_not_run = pytest.StashKey[str]()  # on a test: why it errored before running (an engine of its topology was lost)
_unchecked_after = pytest.StashKey[str]()  # the last item checked for restoring, when later items were not
# dockerd stamps a log line when it reads it from the container, not when the service writes it: under load a line
# written during one test is stamped a moment later. A failed test's lines are read this long after it ended, and its
# lines stamped less than this after the previous item ended are shown apart, as maybe that item's. Passing tests
# pay nothing (no wait between tests).
_LOG_SETTLE = 0.15


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from harness.pytest import hooks
    from harness.pytest.rewrite import leave_libraries_unrewritten

    pluginmanager.add_hookspecs(hooks)
    leave_libraries_unrewritten(pluginmanager.rewrite_hook)  # as early as the plugin can: see rewrite.py


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)  # every option and ini key, from harness.options


def pytest_configure(config: pytest.Config) -> None:
    resolved(config)  # every value validated once: an invalid one is a usage error before anything else
    _require_extras(config)
    config.pluginmanager.register(faults_plugin, "harness-faults")  # the edge_fault marker, faults in reports
    ci_plugin.register(config)  # --annotations: CI annotations and the step summary
    config.pluginmanager.register(WrittenByWorkers(config), "harness-pact-publish")  # xdist: the pacts written
    report_folders(config)  # before pytest's JUnit writer makes one without the .gitignore
    config.addinivalue_line("markers", EXCLUSIVE)
    file = _topology_file(config)
    _check_pact_options(config, file)
    if file is not None:
        config.pluginmanager.register(TopologySession(config, file), PLUGIN_NAME)
    report = page_plugin.report_file(config)
    if report is not None:
        if file is None:
            raise pytest.UsageError("--topology-report (ini topology_report) needs a topology: run pytest with "
                                    "--topology FILE (or set the ini key `topology`)")
        _check_report_file(config, report)
        config.pluginmanager.register(page_plugin.ReportPage(config, report), "harness-report-page")


def _check_report_file(config: pytest.Config, report: Path) -> None:
    """The report page can be written, checked before anything starts, as `harness fuzz/drift --report` checks it."""
    from harness.errors import OptionError
    from harness.options.outputs import check_output_file

    options = resolved(config)
    try:
        check_output_file(report, options.source("topology_report"))
    except OptionError as error:
        raise pytest.UsageError(str(error)) from None


def _require_extras(config: pytest.Config) -> None:
    """Options that need an extra (pytest-topology[contracts], [fuzz]) stop the session at once when it is missing."""
    from harness.errors import ExtraMissing
    from harness.extras import CONTRACTS_DRIFT, CONTRACTS_PACT, FUZZ, require

    options = resolved(config)
    try:
        for option, needs in (("pact_verify", CONTRACTS_PACT), ("pact_drift", CONTRACTS_DRIFT), ("fuzz", FUZZ)):
            if options[option]:
                require(options.flag(option), needs)
    except ExtraMissing as error:
        raise pytest.UsageError(str(error)) from None


def _check_pact_options(config: pytest.Config, file: list[Path] | None) -> None:
    """--pact-verify, --pact-drift or --fuzz without a topology, --pacts without --pact-verify or --pact-drift, or a
    fuzzing option without --fuzz would check nothing while the run looks green: a usage error."""
    options = resolved(config)
    if file is None:
        for feature, what in (("pact_verify", "to verify the pacts against"),
                              ("pact_drift", "whose pacts and OpenAPI documents to check"), ("fuzz", "to fuzz")):
            if options[feature]:
                raise pytest.UsageError(f"{options.flag(feature)} needs a topology {what}: run pytest with "
                                        "--topology FILE (or set the ini key `topology`)")
    broker_named = options.pact_broker_url or os.environ.get("PACT_BROKER_BASE_URL")
    if options.pact_publish and file is None and not broker_named:
        raise pytest.UsageError("--pact-publish: no Pact Broker is configured: give --pact-broker-url URL, or set "
                                "PACT_BROKER_BASE_URL (or contracts.broker.url in the topology file of --topology)")
    if options.pacts and not (options.pact_verify or options.pact_drift):
        raise pytest.UsageError(f"--pacts {options.pacts} names the folder --pact-verify verifies and --pact-drift "
                                "checks, and neither is given: add one (or leave --pacts out)")
    if not options.fuzz:
        given = sorted(name for name in options.given if name.startswith("fuzz_"))
        if given:
            raise pytest.UsageError(f"{options.flag(given[0])} is an option of --fuzz, and --fuzz is not given: add "
                                    "it (or leave the option out)")


def _topology_file(config: pytest.Config) -> list[Path] | None:
    """The topology files of --topology (repeatable), else of the ini key (one per line); None: no topology."""
    return list(resolved(config).topology.files) or None


@pytest.fixture(scope="session")
def topology(request: pytest.FixtureRequest) -> Topology:
    """The running topology of `--topology FILE`: `topology["name"].url`, `.logs()`, `.stop()`, ..."""
    session: TopologySession | None = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:
        pytest.fail("the `topology` fixture needs a topology file: run pytest with --topology FILE "
                    "(or set the ini key `topology`)", pytrace=False)
    return session.running()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    from harness.pytest.items import ReportingItem

    if not isinstance(item, ReportingItem) or item.uses_topology():
        if (lost := item.config.stash.get(_engine_lost, None)) is not None:
            # the run cannot be put back without that engine: said once in full, by the test that met it
            item.stash[_not_run] = f"not run: {lost[0]} (met in {lost[1]})"
            pytest.fail(item.stash[_not_run], pytrace=False)
        _restore_topologies(item)
    elif _last_test in item.config.stash:  # its verdict is made (or being made): nothing to put back for it
        item.config.stash.setdefault(_unchecked_after, item.config.stash[_last_test])
    if _is_plugin_item(item):
        return
    item.stash[_started_at] = time.time()  # also before its first use of the topology (a reused one has old lines)
    ended = item.config.stash.get(_last_ended_at, None)
    if ended is not None:
        item.stash[_previous] = (item.config.stash[_last_test], ended)


def _attributes_logs(item: pytest.Item) -> bool:
    """A test function of a session with a running topology gets the service log lines of its own time when it fails;
    the plugin's items (pact, drift, fuzz) report their own lines."""
    return bool(active_topologies(item.config)) and not _is_plugin_item(item)


def _is_plugin_item(item: pytest.Item) -> bool:
    from harness.pytest.items import ReportingItem

    return isinstance(item, ReportingItem)


def _restore_topologies(item: pytest.Item) -> None:
    """Services an earlier test left stopped, paused, disconnected or dead are put back before this test runs (it
    would otherwise fail for a reason that is not its own); this test's report says who left what."""
    topologies = active_topologies(item.config)
    if not topologies:
        return
    from harness.errors import HarnessError

    previous = item.config.stash.get(_last_test, "an earlier test")
    if _unchecked_after in item.config.stash:  # items since the last check were not checked: any of them
        previous = f"{item.config.stash[_unchecked_after]} or an item after it"
        del item.config.stash[_unchecked_after]
    notes: list[str] = []
    session: TopologySession | None = item.config.pluginmanager.get_plugin(PLUGIN_NAME)
    shared = session is not None and session.share is not None
    failed = ""
    for running in topologies:
        try:  # shared by xdist workers: another worker's test may have stopped a service on purpose
            notes += running.restore(only_left=shared and session is not None and running is session.topology)
        except Exception as error:  # docker-py's transport error too: an engine that stopped answering
            if lost := silent_engine(running):  # not the topology's fault: said once, the tests after it not run
                item.config.stash[_engine_lost] = (lost, item.nodeid)
                item.stash[_not_run] = failed = lost
                break
            if not isinstance(error, HarnessError):
                raise
            # the first test that found it broken is named in every later report (they fail for the same reason)
            since = item.config.stash.setdefault(_broken_since, previous)
            failed = f"topology {running.spec.name} could not be restored after {since}:\n{error}"
            break
    if failed:  # outside the except: the report shows the reason, not a chained exception
        pytest.fail(failed, pytrace=False)
    if notes:
        item.add_report_section("setup", "topology restored",
                                f"after {previous}:\n" + "\n".join(f"- {note}" for note in notes))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    item.config.stash[_last_test] = item.nodeid
    item.config.stash[_last_ended_at] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[call_passed_key] = report.passed
    failed = call.excinfo.value if report.failed and call.excinfo is not None and _not_run not in item.stash \
        else None
    if failed is not None and (gone := engine_call_failed(active_topologies(item.config), failed)):
        report.longrepr = gone[0]  # one line naming the engine, not docker-py's transport traceback
        if gone[1]:  # lost for the rest of the session (not a connection reset once)
            item.config.stash.setdefault(_engine_lost, (gone[0], item.nodeid))
    elif failed is not None and (said := service_call_failed(active_topologies(item.config), failed)):
        # the test's own call to a service failed: its traceback stays, with the one line that says why
        report.sections.insert(0, ("engine of the service called", said))
        item.config.stash.setdefault(_engine_lost, (said, item.nodeid))
    if report.when == "setup" and report.failed and _is_plugin_item(item) and call.excinfo is not None:
        report.longrepr = item.repr_failure(call.excinfo)  # its error verdict's report, as in its call: no traceback
    if report.failed and _not_run in item.stash:
        report.longrepr = item.stash[_not_run]  # (as `gone`; a test not run has no service log lines of its own)
    elif report.failed:
        _attach_service_logs(item, report, call.when)
    return report


def _attach_service_logs(item: pytest.Item, report: pytest.TestReport, when: str) -> None:
    """The log lines each service of every running topology wrote during the failing test, one section each."""
    topologies = active_topologies(item.config)
    if not topologies or not _attributes_logs(item):
        return
    since = item.stash.get(_started_at, None)
    previous = item.stash.get(_previous, None)
    session: TopologySession | None = item.config.pluginmanager.get_plugin(PLUGIN_NAME)
    shared = session is not None and session.share is not None and session.worker is not None
    time.sleep(_LOG_SETTLE)  # this test's last lines are stamped too
    for running in topologies:
        silent = ""  # an engine that did not answer for one service's log is not asked again for each other's
        for service in (replica for each in running for replica in each.replicas):  # NAME-N: replica N of several
            if silent:
                item.add_report_section(when, f"log of service {service.shown}", f"[service {service.shown}]\n"
                                        f"(log of {service.shown} not read: {silent})")
                continue
            text = running.masker(_lines_of_test(service, since, previous))  # a service may log a secret it was given
            if _UNANSWERED.search(text):
                silent = f"the engine did not answer for the log of {service.shown}"
            if not text.strip():
                continue
            if shared and session is not None and running is session.topology:
                text = "[shared by the xdist workers: their tests' lines of the same time are here too]\n" + text
            report.sections.append((f"Captured log of service {service.shown} {when}", text))  # shown with it
            # kept on the item for JUnit's system-out, which joins every log section: with the service's name
            item.add_report_section(when, f"log of service {service.shown}", f"[service {service.shown}]\n{text}")


# service_log's line when the engine did not answer (its machine gone: each read waits out docker-py's timeout)
_UNANSWERED = re.compile(r"^\(log of \S+ unavailable: (ReadTimeout|ConnectTimeout|ConnectionError)\b", re.M)


def _lines_of_test(service: Any, since: float | None, previous: tuple[str, float] | None) -> str:
    """The service's lines since the test started. Those stamped less than _LOG_SETTLE after the previous item ended
    may be that item's (a line is stamped when dockerd reads it): they come first, under a line that says so."""
    from harness.report.text import service_log

    if since is None or previous is None or previous[1] + _LOG_SETTLE <= since:
        return service_log(service, since=since)
    boundary = previous[1] + _LOG_SETTLE
    early: list[str] = []
    own: list[str] = []
    for line in service_log(service, since=since, timestamps=True).splitlines(keepends=True):
        stamp, _, text = line.partition(" ")
        received = _epoch(stamp)
        if received is None:  # not a stamped line: the note that the log could not be read
            own.append(line)
        else:
            (early if received < boundary else own).append(text)
    if not early:
        return "".join(own)
    return (f"[stamped within {_LOG_SETTLE} s of the end of {previous[0]}: these lines may be its or this test's]\n"
            + "".join(early) + (f"[this test's lines]\n{''.join(own)}" if own else ""))


def _epoch(stamp: str) -> float | None:
    """Docker's RFC 3339 time stamp (nanoseconds, `Z` or an offset) as seconds since the epoch; None if it is not one
    (Python reads at most microseconds: the rest is cut)."""
    import re
    from datetime import datetime

    match = re.fullmatch(r"(\S+T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", stamp)
    if match is None:
        return None
    fraction = (match[2] or "")[:7]
    return datetime.fromisoformat(match[1] + fraction + match[3].replace("Z", "+00:00")).timestamp()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    write_recorded_pacts(session, exitstatus)


# after pytest's own teardown of the fixtures (topology_fixture's among them)
@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
def _interrupted_in_teardown(session: pytest.Session) -> None:
    if session.config.stash.get(INTERRUPTED, False):
        session.exitstatus = pytest.ExitCode.INTERRUPTED
