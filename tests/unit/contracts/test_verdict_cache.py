"""The verdict cache's key and entries (pure logic; the cache against the real engine is in
tests/integration/contracts/test_verdict_cache.py): every part a verdict depends on changes the key, formatting does
not; only verified verdicts are kept; an entry that cannot be read is a miss."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from harness import load_topology
from harness.contracts.cache import (
    TopologyIdentity,
    VerdictCache,
    VerdictContext,
    mounted_digest,
    pact_content,
    states_digest,
    verdict_key,
)
from harness.contracts.pactfiles import read_pact
from harness.contracts.results import InteractionResult, PactResult
from harness.contracts.states import load_states
from harness.model.topology import TopologySpec

PACT = {"consumer": {"name": "web"}, "provider": {"name": "shop"},
        "interactions": [{"description": "items", "request": {"method": "GET", "path": "/items"},
                          "response": {"status": 200}}],
        "metadata": {"pactSpecification": {"version": "2.0.0"}}}
IDENTITY = TopologyIdentity({"shop": '{"image": "a1"}', "db": '{"image": "b2"}'}, {"back": "n1"})
CONTEXT = VerdictContext(IDENTITY, states="s1", tools="t1")


def key(content: object = PACT, provider: str = "shop", context: VerdictContext = CONTEXT,
        state_path: str | None = None) -> str:
    return verdict_key(content, provider, context, state_path)


def test_the_pacts_content_counts_not_its_formatting(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps(PACT))
    two.write_text(json.dumps(PACT, indent=4, sort_keys=True))
    assert key(pact_content(one)) == key(pact_content(two)) == key()
    changed = json.loads(json.dumps(PACT))
    changed["interactions"][0]["response"]["status"] = 201
    assert key(changed) != key()
    (tmp_path / "bad.json").write_text("{")
    assert pact_content(tmp_path / "bad.json") is None and pact_content(tmp_path / "missing.json") is None


@pytest.mark.parametrize("change", [
    {"provider": "gateway"},
    {"state_path": "/_pact/states"},
    {"context": dataclasses.replace(CONTEXT, topology=TopologyIdentity({**IDENTITY.services, "shop": '{"image": "a2"}'},
                                                                       IDENTITY.networks))},
    {"context": dataclasses.replace(CONTEXT, topology=TopologyIdentity({**IDENTITY.services, "db": '{"env": "x"}'},
                                                                       IDENTITY.networks))},
    {"context": dataclasses.replace(CONTEXT, topology=TopologyIdentity({**IDENTITY.services, "cache": "c"},
                                                                       IDENTITY.networks))},
    {"context": dataclasses.replace(CONTEXT, topology=TopologyIdentity(IDENTITY.services, {"back": "n2"}))},
    {"context": dataclasses.replace(CONTEXT, states="s2")},
    {"context": dataclasses.replace(CONTEXT, tools="t2")},
    {"context": dataclasses.replace(CONTEXT, mounted="m2")},
], ids=["provider", "state path", "provider image", "dependency config", "service added", "network", "states",
        "tools", "mounted files"])
def test_every_part_a_verdict_depends_on_changes_the_key(change: dict) -> None:
    assert key(**change) != key()


def test_pact_variables_count_and_their_values_are_not_written(monkeypatch: pytest.MonkeyPatch) -> None:
    before = key()
    monkeypatch.setenv("PACT_DO_NOT_TRACK", "false")
    assert key() == before  # the core's usage tracking changes no verdict
    monkeypatch.setenv("PACT_VERIFIER_SOMETHING", "secret-value")
    assert key() != before
    assert "secret-value" not in key()


def test_the_states_digest_follows_the_project_code_its_handlers_reach(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shopdata.py").write_text("def items():\n    return [1, 2]\n")
    states = tmp_path / "states.py"
    states.write_text("import json\nfrom harness.contracts import provider_state\nfrom shopdata import items\n\n"
                      "@provider_state('the shop has items', provider='shop')\n"
                      "def has_items(topology, params):\n    return {'n': len(items())}\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest() -> str:
        sys.modules.pop("shopdata", None)  # a new run imports it afresh
        return states_digest([states], load_states([states]))

    first = digest()
    assert digest() == first  # the same code: the same digest
    (tmp_path / "shopdata.py").write_text("def items():\n    return [1, 2, 3]\n")  # reached through a handler
    second = digest()
    assert second != first
    states.write_text(states.read_text() + "\n# a comment\n")
    assert digest() != second
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    assert digest() == digest()


@pytest.mark.parametrize("handler", [
    "from shopdata import NAME\n\n@provider_state('an item', provider='shop')\n"
    "def item(topology, params):\n    return {'name': NAME}\n",
    "@provider_state('an item', provider='shop')\n"
    "def item(topology, params):\n    import shopdata\n    return {'name': shopdata.NAME}\n",
    "import shoppkg.names as names\n\n@provider_state('an item', provider='shop')\n"
    "def item(topology, params):\n    return {'name': names.NAME}\n",
], ids=["a constant's module", "an import inside the handler", "a package's module, importing relatively"])
def test_the_states_digest_follows_the_modules_the_states_code_imports(tmp_path: Path, handler: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shopdata.py").write_text("NAME = 'teapot'\n")
    (tmp_path / "shoppkg").mkdir()
    (tmp_path / "shoppkg" / "__init__.py").write_text("")
    (tmp_path / "shoppkg" / "names.py").write_text("from .data import NAME\n")
    (tmp_path / "shoppkg" / "data.py").write_text("NAME = 'teapot'\n")
    states = tmp_path / "states.py"
    states.write_text("from harness.contracts import provider_state\n" + handler)
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest() -> str:
        for name in ("shopdata", "shoppkg", "shoppkg.names", "shoppkg.data"):
            sys.modules.pop(name, None)  # a new run imports them afresh
        return states_digest([states], load_states([states]))

    first = digest()
    for data in (tmp_path / "shopdata.py", tmp_path / "shoppkg" / "data.py"):
        data.write_text("NAME = 'kettle'\n")
    assert digest() != first  # a handler's value changed: its verdict may change
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    second = digest()
    (tmp_path / "unrelated.py").write_text("X = 2\n")
    assert digest() != second  # a file of the states code's folder: a handler may read it (issue #25)


def result(verdict: str = "verified", **fields: object) -> PactResult:
    return PactResult(Path("/pacts/web-shop.json"), verdict, "web", "shop", "web", "shop", 1,  # type: ignore[arg-type]
                      [InteractionResult("items", verdict == "verified", 0.1, [], "items")], seconds=0.4,
                      labels=["items"], **fields)  # type: ignore[arg-type]


def test_a_verified_verdict_is_kept_and_given_back_for_the_pact_as_it_is_now(tmp_path: Path) -> None:
    (tmp_path / "moved.json").write_text(json.dumps(PACT))
    pact = read_pact(tmp_path / "moved.json")
    spec = TopologySpec(name="t", services={"shop": {"image": "redis:7"}, "web": {"image": "redis:7"}})
    cache = VerdictCache(tmp_path / "cache")
    assert cache.get("k1", pact, spec) is None
    cache.put("k1", result(), run="run1")
    found = cache.get("k1", pact, spec)
    assert found is not None and found.verdict == "verified" and found.path == pact.path
    assert found.cached_from and found.interactions == result().interactions and found.labels == ["items"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".pruned", "k1.json"]  # no temporary left


@pytest.mark.parametrize("verdict", ["failed", "error", "excluded"])
def test_only_verified_verdicts_are_kept(tmp_path: Path, verdict: str) -> None:
    cache = VerdictCache(tmp_path / "cache")
    cache.put("k1", result(verdict))
    assert not (tmp_path / "cache").exists()


def test_a_cached_verdict_is_not_kept_again_and_an_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(PACT))
    pact = read_pact(tmp_path / "p.json")
    spec = TopologySpec(name="t", services={"shop": {"image": "redis:7"}})
    cache = VerdictCache(tmp_path / "cache")
    cache.put("k1", result(cached_from="2026-12-06T09:40:00+00:00"))
    assert not (tmp_path / "cache").exists()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "k2.json").write_text("{not json")
    (tmp_path / "cache" / "k3.json").write_text(json.dumps({"key": "other", "verdict": "verified"}))
    (tmp_path / "cache" / "k4.json").write_text(json.dumps({"key": "k4", "verdict": "verified"}))  # fields missing
    assert [cache.get(k, pact, spec) for k in ("k2", "k3", "k4")] == [None, None, None]


def test_a_folder_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    VerdictCache(tmp_path / "file" / "cache").put("k1", result())  # no exception


def test_the_mounted_digest_follows_what_bind_mounts_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("ANSWER = 1\n")
    (tmp_path / "seed.sql").write_text("select 1;\n")
    (tmp_path / "topology.yaml").write_text(
        "name: t\nservices:\n  shop: {image: 'python:3.11-slim', mounts: ['src:/app']}\n"
        "  db: {image: 'postgres:15', mounts: [{source: seed.sql, target: /seed.sql, copy: true}]}\n")
    spec = load_topology(tmp_path / "topology.yaml")
    first = mounted_digest(spec)
    assert mounted_digest(spec) == first
    (tmp_path / "seed.sql").write_text("select 2;\n")  # copied: in the service's signature, not here
    assert mounted_digest(spec) == first
    (tmp_path / "src" / "app.py").write_text("ANSWER = 2\n")
    assert mounted_digest(spec) != first
