"""A topology is its resolved file (and name): two files in folders of the same name are two topologies, and a
running topology is reused only when it was started from the same spec and images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness import Topology, load_topology

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
WEB = """
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    environment: {FLAVOUR: FLAVOUR_VALUE}
    ports: [8000]
    ready: {http: {port: 8000, path: /}}
"""


def project(root: Path, flavour: str = "plain") -> Path:
    """root/<shared folder name>/topology.yaml: the default topology name is the shared folder's name."""
    folder = root / f"shared-{root.parent.name[-8:]}"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "topology.yaml"
    file.write_text(WEB.replace("FLAVOUR_VALUE", flavour))
    return file


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_files_in_folders_of_the_same_name_are_two_topologies(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    mine, theirs = project(tmp_path / "mine"), project(tmp_path / "theirs")
    name = load_topology(mine).name
    assert name == load_topology(theirs).name
    kept = Topology.start(load_topology(theirs), keep=True)
    try:
        assert Topology.attach(load_topology(mine)) is None
        assert harness("down", str(mine)).stdout.startswith("removed 0 container(s)")
        logs = harness("logs", "web", "--topology", str(mine))
        assert logs.returncode == 2 and f"no running service 'web' in topology {name}" in logs.stderr
        assert Topology.attach(load_topology(theirs)).run_id == kept.run_id
        ps = harness("ps", cwd=tmp_path).stdout
        assert kept.run_id in ps and "theirs/shared-" in ps
    finally:
        kept.close()
    assert harness_resources(docker_client, name) == []


def test_down_without_a_file_removes_only_topologies_under_the_current_folder(tmp_path: Path,
                                                                             docker_client) -> None:  # noqa: ANN001
    here, elsewhere = project(tmp_path / "here"), project(tmp_path / "elsewhere")
    name = load_topology(here).name
    other = Topology.start(load_topology(elsewhere), keep=True)
    try:
        Topology.start(load_topology(here), keep=True)
        down = harness("down", cwd=here.parent.parent)
        assert down.stdout.startswith("removed 1 container(s) of topology files under ")
        assert [run.run_id for run in _runs(docker_client, name)] == [other.run_id]
    finally:
        other.close()
    assert harness_resources(docker_client, name) == []


def _runs(client, name: str) -> list:  # noqa: ANN001
    from harness.runtime import labels as L

    return [run for run in L.find_runs(client) if run.topology == name]


def test_a_running_topology_of_an_older_file_is_not_attached_to_but_updated(tmp_path: Path,
                                                                       docker_client) -> None:  # noqa: ANN001
    file = project(tmp_path)
    kept = Topology.start(load_topology(file), keep=True)
    said: list[str] = []
    try:
        assert Topology.attach(load_topology(file)).run_id == kept.run_id
        file.write_text(WEB.replace("FLAVOUR_VALUE", "changed"))
        spec = load_topology(file)
        assert Topology.attach(spec, say=said.append) is None
        assert said == [f"the running topology {spec.name} (run {kept.run_id}) differs from what "
                        f"{spec.file} gives now (the file, or a variable it takes from the environment or .env): web "
                        "changed (environment)"]
        with Topology.reused_or_started(spec, say=said.append) as topology:
            assert topology.run_id == kept.run_id  # updated as `docker compose up` does: the changed service replaced
            assert topology["web"].container.id != kept["web"].container.id
            assert "FLAVOUR=changed" in topology["web"].exec(["env"]).output
        assert said[1:] == [f"the kept topology {spec.name} (run {kept.run_id}) differs from what "
                            f"{spec.file} gives now (the file, or a variable it takes from the environment or .env): "
                            "updating it as `docker compose up` does (only a service whose container "
                            "changed is replaced)", "  web changed (environment): replacing it",
                            f"updated topology {spec.name} (run {kept.run_id}): replaced web; it stays running"]
        assert [run.run_id for run in _runs(docker_client, spec.name)] == [topology.run_id]  # still kept
        assert Topology.attach(spec).run_id == topology.run_id
    finally:
        harness("down", str(file))
    assert harness_resources(docker_client, load_topology(file).name) == []


def test_a_running_topology_whose_copied_files_changed_is_not_used(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`copy: true` puts the file into the container at its start: a kept run has the old copy."""
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    (tmp_path / "seed.txt").write_text("one\n")
    file = tmp_path / "topology.yaml"
    file.write_text("name: identity-copy\nservices:\n  web:\n    image: python:3.11-slim\n"
                    "    command: [python, -m, http.server, '8000', --directory, /srv]\n    ports: [8000]\n"
                    "    mounts: [{source: seed.txt, target: /srv/seed.txt, copy: true}]\n    ready: {tcp: 8000}\n")
    kept = Topology.start(load_topology(file), keep=True)
    said: list[str] = []
    try:
        assert Topology.attach(load_topology(file)).run_id == kept.run_id  # unchanged: used
        (tmp_path / "seed.txt").write_text("two\n")
        assert Topology.attach(load_topology(file), say=said.append) is None
        assert said[0].endswith("web changed (copied files)")
    finally:
        kept.close()


def test_a_running_topology_whose_image_content_changed_is_not_used(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY page.html /srv/\nWORKDIR /srv\n'
                                    'CMD ["python", "-m", "http.server", "8000"]\n')
    (app / "page.html").write_text("v1\n")
    file = tmp_path / "topology.yaml"
    file.write_text("name: identity-image\nservices:\n  web:\n    build: ./app\n    ports: [8000]\n"
                    "    ready: {tcp: 8000}\n")
    kept = Topology.start(load_topology(file), keep=True)
    tags = {kept["web"].container.image.tags[0]}
    said: list[str] = []
    try:
        (app / "page.html").write_text("v2\n")
        assert Topology.attach(load_topology(file), say=said.append) is None
        assert said[0].endswith("web changed (image)")
    finally:
        kept.close()
        for tag in tags:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_another_sessions_own_run_is_never_used_by_attach(tmp_path: Path) -> None:
    """A pytest session's run is its own (its tests stop services, it removes the run at its end): `verify`, `fuzz`
    and `fault` attach only to a run of `harness up` (shared) or a kept one."""
    file = tmp_path / "topology.yaml"
    file.write_text("name: identity-private\nservices:\n  web:\n    image: python:3.11-slim\n"
                    "    command: [python, -m, http.server, '8000']\n    ready: {tcp: 8000}\n")
    with Topology.start(load_topology(file)):  # as `pytest --topology` starts it
        assert Topology.attach(load_topology(file)) is None
        with Topology.start(load_topology(file), shared=True) as offered:  # as `harness up` starts it
            assert Topology.attach(load_topology(file)).run_id == offered.run_id


def test_a_kept_run_whose_start_did_not_finish_is_waited_for_or_replaced(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """A session killed while starting a kept run leaves it without its `started` mark: the next one waits for every
    service's probe (as the start would have) and uses it, or starts a new run when one is not ready."""
    from harness.runtime import labels as L

    file = tmp_path / "topology.yaml"
    file.write_text("name: identity-unfinished\nservices:\n  web:\n    image: python:3.11-slim\n"
                    "    command: [sh, -c, 'mkdir -p /srv && touch /srv/ready && python -m http.server 8000 -d /srv']\n"
                    "    ports: [8000]\n    ready: {http: {port: 8000, path: /ready}}\n    timeout: 20\n")
    # (20 s: a start on a loaded machine is ready within it; the unready run below waits all of it)

    def unmark(run_id: str) -> None:
        for volume in docker_client.volumes.list(filters={"label": [f"{L.RUN}={run_id}", f"{L.STARTED}=true"]}):
            volume.remove()

    kept = Topology.start(load_topology(file), keep=True)
    try:
        assert L.started_fully(docker_client, kept.run_id)
        unmark(kept.run_id)
        said: list[str] = []
        again = Topology.kept_or_started(load_topology(file), say=said.append)
        assert again.run_id == kept.run_id and again.reused
        assert any("has no mark that its start finished" in line for line in said), said
        assert L.started_fully(docker_client, kept.run_id)  # marked now: the next session does not wait

        unmark(kept.run_id)
        kept["web"].exec(["rm", "/srv/ready"])  # its probe fails from now on
        said.clear()
        replaced = Topology.kept_or_started(load_topology(file), say=said.append)
        assert replaced.run_id != kept.run_id and not replaced.reused
        assert any("is not ready (service 'web' was not ready after" in line and line.endswith("restarting it")
                   for line in said), said
        assert [run.run_id for run in _runs(docker_client, "identity-unfinished")] == [replaced.run_id]
    finally:
        harness("down", str(file))
    assert harness_resources(docker_client, "identity-unfinished") == []
    assert docker_client.volumes.list(filters={"label": f"{L.TOPOLOGY}=identity-unfinished"}) == []


def test_a_service_a_killed_session_left_disconnected_is_reconnected_by_the_next(tmp_path: Path,
                                                                                docker_client) -> None:  # noqa: ANN001
    file = project(tmp_path)
    kept = Topology.start(load_topology(file), keep=True)
    try:
        kept["web"].disconnect()  # and the session is killed: nothing puts it back
        again = Topology.kept_or_started(load_topology(file))
        assert again.run_id == kept.run_id
        assert again.restore() == ["web was left disconnected from the network: reconnected it"]
        networks = docker_client.containers.get(kept["web"].container.id).attrs["NetworkSettings"]["Networks"]
        assert list(networks) == [kept.network]
    finally:
        kept.close()


def test_what_a_killed_session_left_is_said_as_what_it_may_be(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """A container killed from outside (a killed session's `.stop()`, or the OOM killer) is "stopped or killed", not
    "died"; a kept run missing a service and its started mark "did not finish its start", not "another version"."""
    from harness.runtime import labels as L

    file = project(tmp_path)
    kept = Topology.start(load_topology(file), keep=True)
    try:
        docker_client.containers.get(kept["web"].container.id).kill()  # SIGKILL: exit code 137
        again = Topology.kept_or_started(load_topology(file))
        notes = again.restore()
        assert len(notes) == 1 and notes[0].startswith("web was stopped or killed (exit code 137): started it again")

    finally:
        harness("down", str(file))
    two = tmp_path / "two.yaml"
    two.write_text("name: identity-two\nservices:\n  a: {image: redis:7, ports: [6379], ready: {tcp: 6379}}\n"
                   "  b: {image: redis:7, ports: [6379], ready: {tcp: 6379}}\n")
    kept = Topology.start(load_topology(two), keep=True)
    try:
        for volume in docker_client.volumes.list(filters={"label": [f"{L.RUN}={kept.run_id}", f"{L.STARTED}=true"]}):
            volume.remove()
        docker_client.containers.get(kept["b"].container.id).remove(force=True)  # as if never created
        said: list[str] = []
        replaced = Topology.kept_or_started(load_topology(two), say=said.append)
        assert replaced.run_id != kept.run_id
        assert any("did not finish its start" in line and "not running: b" in line for line in said), said
    finally:
        harness("down", str(two))
