"""Errors about a topology file name the keys of an environment, auth or build args, never their values."""

from __future__ import annotations

import pytest

SECRET = "s3cr3t-Value-42"


@pytest.mark.parametrize(("service", "expected"), [
    # compose habit: the environment as a list
    (f"    environment:\n      - POSTGRES_PASSWORD={SECRET}\n      - PLAIN\n",
     "services.db.environment: must be a mapping of keys (found ['POSTGRES_PASSWORD=...', ...])"),
    # a value that is a mapping (Compose refuses it; it was turned into its Python text)
    (f"    environment:\n      DB_PASSWORD: {{nested: {SECRET}}}\n",
     "services.db.environment.DB_PASSWORD: Input should be a valid string (found {'nested': ...})"),
    # build args as a list
    (f"    build: {{context: ., args: [TOKEN={SECRET}]}}\n",
     "services.db.build.args: must be a mapping of keys (found ['TOKEN=...'])"),
    # the environment as one string
    (f"    environment: API_KEY={SECRET}\n",
     "services.db.environment: must be a mapping of keys (found 'API_KEY=...')"),
    # a fixed auth header as a list
    (f"    auth:\n      headers: [X-Api-Key, {SECRET}]\n",
     "services.db.auth.headers: must be a mapping of keys (found [..., ...])"),
    # a malformed hook holding a token
    (f"    auth:\n      hook: {SECRET}\n",
     "services.db.auth.hook: String should match pattern"),
    # a typo next to a client secret
    (f"    auth:\n      client_credentials: {{token_service: t, client_id: c, client_secret: {SECRET}, aud: x}}\n",
     "services.db.auth.client_credentials.aud: unknown key 'aud'"),
    # a client secret that is not a string
    (f"    auth:\n      client_credentials: {{token_service: t, client_id: c, client_secret: [{SECRET}]}}\n",
     "services.db.auth.client_credentials.client_secret: Input should be a valid string (found [...])"),
])
def test_an_error_near_a_secret_names_the_keys_only(load_error, service: str, expected: str) -> None:  # noqa: ANN001
    message = load_error("services:\n  db:\n    image: postgres:15\n" + service)
    assert expected in message
    assert SECRET not in message


def test_values_elsewhere_are_still_shown(load_error) -> None:  # noqa: ANN001
    message = load_error("services:\n  db:\n    image: postgres:15\n    timeout: soon\n")
    assert "services.db.timeout: Input should be a valid number, unable to parse string as a number (found 'soon')" \
        in message


def test_the_masker_and_the_page_hide_env_file_and_auth_values_and_leave_the_rest(tmp_path) -> None:  # noqa: ANN001
    from harness import load_topology
    from harness.errors import ServiceNotReady
    from harness.model.secrets import Masker
    from harness.report.page import Scrubber

    (tmp_path / "secrets.env").write_text("API_TOKEN=tok-from-the-file\nLOG_LEVEL=debug-verbose\n")
    (tmp_path / "topology.yaml").write_text(
        "services:\n  web:\n    image: x\n    env_file: [secrets.env]\n"
        f"    environment: {{DB_PASSWORD: {SECRET}, PORT: '8000'}}\n"
        "    auth: {headers: {Authorization: Bearer abc.def.ghi}}\n")
    spec = load_topology(tmp_path / "topology.yaml")
    text = f"password {SECRET} token tok-from-the-file bearer abc.def.ghi level debug-verbose port 8000"
    assert Masker(spec)(text) == ("password [hidden] token [hidden] bearer [hidden] level debug-verbose "
                                  "port 8000")
    assert "tok-from-the-file" not in Scrubber(spec)(text)  # the page: env_file values too
    error = ServiceNotReady(f"probe `redis-cli -a {SECRET}` never passed", hint=f"try {SECRET}", service="web")
    masked = Masker(spec).error(error)
    assert masked is error and SECRET not in str(error) and SECRET not in error.message + str(error.hint)


def test_an_env_file_line_that_cannot_be_read_is_named_by_number_not_content(tmp_path) -> None:  # noqa: ANN001
    from harness import load_topology
    from harness.errors import TopologyFileError

    (tmp_path / "secrets.env").write_text(f"API_TOKEN=fine\nDB PASSWORD={SECRET}\nKEY=\"{SECRET}\n")
    (tmp_path / "topology.yaml").write_text("services:\n  web:\n    image: x\n    env_file: [secrets.env]\n")
    with pytest.raises(TopologyFileError) as raised:
        load_topology(tmp_path / "topology.yaml")
    assert "topology.yaml:4: services.web.env_file[0]: env_file 'secrets.env': line(s) 2, 3 are not KEY=VALUE" \
        in str(raised.value)
    assert SECRET not in str(raised.value)


def test_short_pw_names_and_url_passwords_are_hidden_and_plain_values_are_not(tmp_path) -> None:  # noqa: ANN001
    from harness import load_topology
    from harness.model.secrets import Masker

    (tmp_path / "topology.yaml").write_text(
        "services:\n  web:\n    image: x\n    environment: {DB_PW: shortname-pw-555, PORT: '8000', "
        "DATABASE_URL: 'postgres://app:url-embedded-pw@db:5432/app'}\n")
    masked = Masker(load_topology(tmp_path / "topology.yaml"))(
        "pw shortname-pw-555 url postgres://app:url-embedded-pw@db:5432/app port 8000 http://web:8000/x")
    assert masked == "pw [hidden] url postgres://app:[hidden]@db:5432/app port 8000 http://web:8000/x"


def test_this_process_s_secret_variables_are_hidden_but_not_its_working_folder(monkeypatch) -> None:  # noqa: ANN001
    from harness.model.secrets import Masker

    monkeypatch.setenv("GITHUB_TOKEN", "ghp-from-the-ci-runner")
    monkeypatch.setenv("PWD", "/home/dev/project")
    monkeypatch.setenv("KEYCLOAK_URL", "http://keycloak:8080")
    masked = Masker()("token ghp-from-the-ci-runner in /home/dev/project/topology.yaml via http://keycloak:8080")
    assert masked == "token [hidden] in /home/dev/project/topology.yaml via http://keycloak:8080"
