"""Compose's lifecycle hooks against the real engine, with Docker Compose itself as the oracle: `post_start` at each
start, `pre_stop` before each stop (stop, restart, down), both writing into a bind-mounted folder under each tool."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import HookFailed
from harness.runtime import hooks
from harness.runtime import labels as L

from ..conftest import harness_resources

HOOKS = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    volumes: ["./events:/events"]
    post_start:
      - command: ["sh", "-c", "echo start >> /events/log"]
        user: "999"
    pre_stop:
      - command: ["sh", "-c", "echo stop $$GREETING $$(id -u) $$(pwd) >> /events/log"]
        user: "999"
        working_dir: /data
        environment: {{GREETING: bye}}
"""


def compose(file: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    done = subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 or not check, done.stderr
    return done


def hooked(folder: Path, text: str) -> Path:
    """A compose file in `folder` with an `events` folder anyone may write to (the hooks run as user 999)."""
    (folder / "events").mkdir(mode=0o777)
    (folder / "events").chmod(0o777)
    file = folder / "compose.yaml"
    file.write_text(textwrap.dedent(text).lstrip())
    return file


def events(folder: Path) -> list[str]:
    log = folder / "events" / "log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_hooks_run_at_each_start_and_stop_as_docker_compose_runs_them(tmp_path: Path,
                                                                      docker_client: docker.DockerClient) -> None:
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, HOOKS.format(name=name))
    try:
        compose(file, "up", "-d", "--wait")
        compose(file, "restart")
        compose(file, "stop")
        compose(file, "start")
    finally:
        compose(file, "down", "-v", "--timeout", "0")
    by_compose = events(tmp_path)
    assert by_compose == ["start", "stop bye 999 /data", "start", "stop bye 999 /data", "start",
                          "stop bye 999 /data"]

    with Topology.start(load_topology(file)) as topology:
        topology["app"].restart()
        topology["app"].stop()
        topology["app"].start()
    assert events(tmp_path) == by_compose
    assert harness_resources(docker_client, name) == []


def test_a_killed_service_restored_reruns_post_start_and_no_pre_stop(tmp_path: Path,
                                                                    docker_client: docker.DockerClient) -> None:
    """A kill is no stop (`docker compose kill` runs no hook); its start again by `restore` is a start."""
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, HOOKS.format(name=name))
    with Topology.start(load_topology(file)) as topology:
        topology["app"].kill()
        notes = topology.restore()
        assert notes[0].startswith("app was left killed (.kill('SIGKILL')): started it again")
        assert events(tmp_path) == ["start", "start"]
    assert events(tmp_path) == ["stop bye 999 /data"]
    assert harness_resources(docker_client, name) == []


FAILING = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    pre_stop:
      - command: ["sh", "-c", "echo cannot; exit 4"]
  other:
    image: redis:7
    command: ["sleep", "infinity"]
