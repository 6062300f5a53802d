"""The `pact` fixture: consumer tests record pacts; interactions of passing tests are written at session end."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pact import Pact

    from harness.contracts.consumer import PactRecorder, WrittenPact  # noqa: F401 - PactRecorder: a StashKey's

_recorder_key = pytest.StashKey["PactRecorder"]()
call_passed_key = pytest.StashKey[bool]()


def pact_folder(config: pytest.Config) -> Path:
    """--pact-dir, else the ini key `pact_dir` (relative to the ini file), else contracts/."""
    from harness.pytest.options import resolved

    folder: Path = resolved(config).pact_dir
    return folder


@pytest.fixture
def pact(request: pytest.FixtureRequest) -> Iterator[Callable[[str, str], Pact]]:
    """`pact("gateway", "dataservice")` -> a pact-python V4 `Pact`. Interactions of passing tests are merged per
    consumer->provider pair and written to the pact folder (--pact-dir) at the end of the session."""
    config = request.config
    if _recorder_key not in config.stash:
        from harness.errors import ExtraMissing
        from harness.extras import CONTRACTS_PACT, require

        try:
            require("the `pact` fixture", CONTRACTS_PACT)
        except ExtraMissing as error:
            pytest.fail(str(error), pytrace=False)
        from harness.contracts.consumer import PactRecorder

        shared = getattr(config, "workerinput", {}).get(SCRATCH_KEY)  # an xdist worker: the controller's folder
        config.stash[_recorder_key] = PactRecorder(pact_folder(config), Path(shared) if shared else None)
    recorder = config.stash[_recorder_key]

    def new_pact(consumer: str, provider: str) -> Pact:
        return recorder.new(consumer, provider)

    yield new_pact
    recorder.test_finished(request.node.stash.get(call_passed_key, False))


def write_recorded_pacts(session: pytest.Session, exitstatus: int | pytest.ExitCode = 0) -> None:
    """Write the session's pacts; then publish them when asked (harness.contracts.publish.publication_wanted): in
    the process that sees the whole session, and only when the session passed. An xdist worker writes none: its
    tests' pacts are merged into the controller's scratch folder as they pass (PactRecorder), and the controller writes
    them once every worker is done, the same bytes a serial session writes; it publishes none if a worker's part is
    missing."""
    config = session.config
    recorder = config.stash.get(_recorder_key, None)
    if hasattr(config, "workerinput"):
        config.workeroutput[WRITTEN_KEY] = recorder.recorded if recorder else 0  # type: ignore[attr-defined]
        return
    coverage: WrittenByWorkers | None = config.pluginmanager.get_plugin("harness-pact-publish")
    # a session that left consumer tests out merges, as pact-python does: replacing would drop their interactions
    partial = coverage.left_out() if coverage is not None and (recorder or coverage.scratch) else ""
    pacts = recorder.write(merge=bool(partial)) if recorder else []
    if coverage is not None and coverage.scratch is not None:
        pacts = coverage.write_pacts(pact_folder(config), merge=bool(partial))
    refused = [pact for pact in pacts if pact.refused]  # left as they were: pact-python refuses them too
    pacts = [pact for pact in pacts if not pact.refused]
    written = [pact.path for pact in pacts]
    from harness.contracts.written import record_writing  # how they were written, for `harness publish`

    record_writing(written, pact_folder(config), _outputs(config), partial, int(exitstatus))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter and written:
        _new_line(reporter)
        reporter.write_line("pacts written: " + ", ".join(f"{p.path}" + (f" ({p.merged})" if p.merged else "")
                                                          for p in pacts))
        if partial:
            reporter.write_line(f"pacts merged into their files, not replaced (as pact-python's write_file does): this "
                                f"session did not run every consumer test ({partial}); a session that runs them all "
                                "replaces them, dropping the interactions of removed or failing tests", yellow=True)
    for pact in refused:
        if reporter:
            _new_line(reporter)
            reporter.write_line(f"ERROR: {pact.path} not written: this session did not run every consumer test "
                                f"({partial}), so its interactions are merged into the file there, and {pact.refused}; "
                                "the file is left as it was: delete it (or restore it from git) and run again, or run "
                                "the whole consumer session (it replaces the file)", red=True)
    stale = _verified_before_rewritten(config, written)
    if refused and session.exitstatus == 0:
        session.exitstatus = exitstatus = pytest.ExitCode.TESTS_FAILED
    if stale:  # the session's verdict must not be the old pact's (it could pass where the new one fails)
        if reporter:
            reporter.write_line(
                f"ERROR: {', '.join(str(p) for p in stale)} verified as it was before this session's consumer tests "
                "rewrote it: the verdict above is of the old pact. Verify the new one in a run of its own (pytest "
                "--pact-verify without the consumer tests, or harness verify).", red=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        exitstatus = session.exitstatus
    if coverage is not None and coverage.parts_lost and written and publication_asked(config):
        if reporter:  # a pact lacking interactions its consumer has would be a false "can deploy"
            _new_line(reporter)
            reporter.write_line(f"error: pacts not published to the Pact Broker: {'; '.join(coverage.parts_lost)}: "
                                "the pacts written may lack their interactions", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    _publish_written(session, written, int(exitstatus))


def publication_asked(config: pytest.Config) -> bool:
    from harness.contracts.publish import publication_wanted
    from harness.pytest.options import resolved

    options = resolved(config)
    return publication_wanted(options.pact_publish, bool(options.consumer_version))


def _new_line(reporter: Any) -> None:
    """End the line pytest's progress left open (`-q`: "..  [100%]" has no newline yet; ensure_newline only ends a
    file's line)."""
    if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
        reporter._tw.line()


