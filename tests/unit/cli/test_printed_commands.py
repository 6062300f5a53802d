"""The commands messages tell a user to run carry what selected the engine (DOCKER_HOST, DOCKER_CONTEXT,
DOCKER_CONFIG): pasted in another shell they act on the same engine, never on the machine's main one (issue #27).
Fake home and Docker config folders; no engine needed."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from harness.hints import down_command, engine_selection, with_engine
from harness.options.resolve import TopologyOptions

VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _context(config: Path, name: str, host: str) -> None:
    """What `docker context create NAME --docker host=HOST` writes."""
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_the_default_engine_needs_nothing_before_the_command() -> None:
    assert engine_selection() == ""
    assert with_engine("harness down --run 3cff4bc9b6") == "harness down --run 3cff4bc9b6"


def test_docker_host_and_its_tls_variables_precede_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.7:2376")
    assert with_engine("harness down --run 3cff4bc9b6") == "DOCKER_HOST=tcp://10.0.0.7:2376 harness down --run 3cff4bc9b6"
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs/my engine")
    assert with_engine("harness down --all") == (
        "DOCKER_HOST=tcp://10.0.0.7:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH='/certs/my engine' harness down --all")


def test_a_context_chosen_by_a_variable_is_named_one_in_the_config_file_is_not(home: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / ".docker"
    _context(config, "far", "tcp://10.0.0.8:2375")
    monkeypatch.setenv("DOCKER_CONTEXT", "far")
    assert with_engine("harness ps") == "DOCKER_CONTEXT=far harness ps"
    monkeypatch.delenv("DOCKER_CONTEXT")
    (config / "config.json").write_text(json.dumps({"currentContext": "far"}))
    assert with_engine("harness ps") == "harness ps"  # another shell of this user reads the same file
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    assert with_engine("harness ps") == f"DOCKER_CONFIG={config} harness ps"


def test_a_context_that_does_not_exist_leaves_the_command_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    assert with_engine("harness ps") == "harness ps"  # the command, run, says the context does not exist


def test_down_and_topology_commands_name_the_files_and_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.7:2375")
    assert down_command("/x/a.yml,/x/my b.yml") == (
        "DOCKER_HOST=tcp://10.0.0.7:2375 harness down --topology /x/a.yml --topology '/x/my b.yml'")
    assert TopologyOptions((Path("t.yaml"),)).command("harness down") == (
        "DOCKER_HOST=tcp://10.0.0.7:2375 harness down --topology t.yaml")


def test_harness_ps_says_the_remove_command_with_the_engine_and_what_is_not_known(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli.topologies import _run_state
    from harness.runtime import labels as L

    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.7:2375")
    gone = f"{socket.gethostname()}:{os.getpid()}:not-its-start-time"
    remove = "remove it: DOCKER_HOST=tcp://10.0.0.7:2375 harness down --run 3cff4bc9b6"
    dead = ["engine 'two' (tcp://10.0.0.9:2375)"]

    def run(kept: bool = False, started: bool = False) -> L.Run:
        return L.Run("3cff4bc9b6", "shop", "/x/topology.yaml", kept, gone, started=started)

    assert _run_state(run()) == f"orphaned: owner process {os.getpid()} is gone, its start never finished; {remove}"
    # the mark of a finished start may be on the engine that does not answer: not said to be unfinished
    assert _run_state(run(), dead) == (
        f"orphaned: owner process {os.getpid()} is gone; engine 'two' (tcp://10.0.0.9:2375) does not answer "
        f"(whether its start finished is not known); {remove}")
    assert _run_state(run(started=True), dead) == f"orphaned: owner process {os.getpid()} is gone; {remove}"
    assert _run_state(run(kept=True), [*dead, "engine 'three' (tcp://10.0.0.10:2375)"]) == (
        f"kept: owner process {os.getpid()} is gone; engine 'two' (tcp://10.0.0.9:2375), engine 'three' "
        f"(tcp://10.0.0.10:2375) do not answer (whether its start finished is not known); {remove}")


def test_a_command_for_another_engine_names_that_engine(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """`harness ps` found a run on an engine other than this shell's: its command selects that engine, whatever this
    shell selects (a URL by DOCKER_HOST; a context by name, DOCKER_HOST emptied since it would win over it)."""
    from harness.hints import on_engine

    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.7:2375")
    assert on_engine("harness down --run R", "tcp://10.0.0.11:2375") == (
        "DOCKER_HOST=tcp://10.0.0.11:2375 harness down --run R")
    assert on_engine("harness down --run R", "ci box") == "DOCKER_HOST= DOCKER_CONTEXT='ci box' harness down --run R"
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(home / "docker"))
    assert on_engine("harness down --run R", "big") == (
        f"DOCKER_CONFIG={home / 'docker'} DOCKER_CONTEXT=big harness down --run R")
