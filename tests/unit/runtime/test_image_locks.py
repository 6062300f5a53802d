"""The locks between sessions that build or start from a build context and prunes of it (flock files, no Docker)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

from harness.runtime.imagelocks import building, pruning, using_contexts


@pytest.fixture(autouse=True)
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_a_context_in_use_is_not_pruned_and_sessions_share_it() -> None:
    with using_contexts(["/srv/app", "/srv/api"]), using_contexts(["/srv/app"]):
        with pruning("/srv/app") as alone:
            assert not alone
        with pruning("/srv/other") as alone:
            assert alone
    with pruning("/srv/app") as alone:
        assert alone


def test_the_same_context_on_another_engine_is_another_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    with using_contexts(["/srv/app"]):
        monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.2:2375")
        with pruning("/srv/app") as alone:
            assert alone


def test_one_tag_is_built_by_one_holder_at_a_time() -> None:
    waited = threading.Event()
    order: list[str] = []
    with building("pytest-topology/app:1"):
        other = threading.Thread(target=lambda: _build_after(order, waited))
        other.start()
        assert waited.wait(timeout=30)  # told that it waits, before it holds the lock
        order.append("first done")
    other.join(timeout=30)
    assert order == ["first done", "second builds"]
    with building("pytest-topology/app:2", waiting=lambda: pytest.fail("no one else builds this tag")):
        pass


def _build_after(order: list[str], waited: threading.Event) -> None:
    with building("pytest-topology/app:1", waiting=waited.set):
        order.append("second builds")
