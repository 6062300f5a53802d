"""The content tag of a build context: what changes it and what does not."""

from __future__ import annotations

from pathlib import Path

from harness.runtime.images import build_tag
from harness.spec.model import BuildSpec


def context(tmp_path: Path) -> Path:
    folder = tmp_path / "My App"
    (folder / "pkg").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY pkg /pkg\n")
    (folder / "pkg" / "main.py").write_text("print('hi')\n")
    return folder


def test_same_content_same_tag_and_a_readable_name(tmp_path: Path) -> None:
    folder = context(tmp_path)
    tag = build_tag(folder, BuildSpec(context="."))
    assert tag == build_tag(folder, BuildSpec(context="."))
    assert tag.startswith("pytest-topology/my-app:")


def test_a_changed_file_dockerfile_or_build_arg_changes_the_tag(tmp_path: Path) -> None:
    folder = context(tmp_path)
    tags = {build_tag(folder, BuildSpec(context="."))}
    tags.add(build_tag(folder, BuildSpec(context=".", args={"MODE": "debug"})))
    tags.add(build_tag(folder, BuildSpec(context=".", dockerfile="Dockerfile.other")))
    (folder / "pkg" / "main.py").write_text("print('changed')\n")
    tags.add(build_tag(folder, BuildSpec(context=".")))
    assert len(tags) == 4


def test_caches_and_dockerignored_files_do_not_change_the_tag(tmp_path: Path) -> None:
    folder = context(tmp_path)
    (folder / ".dockerignore").write_text("# local only\ntests\n*.log\n")
    before = build_tag(folder, BuildSpec(context="."))
    (folder / "pkg" / "__pycache__").mkdir()
    (folder / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / "tests" / "unit").mkdir(parents=True)
    (folder / "tests" / "unit" / "test_x.py").write_text("def test(): pass\n")
    (folder / "run.log").write_text("noise\n")
    assert build_tag(folder, BuildSpec(context=".")) == before