"""


def test_a_failing_pre_stop_hook_fails_stop_as_compose_and_teardown_removes_everything(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"badstop-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, FAILING.format(name=name))
    project = {"label": f"com.docker.compose.project={name}"}
    try:  # Compose: `stop` and `down` fail, and leave the container running
        compose(file, "up", "-d", "--wait")
        stop = compose(file, "stop", "app", check=False)
        assert stop.returncode == 1 and "app hook exited with status 4" in stop.stderr, stop.stderr
        down = compose(file, "down", "--timeout", "0", check=False)
        assert down.returncode == 1 and "app hook exited with status 4" in down.stderr, down.stderr
        assert [c.status for c in docker_client.containers.list(all=True, filters=project)] == ["running"]
    finally:
        for container in docker_client.containers.list(all=True, filters=project):
            container.remove(force=True)
        compose(file, "down", "-v", "--timeout", "0")

    topology = Topology.start(load_topology(file))
    try:
        with pytest.raises(HookFailed) as raised:
            topology["app"].stop()
        assert str(raised.value) == ("service 'app': its pre_stop hook ['sh', '-c', 'echo cannot; exit 4'] exited "
                                     "with 4:\ncannot\nDocker Compose stops with an error too (the container "
                                     "stays running under it); fix the hook, or give the service a longer "
                                     "stop_grace_period.")
        assert topology["app"].status == "running"  # as under Compose
    finally:
        with pytest.raises(HookFailed) as raised:
            topology.close()
    assert (raised.value.service, raised.value.hook, raised.value.container_exit) == ("app", "pre_stop", 4)
    assert harness_resources(docker_client, name) == []


def test_a_pre_stop_hook_that_does_not_end_is_given_stop_grace_period(tmp_path: Path,
                                                                      docker_client: docker.DockerClient) -> None:
    name = f"slowstop-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, f"""
        name: {name}
        services:
          app:
            image: redis:7
            command: ["sleep", "infinity"]
            stop_grace_period: 1s
            pre_stop:
              - command: ["sleep", "600"]
    """)
    spec = load_topology(file)
    assert spec.services["app"].stop_grace_period == 1.0
    topology = Topology.start(spec)
    began = time.monotonic()
    with pytest.raises(HookFailed) as raised:
        topology.close()
    assert time.monotonic() - began < 300  # ended by its bound, not by the hook (600 s)
    assert str(raised.value).startswith("service 'app': its pre_stop hook ['sleep', '600'] did not end within 1 s "
                                        "(its stop_grace_period, else Docker Compose's default of 10 s)\n")
    assert raised.value.container_exit is None
    assert harness_resources(docker_client, name) == []


def test_harness_down_runs_the_pre_stop_hooks_of_a_kept_run(tmp_path: Path,
                                                            docker_client: docker.DockerClient) -> None:
    name = f"downhooks-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, HOOKS.format(name=name))
    harness = str(Path(sys.executable).parent / "harness")
    try:
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stderr
        assert events(tmp_path) == ["start"]
        down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=300)
        assert down.returncode == 0 and "removed 1 container(s)" in down.stdout, down.stdout + down.stderr
        assert events(tmp_path) == ["stop bye 999 /data"]

        file.write_text(FAILING.format(name=name))  # the hooks of the file as it is now, as `docker compose down`
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stderr
        down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=300)
        assert down.returncode == 1, down.stdout + down.stderr
        assert "removed 2 container(s)" in down.stdout
        assert "service 'app': its pre_stop hook ['sh', '-c', 'echo cannot; exit 4'] exited with 4" in down.stderr
        assert "Traceback" not in down.stderr
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name) == []


INTERRUPTED = """
name: {name}
services:
  app:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    post_start:  # the second run of the hook (the restart below) hangs until its container stops
      - command: ["sh", "-c", "n=$$(( $$(cat /tmp/n 2>/dev/null || echo 0) + 1 )); echo $$n > /tmp/n;
                   [ $$n -ne 2 ] || sleep 600; echo $$n >> /tmp/done"]
"""
RESTART = """
import sys
from harness import Topology, load_topology
Topology.kept_or_started(load_topology(sys.argv[1]))["app"].restart()
"""


def counted(container: docker.models.containers.Container) -> bytes:
    """What the hook counted so far; b"" while the container is not running (between the restart's stop and start)."""
    try:
        return bytes(container.exec_run(["cat", "/tmp/n"]).output)
    except docker.errors.APIError:
        return b""


def test_a_restart_interrupted_during_post_start_is_finished_by_the_next_use_of_the_kept_run(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """Ctrl-C while `restart()` runs a post_start hook: the container runs, its hook never completed. The next use of
    the kept run (`harness up --detach`) restarts it, so that the hook runs again, and says so; it no longer takes
    the service as it is."""
    name = f"hookint-{uuid.uuid4().hex[:8]}"
    file = hooked(tmp_path, INTERRUPTED.format(name=name))
    harness = str(Path(sys.executable).parent / "harness")
    try:
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stdout + up.stderr
        run = L.find_runs(docker_client, file.resolve())[0]
        app = docker_client.containers.get(run.containers[0].id)
        restarting = subprocess.Popen([sys.executable, "-c", RESTART, str(file)], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while counted(app) != b"2\n":  # its hook runs (the second time) and hangs
            assert restarting.poll() is None and time.monotonic() < deadline, restarting.communicate()[0]
            time.sleep(0.2)
        restarting.send_signal(signal.SIGINT)
        restarting.communicate(timeout=120)
        assert len(hooks.unfinished(docker_client, run.run_id)) == 1

        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stdout + up.stderr
        said = up.stdout + up.stderr
        assert (f"app: its post_start hook did not complete (the session running it, process {restarting.pid}, ended "
                "first): restarted it, and its hooks ran again") in said, said
        assert app.exec_run(["cat", "/tmp/done"]).output == b"1\n3\n"  # the interrupted one never completed
        assert hooks.unfinished(docker_client, run.run_id) == []
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=600)
        assert "post_start" not in up.stdout + up.stderr  # finished: used as it is
        assert app.exec_run(["cat", "/tmp/done"]).output == b"1\n3\n"
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name) == []
