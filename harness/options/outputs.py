"""The files a run writes (JUnit, the report page, the contract matrix's folder), checked before anything starts: a
run whose verdict could not be written must not run to its end first. The same check for both front-ends."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from harness.errors import OptionError

PAGE_SUFFIXES = (".html", ".htm")


def html_file(text: str) -> Path:
    """A validator: the name of the report page, one HTML file (`out/report.html`)."""
    path = Path(text)
    if path.suffix.lower() not in PAGE_SUFFIXES:
        example = path.with_suffix(".html") if path.suffix else path / "report.html"  # no suffix: likely a folder
        raise ValueError(f"the report page is one HTML file; give a name ending in .html, e.g. {example}, "
                         f"not {text!r}")
    return path


def check_output_file(path: Path, flag: str) -> None:
    """`path` can be written as a file: it is not a folder, and its folder exists or can be made (it is made) and
    takes a file. Raises OptionError (`--junit out: ...`) saying what to give instead."""
    if path.is_dir():
        raise OptionError(f"{flag} {path}: that is a folder; give a file name, e.g. {path / 'junit.xml'}"
                          if flag.endswith("junit") or flag.endswith("junitxml") else
                          f"{flag} {path}: that is a folder; give a file name, e.g. {path / 'report.html'}")
    check_output_folder(path.parent, flag, path)


def check_output_folder(folder: Path, flag: str, given: Path | None = None) -> None:
    """A file can be written in `folder`, which exists or can be made (nothing is made here: a run stopped by bad
    input leaves no folder behind). Raises OptionError."""
    shown = given if given is not None else folder
    existing = next(part for part in [folder, *folder.parents] if part.exists() or part == part.parent)
    if not existing.is_dir():
        raise OptionError(f"{flag} {shown}: {existing} is a file, not a folder; give another path")
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".harness-probe-"))  # what making the folder would need
    except OSError as error:
        raise OptionError(f"{flag} {shown}: cannot write in {existing} ({error.strerror or error}); give a path "
                          "in a folder you can write to") from None
