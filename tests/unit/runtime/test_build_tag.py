"""The content tag of a build context: what changes it (everything docker is sent) and what does not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.model.parts import BuildSpec
from harness.runtime import buildcontext
from harness.runtime.buildcontext import build_tag, copy_digest, sent_paths


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def context(tmp_path: Path) -> Path:
    folder = tmp_path / "My App"
    (folder / "pkg").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY pkg /pkg\n")
    (folder / "pkg" / "main.py").write_text("print('hi')\n")
    return folder


def tag(folder: Path, **build: object) -> str:
    return build_tag(folder, BuildSpec(context=".", **build))


def touch_later(file: Path, text: str) -> None:
    """Write `text` and move the mtime into the past, so the digest is cacheable (not racy)."""
    file.write_text(text)
    past = time.time() - 60
    os.utime(file, (past, past))


def test_same_content_same_tag_and_a_readable_name(tmp_path: Path) -> None:
    folder = context(tmp_path)
    assert tag(folder) == tag(folder)
    assert tag(folder).startswith("pytest-topology/my-app:")


def test_a_changed_file_dockerfile_or_build_arg_changes_the_tag(tmp_path: Path) -> None:
    folder = context(tmp_path)
    tags = {tag(folder), tag(folder, args={"MODE": "debug"}), tag(folder, dockerfile="Dockerfile.other")}
    (folder / "pkg" / "main.py").write_text("print('changed')\n")
    tags.add(tag(folder))
    (folder / "pkg" / "main.py").chmod(0o755)
    tags.add(tag(folder))
    (folder / "pkg" / "empty").mkdir()
    tags.add(tag(folder))
    assert len(tags) == 6


def test_dockerignored_files_do_not_change_the_tag(tmp_path: Path) -> None:
    folder = context(tmp_path)
    (folder / ".dockerignore").write_text("# local only\ntests\n*.log\n**/__pycache__\n")
    before = tag(folder)
    (folder / "pkg" / "__pycache__").mkdir()
    (folder / "pkg" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / "tests" / "unit").mkdir(parents=True)
    (folder / "tests" / "unit" / "test_x.py").write_text("def test(): pass\n")
    (folder / "run.log").write_text("noise\n")
    assert tag(folder) == before


@pytest.mark.parametrize(("ignore", "changed", "sent"), [
    ("*.txt\n", "data/config.txt", True),             # a pattern without a slash matches at the top only
    ("*.txt\n", "notes.txt", False),
    ("**/*.txt\n", "data/config.txt", False),
    ("*.md\n!README.md\n", "README.md", True),          # an exception re-includes a file
    ("*.md\n!README.md\n", "CHANGES.md", False),
    ("data\n!data/keep.json\n", "data/keep.json", True),
    ("/build/\n", "build/out.bin", False),
    ("Dockerfile\n", "Dockerfile", True),               # docker always sends the Dockerfile
])
def test_a_change_changes_the_tag_exactly_when_docker_sends_the_file(tmp_path: Path, ignore: str, changed: str,
                                                                    sent: bool) -> None:
    folder = context(tmp_path)
    (folder / ".dockerignore").write_text(ignore)
    (folder / changed).parent.mkdir(parents=True, exist_ok=True)
    (folder / changed).write_text("v1\n")
    before = tag(folder)
    (folder / changed).write_text("v2, longer\n")
    assert (tag(folder) != before) is sent
    assert (changed in sent_paths(folder)) is sent


def test_a_dockerfile_outside_the_context_is_hashed_by_content(tmp_path: Path) -> None:
    folder = context(tmp_path)
    outside = tmp_path / "Dockerfile.app"
    outside.write_text("FROM python:3.11-slim\nRUN echo v1\n")
    before = tag(folder, dockerfile="../Dockerfile.app")
    outside.write_text("FROM python:3.11-slim\nRUN echo v2\n")
    assert tag(folder, dockerfile="../Dockerfile.app") != before


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as settled: a file written by a test has a ctime of now, which is otherwise racy."""
    monkeypatch.setattr(buildcontext, "RACY_SECONDS", -1.0)


@pytest.mark.usefixtures("settled")
def test_cached_digests_follow_size_and_mtime(tmp_path: Path, private_cache: Path) -> None:
    folder = context(tmp_path)
    main = folder / "pkg" / "main.py"
    touch_later(main, "print('one')\n")
    first = tag(folder)
    assert list(private_cache.glob("*.json")), "digests of settled files are cached"
    assert tag(folder) == first
    touch_later(main, "print('two')\n")  # same size, other content, other mtime
    assert tag(folder) != first
    touch_later(main, "print('one')\n")
    assert tag(folder) == first


