"""The files a run writes (JUnit, the report page, the contract matrix's folder), checked before anything starts: a
run whose verdict could not be written must not run to its end first. The same check for both front-ends."""

from __future__ import annotations

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
    """`folder` exists or can be made (it is made), and a file can be written in it. Raises OptionError."""
    shown = given if given is not None else folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".harness-probe-"):
            pass
    except (FileExistsError, NotADirectoryError):
        raise OptionError(f"{flag} {shown}: {_first_file(folder)} is a file, not a folder; give another path") \
            from None
    except OSError as error:
        raise OptionError(f"{flag} {shown}: cannot write in {folder} ({error.strerror or error}); give a path "
                          "in a folder you can write to") from None


def _first_file(folder: Path) -> Path:
    """The first part of `folder` that is an existing file (what keeps it from being made)."""
    for part in reversed([folder, *folder.parents]):
        if part.exists() and not part.is_dir():
            return part
    return folder
