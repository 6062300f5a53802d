"""Which files a topology is read from: the files given, a folder read as `docker compose` reads it without `-f`.

Docker Compose v2 (measured with v2.40.3) looks in the project folder for the first of COMPOSE_NAMES and then for
the first of OVERRIDE_NAMES, each in its own order of preference; `-f FILE` reads FILE only, never an override
beside it. Several files are merged by Compose itself (`-f a -f b`), the first file's folder being the project
folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import TopologyFileError

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")


def topology_files(given: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The files `given` (files or folders) stand for, resolved, in order, and notes for a person.

    A folder stands for its compose file and its override file, as `docker compose` run in it without `-f`; a
    compose file given alone is read alone (as `docker compose -f FILE`), with a note when an override lies beside it.

    Raises:
        TopologyFileError: nothing given, a folder without a compose file, a file given twice.
    """
    if not given:
        raise TopologyFileError("topology", "no topology file given")
    files: list[Path] = []
    notes: list[str] = []
    for entry in map(Path, given):
        if entry.is_dir():
            found, said = in_folder(entry)
            files += found
            notes += said
        else:  # a missing file is said by the reader of its format
            files.append(entry.resolve())
    if len(set(files)) < len(files):
        twice = next(f for f in files if files.count(f) > 1)
        raise TopologyFileError(str(twice), "given twice (a folder stands for its compose file and override)")
    if len(given) == 1 and not Path(given[0]).is_dir() and files[0].name in COMPOSE_NAMES:
        beside = [files[0].parent / name for name in OVERRIDE_NAMES if (files[0].parent / name).is_file()]
        if beside:
            notes.append(f"{beside[0].name} beside {files[0].name} is not read (as `docker compose -f "
                         f"{files[0].name}`); give the folder {files[0].parent} to read both")
    return files, notes


def in_folder(folder: Path) -> tuple[list[Path], list[str]]:
    """A folder's compose file and override file, as `docker compose` without `-f` picks them (no parent folder is
    searched: the folder was named), and a note when several names compete.

    Raises:
        TopologyFileError: no compose file in the folder.
    """
    folder = folder.resolve()
    out: list[Path] = []
    notes: list[str] = []
    for names, kind in ((COMPOSE_NAMES, "compose"), (OVERRIDE_NAMES, "override")):
        present = [name for name in names if (folder / name).is_file()]
        if len(present) > 1:
            notes.append(f"{folder}: several {kind} files ({', '.join(present)}): {present[0]} is read, as Docker "
                         "Compose does")
        if present:
            out.append(folder / present[0])
        elif kind == "compose":
            raise TopologyFileError(str(folder), f"no compose file in this folder (Docker Compose looks for "
                                                 f"{', '.join(COMPOSE_NAMES)}); give the topology file itself")
    return out, notes
