"""StartPlan: start levels, the text and mermaid pictures of the graph, and cycle detection."""

from __future__ import annotations

from typing import Any

import pytest

from harness.model.plan import DependencyCycle, StartPlan


def plan(**services: dict[str, Any]) -> StartPlan:
    """A plan of services, in keyword order: plan(db={}, api={"depends_on": ["db"]}) (the graph alone: a
    TopologySpec refuses a cycle before it has a plan)."""
    return StartPlan.of({name: list(keys.get("depends_on", [])) for name, keys in services.items()},
                        {name: list(keys.get("consumes", [])) for name, keys in services.items()})


def deps(*names: str) -> dict[str, list[str]]:
    return {"depends_on": list(names)}


# --- levels ------------------------------------------------------------------------------------------------------


def test_levels_of_a_diamond():
    diamond = plan(db={}, users=deps("db"), orders=deps("db"), gateway=deps("users", "orders"))
    assert diamond.levels == [["db"], ["users", "orders"], ["gateway"]]


def test_independent_services_share_level_zero_in_file_order():
    assert plan(redis={}, postgres={}, kafka={}).levels == [["redis", "postgres", "kafka"]]


def test_level_is_one_more_than_the_deepest_dependency():
    # `web` depends on `db` (level 0) and on `api` (level 1), so it starts at level 2
    assert plan(db={}, api=deps("db"), web=deps("db", "api")).levels == [["db"], ["api"], ["web"]]


def test_dependencies_declared_later_in_the_file():
    assert plan(web=deps("api"), api=deps("db"), db={}).levels == [["db"], ["api"], ["web"]]


def test_consumes_does_not_change_levels():
    assert plan(a={"consumes": ["b"]}, b={"consumes": ["a"]}).levels == [["a", "b"]]


def test_empty_plan_has_no_levels():
    assert StartPlan(depends_on={}, consumes={}).levels == []


def test_edges_keep_file_order():
    p = plan(db={}, cache={}, api={"depends_on": ["db", "cache"], "consumes": ["cache"]})
    assert p.depends_on == {"db": [], "cache": [], "api": ["db", "cache"]}
    assert p.consumes == {"db": [], "cache": [], "api": ["cache"]}


# --- pictures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def shop() -> StartPlan:
    """db <- api <- web, web also calls auth-svc; cache.v2 stands alone."""
    return plan(**{
        "db": {},
        "api": {"depends_on": ["db"], "consumes": ["db"]},
        "web": {"depends_on": ["api"], "consumes": ["api", "auth-svc"]},
        "auth-svc": {},
        "cache.v2": {},
    })


def test_as_text(shop):
    assert shop.as_text() == (
        "level 0: db, auth-svc, cache.v2\n"
        "level 1: api\n"
        "level 2: web\n"
        "api -> db\n"
        "web -> api\n"
        "web ~> auth-svc  (calls)"
    )


def test_as_mermaid(shop):
    assert shop.as_mermaid() == (
        "graph LR\n"
        "  api[api] --> db[db]\n"
        "  web[web] --> api[api]\n"
        "  web[web] -.-> auth_svc[auth-svc]\n"
        "  cache_v2[cache.v2]"
    )


def test_as_text_of_independent_services():
    assert plan(redis={}, postgres={}).as_text() == "level 0: redis, postgres"


def test_as_mermaid_of_independent_services():
    assert plan(redis={}, postgres={}).as_mermaid() == "graph LR\n  redis[redis]\n  postgres[postgres]"


# --- cycles ------------------------------------------------------------------------------------------------------


def test_cycle_is_a_value_error_naming_the_whole_cycle():
    with pytest.raises(DependencyCycle) as info:
        plan(a=deps("b"), b=deps("c"), c=deps("a"))
    assert isinstance(info.value, ValueError)
    assert info.value.names == ["a", "b", "c", "a"]
    assert str(info.value) == "dependency cycle: a -> b -> c -> a"


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ({"a": deps("b"), "b": deps("c"), "c": deps("a")}, "a -> b -> c -> a"),
        ({"c": deps("a"), "b": deps("c"), "a": deps("b")}, "c -> a -> b -> c"),
        ({"b": deps("c"), "c": deps("a"), "a": deps("b")}, "b -> c -> a -> b"),
    ],
    ids=["a-first", "c-first", "b-first"],
)
def test_cycle_starts_at_the_first_service_in_file_order(services, expected):
    with pytest.raises(DependencyCycle) as info:
        plan(**services)
    assert str(info.value) == f"dependency cycle: {expected}"


def test_cycle_entered_from_outside_names_only_the_cycle():
    # `entry` leads into the cycle but is not part of it; the cycle starts at `x`, the first of its members in the file
    with pytest.raises(DependencyCycle) as info:
        plan(entry=deps("y"), x=deps("y"), y=deps("x"))
    assert str(info.value) == "dependency cycle: x -> y -> x"


def test_two_service_cycle_after_independent_services():
    with pytest.raises(DependencyCycle) as info:
        plan(db={}, api=deps("db", "worker"), worker=deps("api"))
    assert str(info.value) == "dependency cycle: api -> worker -> api"


def test_self_dependency_is_a_cycle_in_the_plan():
    with pytest.raises(DependencyCycle) as info:
        plan(a=deps("a"))
    assert str(info.value) == "dependency cycle: a -> a"


def test_an_acyclic_graph_with_shared_dependencies_is_not_a_cycle():
    assert plan(db={}, a=deps("db"), b=deps("db", "a"), c=deps("a", "b", "db")).levels == [["db"], ["a"], ["b"], ["c"]]
