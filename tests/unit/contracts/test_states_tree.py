"""The files the provider states' code may read count for the verdict cache's key (issue #25, trial t25b findings 1
and 2): a data file one folder down, an untracked file beside the states module; not an ignored file, not what runs
write, not the pact folder. In a git checkout and outside one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.contracts import statestree
from harness.contracts.cache import states_digest
from harness.contracts.states import load_states
from harness.contracts.statestree import TooManyFiles, folders_digest, states_folders

STATES = """
import json
from pathlib import Path

from harness.contracts import provider_state

HERE = Path(__file__).parent


@provider_state("sku abc is in stock", provider="inventory")
def in_stock(topology, params):
    data = HERE / "stock.local.json"  # a developer's override, else the team's data
    if not data.exists():
        data = HERE / "data" / "stock.json"
    return {"count": json.loads(data.read_text())["count"]}
"""


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder, check=True,
                   capture_output=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "stock.json").write_text('{"count": 5}\n')
    (tmp_path / "states.py").write_text(STATES)
    (tmp_path / "contracts").mkdir()
    (tmp_path / ".gitignore").write_text("secret.local.json\nout/\n")
    return tmp_path


def digest(folder: Path) -> str:
    states = folder / "states.py"
    return states_digest([states], load_states([states]), [folder / "contracts"])


@pytest.mark.parametrize("in_git", [True, False], ids=["a git checkout", "no git checkout"])
def test_a_data_file_below_or_an_untracked_file_beside_the_states_code_changes_the_key(project: Path,
                                                                                      in_git: bool) -> None:
    if in_git:
        git(project, "init", "-q", "-b", "main")
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", "the project")
    first = digest(project)
    assert digest(project) == first
    (project / "data" / "stock.json").write_text('{"count": "many"}\n')  # one folder down, not committed
    second = digest(project)
    assert second != first
    (project / "stock.local.json").write_text('{"count": 5}\n')  # untracked, beside the states module
    third = digest(project)
    assert third != second
    (project / "stock.local.json").write_text('{"count": 6}\n')
    assert digest(project) != third
    fourth = digest(project)
    # what runs write, and the pact folder (its pacts are in the key on their own), do not count
    for name in ("junit.xml", "out/report.html", "run.log", "contracts/web-inventory.json", "__pycache__/x.pyc"):
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_text("written by a run\n")
    if in_git:  # an ignored file is no data of the project's
        (project / "secret.local.json").write_text("{}\n")
    assert digest(project) == fourth


def test_a_tracked_file_flagged_skip_worktree_still_counts(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "the project")
    git(project, "update-index", "--skip-worktree", "data/stock.json")
    first = digest(project)
    (project / "data" / "stock.json").write_text('{"count": "many"}\n')  # git status does not show it
    assert digest(project) != first


def test_the_folders_are_taken_once_and_a_huge_tree_outside_git_is_not_hashed(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pkg").mkdir()
    assert states_folders([tmp_path / "states.py", tmp_path / "pkg" / "helpers.py"]) == [tmp_path.resolve()]
    monkeypatch.setattr(statestree, "MAX_FILES", 3)
    for index in range(4):
        (tmp_path / f"f{index}.json").write_text("{}\n")
    with pytest.raises(TooManyFiles, match="more than 3 files below"):
        folders_digest([tmp_path])
