"""Which untracked files may change the pacts a checkout's consumer tests write (checkout.consumer_may_read): code and
configuration anywhere, anything in a folder of the project; not what a CI job writes where no test reads it."""

from __future__ import annotations

import pytest

from harness.contracts.checkout import Change, consumer_may_read

PROJECT = {"tests", "web"}  # top-level folders git tracks files in or that hold Python code


@pytest.mark.parametrize("path", [
    "tests/test_more.py", "conftest.py", "web/retry.py", "web/schemas/item.json", "tests/data/extra.json",
    "pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", ".env", "tests/.pytest.ini", "local.pth",
    "reports/helper.py", "_native.cpython-311-x86_64-linux-gnu.so"])
def test_code_configuration_and_project_folders_count(path: str) -> None:
    assert consumer_may_read(path, PROJECT)


@pytest.mark.parametrize("path", [
    "junit.xml", ".coverage", ".coverage.host.1234", "coverage.xml", "report.html", "reports/unit.xml",
    "htmlcov/index.html", "build/lib/notes.txt", "testsuite.json"])
def test_what_a_run_writes_where_no_test_reads_it_does_not(path: str) -> None:
    assert not consumer_may_read(path, PROJECT)


def test_a_change_says_when_it_is_untracked() -> None:
    assert [str(c) for c in (Change("web/client.py"), Change("tests/test_more.py", untracked=True))] == [
        "web/client.py", "untracked tests/test_more.py"]
