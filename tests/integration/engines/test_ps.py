"""`harness ps` lists the runs of every engine it can know of (issue #27): this machine's engine, the engines of the
topology file it is given, and those the runs found there name; each service with its engine, and its ports on that
engine's host. Against the three engines of conftest.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.engines.test_across_engines import NAME, across, clients, harness, harness_on, left

SOLO = """name: solo
services:
  solo:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {http: {port: 8000, path: /}}
"""


def ps_rows(result: subprocess.CompletedProcess[str], topology: str) -> dict[str, list[str]]:
    """The rows of `topology` in `harness ps`'s output (a pipe: columns apart by 3 spaces or more), by service."""
    assert result.returncode == 0, result.stderr
    header, *lines = [re.split(" {3,}", line.strip()) for line in result.stdout.splitlines()]
    assert header == ["topology", "run", "service", "engine", "status", "ports (container -> host:port)", "kept",
                      "file", "run state"]
    return {cells[2]: cells for cells in lines if cells[0] == topology}


def test_harness_ps_lists_the_runs_of_every_engine_it_knows_of(swarm: Any, tmp_path: Path) -> None:  # noqa: ANN401
    file = across(tmp_path, swarm.urls)  # backend on e0, front on e1, cache on e2
    (tmp_path / "solo").mkdir()
    solo = tmp_path / "solo" / "topology.yaml"
    solo.write_text(SOLO)
    engines = clients(swarm)
    try:
        up = harness("up", "--detach", str(file))  # from this machine, whose engine runs none of it
        assert up.returncode == 0, up.stderr
        up = harness_on(swarm.urls[0], "up", "--detach", str(solo))  # on e0 alone (its image is there: backend's)
        assert up.returncode == 0, up.stderr

        # given the file: its engines are asked (DOCKER_HOST names none of them), and the run on e0 alone is found
        ps = subprocess.run([str(Path(sys.executable).parent / "harness"), "ps", "--topology", str(file)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "250"})
        rows = ps_rows(ps, NAME)
        assert {service: cells[3] for service, cells in rows.items()} == {"backend": "e0", "cache": "e2",
                                                                          "front": "e1"}
        hosts = {service: cells[5].split(" -> ")[1].rsplit(":", 1)[0] for service, cells in rows.items()}
        assert hosts == {"backend": swarm.addresses[0], "cache": swarm.addresses[2], "front": swarm.addresses[1]}
        assert ps_rows(ps, "solo") == {}  # another file's run: `ps FILE` lists that file's project, as Compose's

        # no file: from e2, a worker of the run across engines, the engines its label names are asked too
        ps = harness_on(swarm.urls[2], "ps")
        assert {service: cells[3] for service, cells in ps_rows(ps, NAME).items()} == {
            "backend": "e0", "cache": "e2", "front": "e1"}
        (solo_row,) = ps_rows(ps, "solo").values()
        assert solo_row[3] == swarm.urls[0]  # a run on one engine, not this machine's: its address
        assert solo_row[5].startswith(f"8000 -> {swarm.addresses[0]}:")
        assert solo_row[8] == "started, kept"
    finally:
        down = harness("down", str(file))
        down_solo = harness_on(swarm.urls[0], "down", str(solo))
    assert down.returncode == 0, down.stderr
    assert down_solo.returncode == 0, down_solo.stderr
    assert [left(engine, file) for engine in engines] == [[], [], []]


def test_a_run_found_on_another_engine_is_removed_by_a_command_that_names_it(swarm: Any,  # noqa: ANN401
                                                                              tmp_path: Path) -> None:
    """An orphaned run (its owner SIGKILLed) that `harness ps` finds only through the file's engines: the command it
    says carries the DOCKER_HOST of the engine it was found on, and removes it when pasted as said."""
    from tests.integration.engines.test_across_engines import killed_run

    file = across(tmp_path, swarm.urls)
    engines = clients(swarm)
    run = killed_run(file, engines[0])
    ps = subprocess.run([str(Path(sys.executable).parent / "harness"), "ps", "--topology", str(file)],
                        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "250"})
    states = {cells[8] for cells in ps_rows(ps, NAME).values() if cells[1] == run}
    assert len(states) == 1, ps.stdout
    state = states.pop()
    said = re.search(r"remove it: (DOCKER_HOST=(\S+) harness down --run (\w+))$", state)
    assert said is not None and said[2] in swarm.urls and said[3] == run, state
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # `harness` as a user's shell finds it
    down = subprocess.run(said[1], shell=True, capture_output=True, text=True, timeout=300,  # noqa: S602 - as said
                          env={**os.environ, "PATH": path})
    assert down.returncode == 0, down.stderr
    assert f"removed 3 container(s) of run {run}" in down.stdout
    assert [left(engine, file) for engine in engines] == [[], [], []]