@pytest.mark.usefixtures("settled")
def test_an_edit_that_puts_size_and_mtime_back_is_seen_by_its_ctime(tmp_path: Path) -> None:
    """`touch -r`, `cp -p`, `rsync -t`: same size, the old mtime, the same inode; only the ctime tells."""
    folder = context(tmp_path)
    main = folder / "pkg" / "main.py"
    touch_later(main, "print('one')\n")
    first = tag(folder)
    stamp, changed = main.stat().st_mtime_ns, main.stat().st_ctime_ns
    while main.stat().st_ctime_ns == changed:  # a later ctime, whatever the file system's timestamp granularity
        time.sleep(0.01)
        main.write_text("print('two')\n")
        os.utime(main, ns=(stamp, stamp))
    assert tag(folder) != first


def test_a_copy_digest_follows_every_file_under_the_source(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    (seed / "sub").mkdir(parents=True)
    (seed / "sub" / "a.sql").write_text("one\n")
    first = copy_digest(seed)
    assert copy_digest(seed) == first
    (seed / "sub" / "a.sql").write_text("two\n")
    assert copy_digest(seed) != first
    (seed / "sub" / "a.sql").write_text("one\n")
    assert copy_digest(seed) == first
    (seed / "b.sql").write_text("")
    assert copy_digest(seed) != first
    assert copy_digest(seed / "b.sql") != copy_digest(seed / "sub" / "a.sql")


def test_a_file_written_just_now_is_hashed_again_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    folder = context(tmp_path)
    main = folder / "pkg" / "main.py"
    main.write_text("print('aaa')\n")
    first = tag(folder)
    stamp = main.stat().st_mtime_ns
    main.write_text("print('bbb')\n")
    os.utime(main, ns=(stamp, stamp))  # an edit within the same mtime tick
    assert tag(folder) != first


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = context(tmp_path)
    (tmp_path / "not-a-folder").write_text("")
    expected = tag(folder)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "not-a-folder"))
    assert tag(folder) == expected


def test_an_inline_dockerfile_is_hashed_by_its_text_and_the_context_file_by_dockerignore(tmp_path: Path) -> None:
    folder = context(tmp_path)
    inline = tag(folder, dockerfile_inline="FROM python:3.11-slim\n")
    assert inline != tag(folder)  # not the context's Dockerfile
    assert tag(folder, dockerfile_inline="FROM python:3.11-slim\nLABEL a=b\n") != inline
    assert tag(folder, dockerfile_inline="FROM python:3.11-slim\n") == inline
    (folder / "Dockerfile").write_text("FROM python:3.12-slim\n")  # a file the build is sent (not its Dockerfile)
    assert tag(folder, dockerfile_inline="FROM python:3.11-slim\n") != inline
    (folder / ".dockerignore").write_text("Dockerfile\n")
    ignoring = tag(folder, dockerfile_inline="FROM python:3.11-slim\n")
    (folder / "Dockerfile").write_text("FROM python:3.13-slim\n")  # .dockerignored: not sent, as docker-py sends it
    assert tag(folder, dockerfile_inline="FROM python:3.11-slim\n") == ignoring


@pytest.mark.parametrize("setting", [
    {"labels": {"team": "shop"}}, {"extra_hosts": ["billing.local:10.1.2.3"]}, {"network": "none"},
    {"shm_size": 1 << 26}, {"platform": "linux/amd64"}, {"ssh": ["default"]}, {"privileged": True},
    {"ulimits": {"nofile": 100}}, {"secrets": [{"source": "token", "file": "/run/token"}]},
])
def test_a_build_setting_that_changes_the_image_changes_the_tag(tmp_path: Path, setting: dict[str, object]) -> None:
    folder = context(tmp_path)
    assert tag(folder, **setting) != tag(folder)


def test_a_plain_build_keeps_its_tag_and_no_cache_pull_and_tags_do_not_change_it(tmp_path: Path) -> None:
    folder = context(tmp_path)
    assert tag(folder, no_cache=True, pull=True, tags=["shop/app:extra"]) == tag(folder)


def test_the_files_of_an_additional_context_folder_are_in_the_tag(tmp_path: Path) -> None:
    folder, extra = context(tmp_path), tmp_path / "extra"
    extra.mkdir()
    touch_later(extra / "e.txt", "one")
    first = tag(folder, additional_contexts={"extra": str(extra)})
    touch_later(extra / "e.txt", "two")
    assert tag(folder, additional_contexts={"extra": str(extra)}) != first
