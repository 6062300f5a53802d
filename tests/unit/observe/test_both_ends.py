"""Each call between two services is seen in both namespaces: counted once, in its consumer's; a call only its
provider's capture saw (the consumer's capture not running yet: a service started again) is added, told apart by the
identity both agents give it. Pure logic: the agents' records are given."""

from __future__ import annotations

from typing import Any

from harness.runtime.observe_records import CallsOnce, Observation


def record(path: str, ids: list[str], status: int = 200, **more: Any) -> dict[str, Any]:
    return {"client": "10.0.0.2", "server": "10.0.0.3", "port": 8000, "method": "GET", "path": path,
            "query_keys": [], "status": status, "content_type": "", "count": len(ids) + more.get("unnamed", 0),
            "seconds": 0.1 * len(ids), "max_seconds": 0.1, "request_bytes": 10 * len(ids),
            "response_bytes": 20 * len(ids), "ids": ids, **more}


def settled(consumer: list[dict[str, Any]], provider: list[dict[str, Any]]) -> Observation:
    calls, observation = CallsOnce(), Observation()
    for call in consumer:
        calls.seen(("shop", "stock"), call)
    calls.at_provider += [(("shop", "stock"), call) for call in provider]
    calls.settle(observation)
    return observation


def test_a_call_seen_at_both_ends_counts_once() -> None:
    observation = settled([record("/items/1", ["a:1:7:0", "a:1:7:1"])], [record("/items/1", ["a:1:7:0", "a:1:7:1"])])
    assert observation.calls == [] and observation.provider_only == {}


def test_calls_only_the_providers_capture_saw_are_added_with_their_share() -> None:
    observation = settled([record("/items/1", ["a:1:7:1"])],
                          [record("/items/1", ["a:1:7:0", "a:1:7:1"]), record("/items/2", ["a:2:9:0"])])
    added = {(call.path, call.consumer, call.provider): (call.count, call.request_bytes, call.response_bytes)
             for call in observation.calls}
    assert added == {("/items/1", "shop", "stock"): (1, 10, 20), ("/items/2", "shop", "stock"): (1, 10, 20)}
    assert observation.provider_only == {("shop", "stock"): 2}  # per edge: its notes name it


def test_an_answer_the_consumer_never_got_is_not_a_second_call() -> None:
    # the consumer saw its request and no response (its process killed); the provider answered: one call, status 0
    observation = settled([record("/slow", ["a:1:7:0"], status=0)], [record("/slow", ["a:1:7:0"])])
    assert observation.calls == [] and observation.provider_only == {}


def test_calls_whose_identity_was_not_kept_are_not_compared_and_said() -> None:
    observation = settled([record("/items/1", ["a:1:7:0"], unnamed=3)], [record("/items/1", ["a:1:7:9"])])
    assert observation.calls == [] and observation.uncompared == 1
