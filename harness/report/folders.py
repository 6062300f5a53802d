"""The folders reports are written to. A folder the harness makes for its reports holds a `.gitignore` of `*`, as
pytest's own cache folder does: git then ignores what is written there, so reports written into a git checkout (the
default `reports/`) never make it differ from its commit, and the next run still publishes pacts or verification
results under the commit (harness.contracts.checkout counts every changed or untracked file). A folder that was
there already is left as its owner keeps it."""

from __future__ import annotations

from pathlib import Path

GITIGNORE = "# made by pytest-topology for its reports: git ignores them\n*\n"


def report_folder(folder: Path) -> Path:
    """`folder`, made when missing (with its parents); the outermost folder made gets a `.gitignore` of `*`.
    Returns `folder`."""
    made = [path for path in (folder, *folder.absolute().parents) if not path.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    if made:
        ignore = made[-1] / ".gitignore"
        if not ignore.exists():
            ignore.write_text(GITIGNORE, encoding="utf-8")
    return folder
