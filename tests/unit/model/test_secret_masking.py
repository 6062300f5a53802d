"""Where a secret's value is hidden in what the harness prints (model/secrets.py): a short value as a whole word
only, so names that contain it are neither mangled nor give it away; a long one wherever it occurs."""

from __future__ import annotations

import pytest

from harness.model.secrets import Masker, hidden, hider
from harness.model.topology import TopologySpec


def masker(**environment: str) -> Masker:
    spec = TopologySpec.model_validate({"name": "shop", "services": {"db": {"image": "postgres:15",
                                                                              "environment": environment}}})
    return Masker(spec)


@pytest.mark.parametrize(("text", "expected"), [
    ("POSTGRES_PASSWORD=test", "POSTGRES_PASSWORD=[hidden]"),
    ("psql -U postgres --password test -h db", "psql -U postgres --password [hidden] -h db"),
    ('{"password": "test"}', '{"password": "[hidden]"}'),
    ("test", "[hidden]"),
    ("pytest-topology/app:latest", "pytest-topology/app:latest"),
    ("tests/test_shop.py::test_order", "tests/test_shop.py::test_order"),
    ("latest attest contest", "latest attest contest"),
])
def test_a_short_value_is_hidden_as_a_word_of_its_own_only(text: str, expected: str) -> None:
    assert masker(POSTGRES_PASSWORD="test")(text) == expected


def test_a_long_value_is_hidden_wherever_it_occurs() -> None:
    mask = masker(API_TOKEN="s3cr3tValue42")
    assert mask("Authorization: Bearer xs3cr3tValue42_y") == "Authorization: Bearer x[hidden]_y"


def test_a_value_that_begins_or_ends_with_a_symbol_is_bounded_only_on_its_word_side() -> None:
    pattern = hider(["p@ss!"])
    assert hidden("pw=p@ss!x and ap@ss!", pattern) == "pw=[hidden]x and ap@ss!"


def test_values_under_three_characters_are_left_as_they_are() -> None:
    assert masker(DB_PASSWORD="ab")("DB_PASSWORD=ab") == "DB_PASSWORD=ab"
    assert hider(["ab", ""]) is None


def test_the_longest_value_is_hidden_first_and_a_url_password_always() -> None:
    mask = masker(DB_PASSWORD="test", ADMIN_PASSWORD="test-admin")
    assert mask("test-admin test postgres://app:pw@db/x") == "[hidden] [hidden] postgres://app:[hidden]@db/x"


def test_the_auth_of_every_service_is_hidden_not_only_the_last_ones() -> None:
    spec = TopologySpec.model_validate({"name": "shop", "services": {
        "a": {"image": "x", "auth": {"headers": {"X-Api-Key": "first-key-1234"}}},
        "b": {"image": "x"}}})
    assert Masker(spec)("key first-key-1234") == "key [hidden]"
