"""A file the run would write and cannot (JUnit, the report page, the matrix's folder) is refused before anything
starts, in one line, with the same words in both front-ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from tests.unit.pytest.test_front_end_rules import drift_project


@pytest.mark.parametrize(("args", "message"), [
    (["drift", "--junit", "out"], "--junit out: that is a folder; give a file name, e.g. out/junit.xml"),
    (["verify", "--junit", "out"], "--junit out: that is a folder; give a file name, e.g. out/junit.xml"),
    (["drift", "--junit", "/proc/nope/j.xml"], "--junit /proc/nope/j.xml: cannot write in /proc (No such file "
                                               "or directory); give a path in a folder you can write to"),
    (["fuzz", "--report", "/proc/nope/r.html"], "--report /proc/nope/r.html: cannot write in /proc (No such "
                                                "file or directory); give a path in a folder you can write to"),
    (["verify", "--report", "afile"], "--report afile: afile is a file, not a folder; give another path"),
    (["verify", "--report", "afile/r.html"], "--report afile/r.html: afile is a file, not a folder; give another "
                                             "path"),
    (["drift", "--report", "out/rep.txt"], "--report: the report page is one HTML file; give a name ending in "
                                           ".html, e.g. out/rep.html, not 'out/rep.txt'"),
])
def test_an_output_that_cannot_be_written_is_refused_up_front(args: list[str], message: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "afile").write_text("")
    # a topology that does not exist: the output is checked first, so nothing of the topology is read
    assert main([args[0], "--topology", "missing.yaml", *args[1:]]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize(("value", "message"), [
    ("out/rep.txt", "--topology-report: the report page is one HTML file; give a name ending in .html, e.g. "
                    "out/rep.html, not 'out/rep.txt'"),
    ("out.html", "--topology-report {path}/out.html: that is a folder; give a file name, e.g. "
                 "{path}/out.html/report.html"),
])
def test_pytest_refuses_the_same_report_page_up_front(value: str, message: str, pytester: pytest.Pytester) -> None:
    topology = drift_project(pytester.path)
    (pytester.path / "out.html").mkdir()
    result = pytester.runpytest_subprocess("--topology", str(topology), "--topology-report", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: {message.format(path=pytester.path)}"