def _verified_before_rewritten(config: pytest.Config, written: list[Path]) -> list[Path]:
    """The pact files this session verified (--pact-verify reads them at collection) that its consumer tests then
    rewrote with other interactions."""
    from harness.contracts.pactfiles import PactFile, read_pact
    from harness.errors import MalformedPact
    from harness.pytest.session import PLUGIN_NAME

    verify = getattr(config.pluginmanager.get_plugin(PLUGIN_NAME), "verify", None)
    if verify is None or not written:
        return []
    verified = {source.path.resolve(): source for source in verify.selection.sources
                if isinstance(source, PactFile) and verify.verdict(source.path) is not None}
    stale = []
    for path in written:
        source = verified.get(path.resolve())
        if source is None:
            continue
        try:
            now = read_pact(path)
        except MalformedPact:
            stale.append(path)
            continue
        if (now.consumer, now.provider, now.interactions) != (source.consumer, source.provider, source.interactions):
            stale.append(path)
    return stale


SCRATCH_KEY = "pacts_scratch"  # workerinput: the folder every xdist worker merges its tests' pacts into
WRITTEN_KEY = "pacts_written"  # workeroutput: an xdist worker's part is in that folder (the count of pacts it merged)
LEFT_OUT_KEY = "pacts_left_out"  # workeroutput: the node ids an xdist worker collected and left out, --lf reruns


