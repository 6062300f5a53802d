"""Every key of the Compose specification is honoured, ignored with a reason, or refused with Compose's behaviour
beside the reason: the three tables of harness.model.compose_keys against a copy of the specification's key list
(compose_spec_keys.yaml, which says where it comes from)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.model import compose_keys
from harness.model.compose_errors import COMPOSE_SERVICE_KEYS

SPEC_KEYS: dict[str, list[str]] = yaml.safe_load((Path(__file__).parent / "compose_spec_keys.yaml").read_text())


@pytest.mark.parametrize("kind", compose_keys.kinds())
def test_every_key_of_the_specification_is_in_one_table(kind: str) -> None:
    assert kind in SPEC_KEYS
    unlisted = sorted(set(SPEC_KEYS[kind]) - compose_keys.known(kind))
    assert unlisted == [], f"{kind} keys in none of the tables of harness/model/compose_keys.py: {unlisted}"


@pytest.mark.parametrize("kind", compose_keys.kinds())
def test_no_table_names_a_key_the_specification_does_not_have(kind: str) -> None:
    assert sorted(compose_keys.known(kind) - set(SPEC_KEYS[kind])) == []


@pytest.mark.parametrize("kind", compose_keys.kinds())
def test_a_key_is_in_one_table_only_with_a_reason(kind: str) -> None:
    tables = [set(compose_keys.HONOURED[kind]), set(compose_keys.IGNORED[kind]), set(compose_keys.REFUSED[kind])]
    assert [sorted(a & b) for a, b in ((tables[0], tables[1]), (tables[0], tables[2]), (tables[1], tables[2]))] == [
        [], [], []]
    assert all(how.strip() for how in compose_keys.HONOURED[kind].values())  # what Docker gets: "Cmd" will do
    assert all(len(reason) >= 10 for reason in compose_keys.IGNORED[kind].values())
    assert all(len(why) >= 10 and len(compose) >= 10 for why, compose in compose_keys.REFUSED[kind].values())


def test_every_kind_of_the_key_list_has_its_tables() -> None:
    assert sorted(SPEC_KEYS) == sorted(compose_keys.kinds())


def test_near_misses_are_suggested_from_every_service_key() -> None:
    assert set(SPEC_KEYS["service"]) <= set(COMPOSE_SERVICE_KEYS)


def test_a_refusal_says_why_and_what_compose_does() -> None:
    assert compose_keys.refusal("service", "provider") == (
        "a provider plugin runs outside Docker (by construction); Docker Compose: runs the provider's binary instead "
        "of a container")
