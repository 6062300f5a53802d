"""The commands a message tells its reader to run (`harness down --run R`, `harness down --topology FILE`), written
as they must be typed in another shell: with what selected this process's engine when a variable of this shell
selected it (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG's current context). Pasted without it, a command would act on
another engine: `harness down --run R` finds no such run, and `harness down --all` would remove every kept run of the
machine's main engine (other people's)."""

from __future__ import annotations

import os
import shlex

from harness.engine_source import resolve_engine


def engine_selection() -> str:
    """`DOCKER_HOST=tcp://h:2375` (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH when set), `DOCKER_CONTEXT=NAME` or
    `DOCKER_CONFIG=DIR`: the variables of this shell that chose the engine; '' when none did (the default socket,
    ~/.testcontainers.properties, ~/.docker/config.json: another shell of this user chooses the same). Never connects;
    an unreadable context is left to the command itself to report."""
    try:
        engine = resolve_engine()
    except Exception:  # noqa: BLE001 - a hint never fails: the command, run, says what is wrong
        engine = None
    if engine is not None and engine.source == "DOCKER_HOST":
        names: tuple[str, ...] = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
    elif engine is not None and engine.source.endswith("from DOCKER_CONTEXT"):
        names = ("DOCKER_CONFIG", "DOCKER_CONTEXT")
    elif engine is not None and engine.context is not None and os.environ.get("DOCKER_CONFIG"):
        names = ("DOCKER_CONFIG",)  # the current context of $DOCKER_CONFIG/config.json
    else:
        return ""
    return " ".join(f"{name}={shlex.quote(os.environ[name])}" for name in names if os.environ.get(name))


def with_engine(command: str) -> str:
    """`command` (`harness down --run R`) preceded by `engine_selection()` when there is one."""
    selection = engine_selection()
    return f"{selection} {command}" if selection else command


def down_command(files: str, project: str | None = None) -> str:
    """`harness down [-p PROJECT] --topology A --topology B` of a run's files (`A,B`, as its label writes them), with
    the engine; `project`: the name it was started under when given (`-p`), as `docker compose -p NAME down`."""
    return with_engine(" ".join(["harness down", *([f"-p {project}"] if project else []),
                                 *(f"--topology {shlex.quote(file)}" for file in files.split(","))]))


def on_engine(command: str, host: str) -> str:
    """`command` preceded by what selects the engine `host` (as `engines:` writes it: a DOCKER_HOST-style URL, or a
    Docker context's name, with this shell's DOCKER_CONFIG when set): for an engine other than this process's."""
    if "://" in host:
        return f"DOCKER_HOST={shlex.quote(host)} {command}"
    config = os.environ.get("DOCKER_CONFIG")
    unset = "DOCKER_HOST= " if os.environ.get("DOCKER_HOST") else ""  # it would win over the context
    return (f"{unset}{f'DOCKER_CONFIG={shlex.quote(config)} ' if config else ''}DOCKER_CONTEXT={shlex.quote(host)} "
            f"{command}")