class WrittenByWorkers:
    """pytest-xdist controller: the folder every worker merges its tests' pacts into, written out once they are all
    done and published once; the workers whose part is missing (publishing then refused). In every process: the
    tests this session left out, for publishing a subset's pacts as a snapshot. What was left out is measured where
    tests are collected (the session, or each xdist worker, whose plugins may deselect there only): the collected
    tests that do not run (deselected by any plugin, or dropped from the items), `--lf` rerunning only last time's
    failures (it drops the others as it collects), tests skipped or xfailed, test files skipped as collected or not
    collected at all (harness.pytest.uncollected: a conftest's collect_ignore, a plugin's hook); an option given
    that left nothing out does not count."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected: set[str] = set()  # node ids of the items collected, before any deselection
        self.left_out_ids: set[str] = set()  # of those, the ones that do not run
        self.lf_reran = 0  # --lf: the last time's failures it reran instead of every test (0: it ran every test)
        self.unreported: list[str] = []  # xdist workers that did not say what they left out
        self.skipped = 0
        self.files: set[Path] = set()  # the test files a collector was made for
        self.uncollected: set[str] = set()  # test files under the session's paths not collected (relative)
        self.skipped_files: set[str] = set()  # files skipped as collected (pytest.skip or importorskip at the top)
        self.scratch: Path | None = None  # xdist controller: the folder the workers merge their pacts into
        self.parts_lost: list[str] = []  # xdist controller: the workers that did not say their part is written

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="harness-pacts-"))
        node.workerinput[SCRATCH_KEY] = str(self.scratch)

    def write_pacts(self, pact_dir: Path, merge: bool = False) -> list[WrittenPact]:
        """xdist controller: the pacts every worker merged, written into `pact_dir` as a serial session writes them."""
        from harness.contracts.consumer import write_pacts

        assert self.scratch is not None
        try:
            return write_pacts(self.scratch, pact_dir, merge)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        if WRITTEN_KEY not in output:  # a worker that crashed: the pacts of its passing tests may be half merged
            worker = getattr(node, "workerinput", {}).get("workerid", "?")
            self.parts_lost.append(f"xdist worker {worker} ended without saying its tests' pacts were written"
                                   + (f" ({error})" if error else ""))
        said = output.get(LEFT_OUT_KEY)
        if not isinstance(said, dict):
            self.unreported.append(str(getattr(node, "workerinput", {}).get("workerid", "?")))
            return
        self.collected.update(said.get("collected", []))  # every worker collects every test
        self.left_out_ids.update(said.get("left_out", []))
        self.lf_reran = max(self.lf_reran, int(said.get("lf_reran", 0)))
        self.uncollected.update(said.get("uncollected", []))
        self.skipped_files.update(said.get("skipped_files", []))

    # after the topology session's (tryfirst: the topology file's broker is known), before xdist starts its workers
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not hasattr(self.config, "workerinput") and not self.config.option.collectonly:  # xdist: the controller
            from harness.pytest.publishing import check_publication

            check_publication(self.config)

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.File):
            self.files.add(collector.path)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:  # under xdist the controller hears of it too: counted once by its node id
            self.skipped_files.add(report.nodeid)

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        self.collected.add(item.nodeid)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from harness.pytest.uncollected import uncollected

        running = {item.nodeid for item in session.items}
        self.left_out_ids |= self.collected - running
        root = self.config.rootpath
        self.uncollected.update(path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
                                for path in uncollected(self.config, self.files))
        if self.config.getoption("lf", False) and getattr(self.config, "cache", None) is not None:
            # as pytest's LFPlugin decides: with a failure of last time among the collected tests it runs only those
            # (their files' other tests it drops as it collects them, other files it does not collect at all)
            failed_before = self.config.cache.get("cache/lastfailed", {})
            self.lf_reran = sum(1 for nodeid in running if nodeid in failed_before)
        if hasattr(self.config, "workerinput"):
            self.config.workeroutput[LEFT_OUT_KEY] = {  # type: ignore[attr-defined]
                "collected": sorted(self.collected), "left_out": sorted(self.left_out_ids),
                "lf_reran": self.lf_reran, "uncollected": sorted(self.uncollected),
                "skipped_files": sorted(self.skipped_files)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and report.when in ("setup", "call"):  # an xfailed test is a skipped call
            self.skipped += 1

    def left_out(self) -> str:
        """Why this session did not run every test it would run without its options ("": it did): the pacts its
        consumer tests wrote may lack the left-out tests' interactions."""
        from harness.pytest.narrowing import command_line_narrowing
        from harness.pytest.uncollected import ini_deselected

        option = self.config.option
        given = [flag for flag, name in (("-k", "keyword"), ("-m", "markexpr"), ("--deselect", "deselect"),
                                         ("--sw", "stepwise")) if getattr(option, name, None)]
        reasons = []
        permanent = ini_deselected(self.config)  # the commit's configuration: every session of it leaves them out
        left_out = [nodeid for nodeid in self.left_out_ids if not nodeid.startswith(permanent)] if permanent \
            else self.left_out_ids
        if left_out:
            reasons.append(f"{len(left_out)} of {len(self.collected)} collected test(s) deselected"
                           + (f" ({' and '.join(given)} given)" if given else ""))
        if self.lf_reran:
            reasons.append(f"--lf ran only the {self.lf_reran} test(s) that failed last time")
        if self.unreported:
            reasons.append(f"xdist worker(s) {', '.join(self.unreported)} did not say which tests they left out")
        narrower = _narrower_than_default(self.config)
        if narrower:
            reasons.append(narrower)
        reasons += command_line_narrowing(self.config)
        if self.uncollected:
            first = sorted(self.uncollected)
            reasons.append(f"{len(first)} test file(s) under the session's paths not collected ({', '.join(first[:3])}"
                           + (f" and {len(first) - 3} more" if len(first) > 3 else "") + "): left out by a conftest "
                           "or plugin (collect_ignore, collect_ignore_glob, a pytest_ignore_collect hook), which may "
                           "depend on the environment; to leave them out of every run, use --ignore in the "
                           "configuration file's addopts")
        if self.skipped_files:
            reasons.append(f"{len(self.skipped_files)} test file(s) skipped as collected (pytest.skip or importorskip "
                           "at module level)")
        if self.skipped:
            reasons.append(f"{self.skipped} test(s) skipped or xfailed")
        return "; ".join(reasons)


