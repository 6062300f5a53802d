"""Where a secret's value is hidden in what the harness prints (model/secrets.py): a short value as a whole word
only, so names that contain it are neither mangled nor give it away; a long one wherever it occurs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.model.secrets import Masker, hidden, hider, interpolation_secrets
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


def test_a_password_equal_to_the_user_name_of_its_environment_is_not_hidden() -> None:
    """POSTGRES_USER = POSTGRES_PASSWORD = "postgres": the user name is printed by the tools themselves (a probe's
    `pg_isready -U postgres`, the server's log), so it is no secret; hiding it only mangled those lines."""
    mask = masker(POSTGRES_USER="postgres", POSTGRES_PASSWORD="postgres", POSTGRES_DB="shop")
    assert mask("pg_isready -U postgres -d shop") == "pg_isready -U postgres -d shop"
    assert mask("postgres://postgres:postgres@db/shop") == "postgres://postgres:[hidden]@db/shop"  # a URL's: always


@pytest.mark.parametrize("user", ["PGUSER", "MONGO_INITDB_ROOT_USERNAME", "RABBITMQ_DEFAULT_USER", "ADMIN_LOGIN",
                                  "DB_USER_NAME"])
def test_each_kind_of_user_name_variable_is_a_user_name(user: str) -> None:
    assert masker(**{user: "admin", "DB_PASSWORD": "admin"})("login admin") == "login admin"


def test_a_password_other_than_the_user_name_is_hidden_and_the_user_name_not() -> None:
    mask = masker(POSTGRES_USER="app", POSTGRES_PASSWORD="s3cret")
    assert mask("psql -U app -W s3cret") == "psql -U app -W [hidden]"


def test_a_secret_copied_under_another_name_than_a_user_names_stays_hidden() -> None:
    """Only a user name's variable makes a value public: a token copied into SIGNING or USER_PASSWORD (a secret's
    name wins over `USER`) is still a secret."""
    assert masker(API_TOKEN="s3cr3tValue42", SIGNING="s3cr3tValue42")("sig s3cr3tValue42") == "sig [hidden]"
    assert masker(USER_PASSWORD="hunter2", DB_PASSWORD="hunter2")("pw hunter2") == "pw [hidden]"


def test_a_user_name_of_another_environment_does_not_show_a_password() -> None:
    """The rule holds within one environment (a service's, the `.env`, this process's): the password of `db` equal
    to the user name `app` calls it by stays hidden (a service may well not print it)."""
    spec = TopologySpec.model_validate({"name": "shop", "services": {
        "db": {"image": "postgres:15", "environment": {"POSTGRES_PASSWORD": "postgres"}},
        "app": {"image": "x", "environment": {"DB_USER": "postgres"}}}})
    assert Masker(spec)("-U postgres") == "-U [hidden]"


def test_an_env_file_that_gives_the_password_as_the_user_name_hides_neither(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POSTGRES_USER=postgres\nPOSTGRES_PASSWORD=postgres\nREDIS_PASSWORD=r3dis-pw\n")
    assert interpolation_secrets(tmp_path / "compose.yaml") == {"r3dis-pw"}
