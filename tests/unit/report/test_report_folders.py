"""A report folder the harness makes is ignored by git (its own .gitignore of `*`); one that was there is left as it
is."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.report.folders import report_folder


def test_the_outermost_folder_made_ignores_itself_and_an_existing_one_is_left_alone(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    report_folder(tmp_path / "reports" / "pages")
    (tmp_path / "reports" / "pages" / "page.html").write_text("<p>")
    assert (tmp_path / "reports" / ".gitignore").is_file()
    assert not (tmp_path / "reports" / "pages" / ".gitignore").exists()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""  # git sees nothing of it
    (tmp_path / "mine").mkdir()
    report_folder(tmp_path / "mine")
    assert not (tmp_path / "mine" / ".gitignore").exists()
