"""The secrets of a topology, to keep them out of what the harness prints: error messages, start progress, JUnit and
the service log sections of pytest reports show `[hidden]` in their place.

A secret is a value (3 characters or more) of an environment variable whose name looks secret (PASSWORD, SECRET,
TOKEN, KEY, PW, ...; from `environment:`, `env_file:`, a compose file's `.env` and this process's environment),
what a service's `auth:` sends, and the password of a URL (`postgres://app:<password>@db`). A compose file's
interpolation puts such values elsewhere too (a probe command `redis-cli -a ${REDIS_PASSWORD}`): they are caught
there by value. A value is hidden where it stands as a word of its own; one of 8 characters or more wherever it
occurs (`hider`). A value the same environment also gives as a user name (POSTGRES_USER = POSTGRES_PASSWORD) is not
hidden: the user name is no secret, and tools print it themselves. The report page hides more (every long
environment value: report/page.py's Scrubber).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness.model.service import ServiceSpec
from harness.model.topology import TopologySpec

SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "PRIVATE")  # anywhere in a name
SECRET_PARTS = frozenset({"PASS", "PW", "PWD", "KEY", "AUTH"})  # as a part between `_`, `-` or `.`: DB_PW, API_KEY
NOT_SECRET = frozenset({"PWD", "OLDPWD"})  # the shell's working folders
USER_PARTS = frozenset({"USER", "USERNAME", "LOGIN"})  # a user name's variable: POSTGRES_USER, USER_NAME
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@\s/]+)(@)", re.IGNORECASE)  # scheme://user:pw@
HIDDEN = "[hidden]"
SHORTEST = 3  # shorter values ("1", "no") cannot be hidden without hiding ordinary text: left as they are
ANYWHERE = 8  # values this long are hidden wherever they occur; shorter ones only as a whole word (see `hider`)


def hider(values: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching every value of `values` (3 characters or more) where it is to be hidden: a value of
    ANYWHERE characters or more wherever it occurs (inside a longer string too, as a token in a JSON blob); a shorter
    one only as a whole word, not touching a letter, digit or `_` on a side where it begins or ends with one, so
    `POSTGRES_PASSWORD=test` hides `password test` and `-e PW=test` but not `pytest`, `tests/` or `test_shop.py`
    (which would mangle them and tell the value). None when there is nothing to hide."""
    alternatives = []
    for value in sorted({v for v in values if v and len(v) >= SHORTEST}, key=len, reverse=True):
        escaped = re.escape(value)
        if len(value) < ANYWHERE:
            escaped = ((r"(?<!\w)" if re.match(r"\w", value[0]) else "") + escaped
                       + (r"(?!\w)" if re.match(r"\w", value[-1]) else ""))
        alternatives.append(escaped)
    return re.compile("|".join(alternatives)) if alternatives else None


def hidden(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` with every match of `pattern` (a `hider`) replaced by `[hidden]`."""
    return pattern.sub(HIDDEN, text) if pattern is not None else text


def interpolation_secrets(file: Path, env_file: Path | None = None) -> set[str]:
    """The secrets among a compose file's interpolation variables: `env_file` (`--env-file`), else `.env` beside
    `file`; an unreadable file adds nothing."""
    from dotenv import dotenv_values  # the .env format as Compose reads it

    dotenv = env_file or file.parent / ".env"
    try:
        return secret_values(dotenv_values(dotenv)) if dotenv.is_file() else set()
    except OSError:
        return set()


def environment_of(spec: TopologySpec, service: ServiceSpec) -> dict[str, str]:
    """What the service's container gets (env_file, then environment); `environment:` alone when an env file cannot
    be read (its own error says so)."""
    try:
        return service.full_environment(spec.base_dir)
    except Exception:  # noqa: BLE001 - any reason an env file is unreadable
        return dict(service.environment)


def without_url_passwords(text: str) -> str:
    """`scheme://user:<password>@host` with the password hidden."""
    return URL_PASSWORD.sub(lambda match: match[1] + HIDDEN + match[3], text)


def _secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a secret: DB_PASSWORD, API_KEY, GITHUB_TOKEN, MYSQL_PWD, DB_PW
    (not PWD, KEYCLOAK_URL)."""
    upper = name.upper()
    if upper in NOT_SECRET:
        return False
    return any(word in upper for word in SECRET_WORDS) or bool(SECRET_PARTS & set(re.split(r"[_.-]", upper)))


def _user_name(name: str) -> bool:
    """Whether a variable's name says its value is a user name: POSTGRES_USER, PGUSER, MONGO_INITDB_ROOT_USERNAME,
    RABBITMQ_DEFAULT_USER, ADMIN_LOGIN (not USER_PASSWORD: a secret's name wins)."""
    upper = name.upper()
    return not _secret_name(name) and (upper.endswith(("USER", "USERNAME", "LOGIN"))
                                       or bool(USER_PARTS & set(re.split(r"[_.-]", upper))))


def secret_values(variables: Mapping[str, str | None]) -> set[str]:
    """The values of the secret-looking names among `variables` (an environment, a compose `.env`), but for one that
    `variables` also gives as a user name (POSTGRES_USER = POSTGRES_PASSWORD = "postgres"): a user name is printed
    by the tools themselves (`pg_isready -U postgres`, a server's log), so hiding it hides nothing and mangles the
    text. A copy under any other name (a URL, a token) stays hidden."""
    users = {value for name, value in variables.items() if value and _user_name(name)}
    return {value for name, value in variables.items()
            if value and len(value) >= SHORTEST and _secret_name(name) and value not in users}


class Masker:
    """`Masker(spec)(text)`: `text` with every secret of `spec` replaced by `[hidden]`. An env file that cannot be
    read adds nothing (the start reports it)."""

    def __init__(self, spec: TopologySpec | None = None, extra: Iterable[str] = ()) -> None:
        values = set(extra) | secret_values(os.environ)  # a CI token the shell passes on, too
        if spec is not None:
            values |= spec.interpolation_secrets  # a compose file's `.env`: `${VAR}` puts them anywhere
            for service in spec.services.values():
                values |= secret_values(environment_of(spec, service))
                values |= {text for file in service.files if file.secret
                           for text in (file.content, file.content.strip())}
                if service.auth is not None:  # every service's (not only the last one's)
                    if service.auth.client_credentials is not None:
                        values.add(service.auth.client_credentials.client_secret)
                    for value in (service.auth.headers or {}).values():
                        values.add(value)
                        values.update(part for part in value.split()[1:] if len(part) >= SHORTEST)  # the token
        self.values = sorted((v for v in values if v and len(v) >= SHORTEST), key=len, reverse=True)
        self._pattern = hider(self.values)

    def add(self, values: Iterable[str]) -> None:
        """Hide `values` too (secrets the start makes, e.g. registry credentials given to a container)."""
        self.values = sorted({*self.values, *(v for v in values if v and len(v) >= SHORTEST)}, key=len, reverse=True)
        self._pattern = hider(self.values)

    def __call__(self, text: str) -> str:
        return without_url_passwords(hidden(text, self._pattern))

    def error(self, error: BaseException) -> BaseException:
        """`error` with its message (and `message`/`hint` fields) masked, in place; returned for `raise`."""
        error.args = tuple(self(arg) if isinstance(arg, str) else arg for arg in error.args)
        for field in ("message", "hint"):
            if isinstance(getattr(error, field, None), str):
                setattr(error, field, self(getattr(error, field)))
        return error
