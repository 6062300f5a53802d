"""Which build contexts `harness prune` counts as under the current folder."""

from __future__ import annotations

from pathlib import Path

from harness.runtime.prune import under


def test_a_context_inside_the_folder_is_under_it(tmp_path: Path) -> None:
    assert under(tmp_path)(str(tmp_path / "app"))
    assert not under(tmp_path / "app")(str(tmp_path / "other"))


def test_a_label_that_is_not_a_path_is_under_no_folder(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)  # "fault-helper" would resolve to tmp_path/fault-helper
    assert not under(tmp_path)("fault-helper")
    assert not under(tmp_path)("")
