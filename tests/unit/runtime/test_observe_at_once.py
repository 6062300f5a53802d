"""The observation's requests to the engine side by side (observe._at_once): every item done, results in order, an
error raised only once every item ended (so that nothing is left half started when the session stops them)."""

from __future__ import annotations

import threading

import pytest

from harness.runtime.observe import _at_once


def test_every_item_is_done_side_by_side_and_the_results_keep_the_items_order() -> None:
    barrier = threading.Barrier(3, timeout=30)  # passes only if the three run at the same time

    def work(item: int) -> int:
        barrier.wait()
        return item * 10

    assert _at_once(work, [1, 2, 3]) == [10, 20, 30]
    assert _at_once(work, []) == []


def test_an_error_is_raised_once_every_item_ended() -> None:
    ended: list[str] = []

    def work(item: str) -> str:
        if item == "bad":
            raise ValueError("the helper of 'bad' did not start")
        ended.append(item)
        return item

    with pytest.raises(ValueError, match="the helper of 'bad' did not start"):
        _at_once(work, ["a", "bad", "c", "d"])
    assert sorted(ended) == ["a", "c", "d"]
