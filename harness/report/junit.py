"""JUnit XML, one writer for every front-end: valid XML whatever the text holds (ANSI codes and control characters
removed), one test case per verdict."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from harness.report.folders import report_folder
from harness.report.text import strip_ansi
from harness.verdict import Outcome

# XML 1.0 allows tab, newline and carriage return below 0x20, and nothing in the surrogate or 0xFFFE-F ranges.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """`text` without ANSI codes and without characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", strip_ansi(text))


def item_path(file: Path, base: Path) -> str:
    """Where the pytest items of a topology file are (their node ids are `PATH::pact[...]`, `PATH::fuzz[...]`): the
    file relative to `base` (pytest's rootdir; the current folder for `harness`), with `/`."""
    return Path(os.path.relpath(file, base)).as_posix()


def item_classname(file: Path, base: Path) -> str:
    """The JUnit classname of the items of a topology file, as pytest's junitxml writes it for a node id under that
    file (its path with `.` for `/`): `harness verify --junit` writes the same, so one verdict has one shape."""
    return item_path(file, base).replace("/", ".")


def located(case: Case, file: Path | None, line: int | None, base: Path) -> Case:
    """`case` with the file (relative to `base`, with `/`, as pytest's items name theirs) and 1-based line of its
    item."""
    if file is None:
        return case
    return dataclasses.replace(case, file=item_path(file, base), line=line)


@dataclass(frozen=True)
class Case:
    """One verdict. At most one of failure / error / skipped is set; each is the one-line message, `details` the
    body (report, curl commands, ...). `output` goes to system-out (a service's log). `file` and `line` (1-based):
    where the item is (the pact's interaction, the operation in its OpenAPI document, the service in the topology
    file), written as the testcase's attributes when known."""

    classname: str
    name: str
    seconds: float = 0.0
    failure: str | None = None
    error: str | None = None
    skipped: str | None = None
    details: str = ""
    output: str = ""
    file: str | None = None
    line: int | None = None
    properties: tuple[tuple[str, str], ...] = ()  # (name, value): <properties>, as pytest writes user_properties

    @property
    def outcome(self) -> Outcome:
        """The shared outcome (harness.verdict) the case says: a failure, an error, a skip (excluded), else a pass."""
        return ("failed" if self.failure is not None else "error" if self.error is not None
                else "excluded" if self.skipped is not None else "passed")


def write_junit(file: Path, suite: str, cases: list[Case], seconds: float | None = None) -> Path:
    """Write one `<testsuite>` with `cases` to `file` (folders created). `seconds`: the suite's time (the run's wall
    time, when cases run together or their times are not known); default: the sum of the cases'. Returns `file`."""
    total = sum(c.seconds for c in cases) if seconds is None else seconds
    root = ElementTree.Element("testsuite", name=suite, tests=str(len(cases)),
                               failures=str(sum(c.failure is not None for c in cases)),
                               errors=str(sum(c.error is not None for c in cases)),
                               skipped=str(sum(c.skipped is not None for c in cases)),
                               time=f"{total:.3f}")
    for case in cases:
        element = ElementTree.SubElement(root, "testcase", classname=_xml_text(case.classname),
                                         name=_xml_text(case.name), time=f"{case.seconds:.3f}")
        if case.file is not None:
            element.set("file", _xml_text(case.file))
            if case.line is not None:
                element.set("line", str(case.line))
        if case.properties:
            listed = ElementTree.SubElement(element, "properties")
            for key, value in case.properties:
                ElementTree.SubElement(listed, "property", name=_xml_text(key), value=_xml_text(value))
        for tag, message in (("failure", case.failure), ("error", case.error), ("skipped", case.skipped)):
            if message is not None:
                ElementTree.SubElement(element, tag, message=_xml_text(message)).text = _xml_text(case.details)
        if case.output:
            ElementTree.SubElement(element, "system-out").text = _xml_text(case.output)
    report_folder(file.parent)
    ElementTree.ElementTree(root).write(file, encoding="utf-8", xml_declaration=True)
    return file


def write_start_failure_junit(file: Path, suite: str, topology: Path, name: str, error: Exception) -> Path:
    """The JUnit file of a run whose topology did not start (or no engine answered): one case `topology NAME` with
    an <error>, named and classed as pytest's errored item of the same failure (run from the current folder;
    `topology`: the first topology file), so that a CI keeping the file sees the error, not an empty suite."""
    case_name = f"topology {name}"
    first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return write_junit(file, suite, [Case(item_classname(topology, Path.cwd()), case_name,
                                          error=f"{case_name} did not start: {first}",
                                          details=f"{case_name} did not start:\n{error}")])