def _narrower_than_default(config: pytest.Config) -> str:
    """Why the tests pytest collects from its arguments (test paths or node ids given, else the folder it runs in)
    may be fewer than pytest run with no arguments in the rootdir collects (its `testpaths`, else the rootdir; the
    git checkout's top when no configuration file names a rootdir); "" when they cover those, or every test file
    under those (by pytest's rules: harness.pytest.uncollected.tests_under). pytest reads `testpaths` only when run
    in the rootdir without test paths: run in a subfolder, it collects that folder."""
    from harness.contracts.broker_config import git_top
    from harness.pytest.selection import SELECTED
    from harness.pytest.uncollected import tests_under

    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        return ""
    if any("::" in arg for arg in config.args) or config.stash.get(SELECTED, False):
        return "node ids given"
    here, root = config.invocation_params.dir, config.rootpath
    testpaths = [Path(found) for path in config.getini("testpaths")
                 for found in sorted(glob.glob(str(root / path), recursive=True))]
    top = None if testpaths or config.inipath else git_top(root)  # no configuration file: pytest's rootdir is a guess
    defaults = [path.resolve() for path in testpaths] or [(top or root).resolve()]
    given = [(here / arg).resolve() for arg in config.args]
    if all(any(default == path or default.is_relative_to(path) for path in given) for default in defaults):
        return ""
    files = tests_under(config, defaults)  # `pytest tests` where every test file of the project is: not narrower
    if files is not None and all(any(file.is_relative_to(path) for path in given) for file in files):
        return ""
    whole = " ".join(str(d) for d in defaults) + (
        " (the git checkout's top: no pytest configuration file says where the project's tests are)" if top else "")
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return f"test paths given ({' '.join(config.args)}) narrower than {whole}"
    return f"pytest run in {here} without test paths collects that folder only, narrower than {whole}"


def _outputs(config: pytest.Config) -> list[Path]:
    """The files this session writes as reports (--junitxml, --topology-report): they do not make the checkout
    differ from its commit for publishing pacts."""
    from harness.pytest.options import resolved

    files = [getattr(config.option, "xmlpath", None), resolved(config).topology_report]
    return [config.invocation_params.dir / file for file in files if file]


def report_folders(config: pytest.Config) -> None:
    """The missing folders of the session's report files made now, each with a `.gitignore` of `*`
    (harness.report.folders): pytest's --junitxml writer makes its own folder without one, and a report the
    checkout does not ignore would make the next session's pacts a snapshot."""
    from harness.report.folders import report_folder

    for file in _outputs(config):
        if not file.parent.exists():
            report_folder(file.parent)


def _broker_url(config: pytest.Config, options: Any) -> str | None:
    """The URL of the Pact Broker configured for the session (options, the topology file, PACT_BROKER_BASE_URL);
    None: none, or one that is no URL (said where it is used)."""
    from harness.contracts.broker_config import broker_access
    from harness.errors import HarnessError
    from harness.pytest.session import PLUGIN_NAME

    spec = getattr(config.pluginmanager.get_plugin(PLUGIN_NAME), "spec", None)
    try:
        broker = broker_access(options.values, spec.contracts.broker if spec is not None else None)
    except HarnessError:
        return None
    return broker.url if broker is not None else None


def _publish_written(session: pytest.Session, written: list[Path], exitstatus: int) -> None:
    from harness.contracts.publish import publication_wanted
    from harness.pytest.options import resolved

    config = session.config
    options = resolved(config)
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(text: str, **markup: bool) -> None:
        if reporter:
            _new_line(reporter)
            reporter.write_line(text, **markup)

    if not publication_wanted(options.pact_publish, bool(options.consumer_version)):
        if written and os.environ.get("CI") == "true" and _broker_url(config, options):  # as `harness verify` says it
            say(f"pacts not published to the Pact Broker {_broker_url(config, options)}: in CI (CI=true) but no "
                "--pact-consumer-version given: give it (or --pact-publish) to publish them", yellow=True)
        return

    if exitstatus != 0:
        say(f"pacts not published to the Pact Broker: the session did not pass (exit status {exitstatus}); a pact "
            "is published only after its consumer tests pass", yellow=True)
        return
    if not written:
        say("pacts not published to the Pact Broker: the consumer tests of this session wrote none", yellow=True)
        return
    from harness.contracts.broker_config import broker_access
    from harness.contracts.publish import consumer_version, publish_pacts
    from harness.errors import HarnessError, OptionError
    from harness.pytest.publishing import NO_BROKER
    from harness.pytest.session import PLUGIN_NAME

    owner = config.pluginmanager.get_plugin(PLUGIN_NAME)
    spec = getattr(owner, "spec", None)
    try:
        broker = broker_access(options.values, spec.contracts.broker if spec is not None else None)
        if broker is None:
            raise OptionError(NO_BROKER)
        coverage = config.pluginmanager.get_plugin("harness-pact-publish")
        version = consumer_version(pact_folder(config), options.consumer_version, options.consumer_branch,
                                   tuple(options.consumer_tag or ()), options.flag("consumer_version"),
                                   _outputs(config), coverage.left_out() if coverage else "",
                                   options.flag("consumer_branch"))
        publication = publish_pacts(broker, written, version, options.flag("consumer_branch"))
    except HarnessError as error:
        say(f"error: pacts not published to the Pact Broker: {error}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    say(f"pacts published to the Pact Broker {broker.url} for consumer version {version.number}"
        + (f" on branch {version.branch}" if version.branch else "") + ": "
        + ", ".join(f"{p.consumer}->{p.provider}" for p in publication.pacts), green=True)
    for note in publication.notes:
        say(f"note: {note}", yellow=True)
