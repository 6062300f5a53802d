"""A topology that cannot start gives one error naming the service, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.errors import BuildFailed, ImageMissing, ServiceExited, ServiceNotReady

from .conftest import harness_resources, write_topology


def test_a_service_that_never_gets_ready(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, """
name: never-ready
services:
  redis:
    image: redis:7
    ready: {tcp: 6379}
  greeter:
    build: EXAMPLE_APP
    command: python app.py greeter
    depends_on: [redis]
    ready:
      http: {port: 8000, path: /nowhere}
    timeout: 3
""")
    with pytest.raises(ServiceNotReady) as error:
        Topology.start(load_topology(file))
    message = str(error.value)
    assert message.startswith("service 'greeter' was not ready after 3.")
    assert "probe http GET :8000/nowhere -> 200 never passed (last: status 404)" in message
    assert "Last 50 lines of its log:\n  | greeter listening on 8000" in message
    assert "GET /nowhere -> 404" in message
    assert "raise the service's `timeout:`" in message
    assert harness_resources(docker_client, "never-ready") == []


def test_a_service_that_exits_during_startup(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, """
name: exits
services:
  crasher:
    image: python:3.11-slim
    command: ["python", "-c", "import sys; print('cannot find my config'); sys.exit(3)"]
    ready: {tcp: 8000}
""")
    with pytest.raises(ServiceExited) as error:
        Topology.start(load_topology(file))
    assert str(error.value).startswith("service 'crasher' exited with code 3 during startup.")
    assert "  | cannot find my config" in str(error.value)
    assert harness_resources(docker_client, "exits") == []


def test_a_failed_build(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN echo 'compiling the thing' && exit 7\n")
    file = write_topology(tmp_path, """
name: broken-build
services:
  redis:
    image: redis:7
  app:
    build: ./broken
""")
    with pytest.raises(BuildFailed) as error:
        Topology.start(load_topology(file))
    message = str(error.value)
    assert message.startswith(f"service 'app': docker build of {tmp_path / 'broken'} failed.")
    assert "  | compiling the thing" in message
    assert "returned a non-zero code: 7" in message
    assert harness_resources(docker_client, "broken-build") == []


def test_an_image_that_is_not_there(tmp_path: Path, docker_client, monkeypatch) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, """
name: no-image
services:
  ghost:
    image: pytest-topology/does-not-exist:1
""")
    with pytest.raises(ImageMissing) as error:
        Topology.start(load_topology(file))
    assert str(error.value).startswith(
        "1 image(s) of topology no-image are not in the local Docker engine and could not be pulled:\n"
        "  pytest-topology/does-not-exist:1 (needed by service 'ghost'): pulling it failed: ")
    assert "--image-substitute NAME=LOCAL_IMAGE" in str(error.value)
    assert "ensure-base-images.sh" in str(error.value)
    assert harness_resources(docker_client, "no-image") == []


def test_secrets_in_a_probe_command_and_a_services_log_are_hidden(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """A compose file's interpolation puts a password into a probe command, and a service may print what it was
    given: the progress lines, the error and pytest's report (JUnit included) show `[hidden]` instead."""
    (tmp_path / "secrets.env").write_text("API_TOKEN=tok-from-the-env-file-7731\n")
    file = write_topology(tmp_path, """
name: secret-probe
services:
  cache:
    image: python:3.11-slim
    environment: {REDIS_PASSWORD: pw-in-the-environment-4471}
    env_file: [secrets.env]
    command: [sh, -c, 'echo "token $API_TOKEN password $REDIS_PASSWORD"; sleep 600']
    ready: {command: [sh, -c, 'test "$0" = nope', pw-in-the-environment-4471]}
    timeout: 2
""")
    events: list[str] = []
    with pytest.raises(ServiceNotReady) as error:
        Topology.start(load_topology(file), progress=lambda event: events.append(event.detail))
    shown = str(error.value) + "\n".join(events)
    assert "pw-in-the-environment-4471" not in shown and "tok-from-the-env-file-7731" not in shown
    assert "[hidden]" in str(error.value) and any("[hidden]" in detail for detail in events)
    assert "token [hidden] password [hidden]" in str(error.value)  # the service's own log line, masked
    assert harness_resources(docker_client, "secret-probe", file) == []


def test_a_compose_dotenv_secret_in_a_probe_is_hidden_and_shown_as_hidden(tmp_path: Path) -> None:
    """The value comes only from `.env` through `${VAR}`; the progress line says `[hidden]` (not an empty gap)."""
    import subprocess
    import sys

    (tmp_path / ".env").write_text("REDIS_PASSWORD=r3dis-Compose-Pw\n")
    (tmp_path / "compose.yml").write_text(
        'services:\n  cache:\n    image: redis:7\n    command: ["redis-server", "--requirepass", "${REDIS_PASSWORD}"]\n'
        '    x-topology:\n      ready: {command: ["sh", "-c", "redis-cli -a ${REDIS_PASSWORD} -p 1 ping | grep PONG"]}\n'
        "      timeout: 2\n")
    harness = str(Path(sys.executable).parent / "harness")
    done = subprocess.run([harness, "up", str(tmp_path / "compose.yml"), "--detach"], capture_output=True, text=True,
                          timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "r3dis-Compose-Pw" not in output
    assert "redis-cli -a [hidden] -p 1 ping" in output  # in the progress line and in the error
    subprocess.run([harness, "down", str(tmp_path / "compose.yml")], capture_output=True, timeout=120)


def test_harness_logs_hides_a_secret_the_service_logs(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """`harness logs` shows what pytest's log sections show: a value of a secret-looking variable is [hidden], with
    the file and without it (then from the container's own environment)."""
    import subprocess
    import sys

    file = write_topology(tmp_path, "name: logs-secret\nservices:\n  app:\n    image: redis:7\n"
                                    "    command: [sh, -c, 'echo connecting with $DB_PASSWORD; sleep 600']\n"
                                    "    environment: {DB_PASSWORD: hunter2-very-secret}\n")
    harness = str(Path(sys.executable).parent / "harness")
    subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, check=True, timeout=300)
    try:
        for args in (["--topology", str(file)], []):
            logs = subprocess.run([harness, "logs", "app", *args], capture_output=True, text=True, timeout=60)
            assert logs.returncode == 0, logs.stderr
            assert "connecting with [hidden]" in logs.stdout and "hunter2" not in logs.stdout
    finally:
        subprocess.run([harness, "down", str(file)], capture_output=True, timeout=120)
    assert harness_resources(docker_client, "logs-secret") == []
