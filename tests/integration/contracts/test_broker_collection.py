"""A pytest session publishes its pacts under the commit only when it ran every consumer test the commit holds
(issue #25): tests left out by a conftest or plugin whatever the means (collect_ignore, collect_ignore_glob, a
pytest_ignore_collect hook, an option a conftest changes, a module-level skip) or by PYTEST_ADDOPTS make the pacts a
snapshot, with the reason; what the configuration file leaves out (its addopts' --ignore) is every run's and does
not. And the reports a run writes into the checkout do not make the next run's pacts a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .test_broker_checkout import git
from .test_broker_publish import HOST, consumer_tests, project

NOT_COLLECTED = ("1 test file(s) under the session's paths not collected (tests/kiosk/test_kiosk.py): left out by a "
                 "conftest or plugin (collect_ignore, collect_ignore_glob, a pytest_ignore_collect hook), which may "
                 "depend on the environment; to leave them out of every run, use --ignore in the configuration "
                 "file's addopts")
LEAVING_OUT = {  # the project's top conftest.py (or the kiosk's test file), leaving the kiosk out when NO_KIOSK is set
    "collect_ignore": ("conftest.py", "import os\ncollect_ignore = ['tests/kiosk'] if os.environ.get('NO_KIOSK') "
                       "else []\n", NOT_COLLECTED),
    "collect_ignore_glob": ("conftest.py", "import os\ncollect_ignore_glob = ['*kiosk*'] if "
                            "os.environ.get('NO_KIOSK') else []\n", NOT_COLLECTED),
    "hook": ("conftest.py", "import os\ndef pytest_ignore_collect(collection_path, config):\n    if "
             "os.environ.get('NO_KIOSK') and 'kiosk' in collection_path.name:\n        return True\n", NOT_COLLECTED),
    "option": ("conftest.py", "import os\ndef pytest_configure(config):\n    if os.environ.get('NO_KIOSK'):\n"
               "        config.option.ignore = [*(config.option.ignore or []), 'tests/kiosk']\n", NOT_COLLECTED),
    "module_skip": ("tests/kiosk/test_kiosk.py", "import os\nimport pytest\nif os.environ.get('NO_KIOSK'):\n"
                    "    pytest.skip('no kiosk', allow_module_level=True)\n", "1 test file(s) skipped as collected "
                    "(pytest.skip or importorskip at module level)"),
    "PYTEST_ADDOPTS_deselect": ("", "", "1 of 3 collected test(s) deselected (--deselect given)"),
}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
@pytest.mark.parametrize("case", LEAVING_OUT.values(), ids=LEAVING_OUT.keys())
def test_tests_left_out_by_code_that_reads_the_environment_make_a_snapshot(
        tmp_path: Path, broker: BrokerServer, case: tuple[str, str, str], xdist: list[str]) -> None:
    name, code, why = case
    commit = project(tmp_path)
    if name:  # the code that leaves the kiosk out, committed: every run has it
        file = tmp_path / name
        file.write_text(code + file.read_text())
        git(tmp_path, "commit", "-q", "-am", "the kiosk's tests left out when NO_KIOSK is set")
        commit = git(tmp_path, "rev-parse", "HEAD")

    whole = consumer_tests(tmp_path, broker, "--pact-publish", *xdist, cwd=tmp_path)
    assert whole.returncode == 0 and "3 passed" in whole.stdout, whole.stdout + whole.stderr
    assert f"for consumer version {commit} on branch main: " in whole.stdout and "SNAPSHOT" not in whole.stdout

    env = {"PYTEST_ADDOPTS": "--deselect tests/kiosk/test_kiosk.py::test_kiosk_reads_the_bill"} if not name else {
        "NO_KIOSK": "1"}
    part = consumer_tests(tmp_path, broker, "--pact-publish", *xdist, cwd=tmp_path, **env)
    said = " ".join(part.stdout.split())
    assert part.returncode == 0 and "2 passed" in said, said + part.stderr
    assert f"for consumer version {commit}+SNAPSHOT.{HOST}: web-frontend->billing, web-frontend->shop" in said, said
    assert f"this session did not run every consumer test ({why}" in said or f"; {why}" in said, said
    assert f"{commit}+SNAPSHOT.{HOST}" in {p.consumer_version for p in broker.broker.pacts.values()}


def test_the_reports_of_a_run_leave_the_next_runs_pacts_under_the_commit(tmp_path: Path,
                                                                         broker: BrokerServer) -> None:
    """A run's JUnit file in reports/ (a folder the harness makes, with a .gitignore of `*`): the next session,
    without --junitxml, still publishes under the commit; a file git does not ignore still makes a snapshot."""
    commit = project(tmp_path)
    first = consumer_tests(tmp_path, broker, "--pact-publish", "--junitxml", "reports/junit.xml", cwd=tmp_path)
    assert first.returncode == 0 and (tmp_path / "reports" / "junit.xml").is_file(), first.stdout + first.stderr
    assert f"for consumer version {commit} on branch main: " in first.stdout, first.stdout
    assert (tmp_path / "reports" / ".gitignore").read_text().splitlines()[-1] == "*"

    second = consumer_tests(tmp_path, broker, "--pact-publish", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"for consumer version {commit} on branch main: " in second.stdout and "SNAPSHOT" not in second.stdout

    (tmp_path / "tests" / "helpers.py").write_text("BASE = '/v2'\n")  # an input: consumer code not committed
    third = consumer_tests(tmp_path, broker, "--pact-publish", cwd=tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr
    assert f"for consumer version {commit}+SNAPSHOT.{HOST}: " in third.stdout
    assert "has uncommitted changes outside the pact folder (untracked tests/helpers.py)" in third.stdout
