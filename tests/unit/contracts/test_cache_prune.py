"""The verdict cache's bound: entries unused for a month go, and the least recently used beyond MAX_ENTRIES; a hit
counts as a use; at most once a day; leftovers of a run that ended mid-write go."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from harness.contracts import cacheprune
from harness.contracts.cache import VerdictCache
from harness.contracts.cacheprune import MARKER, prune, used
from harness.contracts.pactfiles import read_pact
from harness.model.topology import TopologySpec
from tests.unit.contracts.test_verdict_cache import PACT, result

DAY = 86400.0
SPEC = TopologySpec(name="t", services={"shop": {"image": "redis:7"}, "web": {"image": "redis:7"}})


def entry(folder: Path, name: str, age_days: float, now: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("{}")
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_entries_unused_for_a_month_and_leftover_temporaries_go(tmp_path: Path) -> None:
    now = time.time()
    fresh, old = entry(tmp_path, "a.json", 29, now), entry(tmp_path, "b.json", 31, now)
    writing, left = entry(tmp_path, ".c-1.tmp", 0, now), entry(tmp_path, ".d-2.tmp", 1, now)
    assert sorted(prune(tmp_path, now)) == sorted([old, left])
    assert fresh.exists() and writing.exists()
    assert (tmp_path / MARKER).exists()


def test_beyond_the_bound_the_least_recently_used_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cacheprune, "MAX_ENTRIES", 2)
    now = time.time()
    paths = [entry(tmp_path, f"{i}.json", i, now) for i in range(4)]  # 0.json used last
    assert sorted(prune(tmp_path, now)) == paths[2:]
    assert [p.exists() for p in paths] == [True, True, False, False]


def test_pruned_at_most_once_a_day(tmp_path: Path) -> None:
    now = time.time()
    assert prune(tmp_path / "missing", now) == []  # nothing to prune, nothing raised
    used(tmp_path / "missing.json")
    entry(tmp_path, "a.json", 30.6, now)
    assert prune(tmp_path, now - DAY) == []  # not a month old then
    assert prune(tmp_path, now - DAY / 2) == []  # a month old, but pruned less than a day before
    assert [p.name for p in prune(tmp_path, now)] == ["a.json"]


def test_a_hit_counts_as_a_use_and_a_write_prunes(tmp_path: Path) -> None:
    """An entry a run reads is kept however old it was written; the write of another entry prunes the folder."""
    folder = tmp_path / "cache"
    cache = VerdictCache(folder)
    cache.put("kept", result())
    now = time.time()
    os.utime(folder / "kept.json", (now - 40 * DAY, now - 40 * DAY))
    stale = entry(folder, "stale.json", 40, now)
    os.utime(folder / MARKER, (now - 2 * DAY, now - 2 * DAY))  # last pruned two days ago
    (tmp_path / "pact.json").write_text(json.dumps(PACT))
    assert cache.get("kept", read_pact(tmp_path / "pact.json"), SPEC) is not None
    assert now - (folder / "kept.json").stat().st_mtime < DAY
    cache.put("new", result())
    assert (folder / "kept.json").exists() and (folder / "new.json").exists() and not stale.exists()
