"""A topology that cannot start gives one error naming the service, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.errors import BuildFailed, DockerError, ImageMissing, ServiceExited, ServiceNotReady

from ..conftest import harness_resources, write_topology


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
      interval: 2  # a few 404 lines: "listening" stays in the last 50 lines of the log
    timeout: 30  # long enough for the app to answer on a loaded machine (3 s was not): the 404 is what is asserted
""")
    with pytest.raises(ServiceNotReady) as error:
        Topology.start(load_topology(file))
    message = str(error.value)
    assert message.startswith("service 'greeter' was not ready after 3")
    assert "probe http GET :8000/nowhere -> 200 never passed (last: status 404)" in message
    assert "Last 50 lines of its log:\n  | greeter listening on 8000" in message
    assert "GET /nowhere -> 404" in message
    assert error.value.hint is not None and "raise the service's `timeout:`" in error.value.hint
    assert "in a compose file `x-topology: {timeout: N}` under the service" in error.value.hint
    assert message == f"{error.value.message}\n{error.value.hint}"  # the what-to-do is the hint, last
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
    # the first line says why (a CI annotation or pytest's short summary shows only it), the log's end under it
    assert str(error.value).startswith("service 'crasher' exited with code 3 during startup; its log ends: cannot "
                                       "find my config\nLast 50 lines of its log:\n"), str(error.value)
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
    assert message.startswith(f"service 'app': docker build of {tmp_path / 'broken'} failed; its log ends: "), message
    assert "  | compiling the thing" in message
    assert "returned a non-zero code: 7" in message
    assert message.endswith("\nFix the Dockerfile or the build context and run again.")
    assert error.value.service == "app" and error.value.hint == "Fix the Dockerfile or the build context and run again."
    assert "Fix the Dockerfile" not in error.value.message  # message, then hint: as HarnessError says
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
    timeout: 10  # its log line, asserted below, is written within it also on a loaded machine
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

    # a service name no other test uses: `harness logs NAME` without a file looks at every running topology, and
    # another xdist worker's topology may run an `app` at the same time (then: "runs in several topologies")
    file = write_topology(tmp_path, "name: logs-secret\nservices:\n  leaky:\n    image: redis:7\n"
                                    "    command: [sh, -c, 'echo connecting with $DB_PASSWORD; sleep 600']\n"
                                    "    environment: {DB_PASSWORD: hunter2-very-secret}\n")
    harness = str(Path(sys.executable).parent / "harness")
    subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, check=True, timeout=300)
    try:
        for args in (["--topology", str(file)], []):
            logs = subprocess.run([harness, "logs", "leaky", *args], capture_output=True, text=True, timeout=60)
            assert logs.returncode == 0, logs.stderr
            assert "connecting with [hidden]" in logs.stdout and "hunter2" not in logs.stdout
    finally:
        subprocess.run([harness, "down", str(file)], capture_output=True, timeout=120)
    assert harness_resources(docker_client, "logs-secret") == []


# A service that prints a secret, then exits 3 once its probe has reached it: the probe runs when it dies.
WAITS_FOR_THE_PROBE = ("""    command: [sh, -c, 'echo "connecting with $DB_PASSWORD"; until [ -f /tmp/probed ]; do sleep 0.05; done;
              echo "probed, giving up"; exit 3']
""")
EXITS_ON_A_REQUEST = """    command:
      - python
      - -c
      - |
        import http.server, os
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                print("probed, giving up", flush=True)
                os._exit(3)
        print("connecting with " + os.environ["DB_PASSWORD"], flush=True)
        http.server.HTTPServer(("", 8000), Handler).serve_forever()
"""
EXITS_ON_A_CONNECTION = """    command:
      - python
      - -c
      - |
        import os, socket
        print("connecting with " + os.environ["DB_PASSWORD"], flush=True)
        socket.create_server(("", 8000)).accept()
        print("probed, giving up", flush=True)
        os._exit(3)
"""
PROBES = {  # the probe (none: running for the settle time), and a service that dies while that probe runs
    # it dies while the exec runs (the exec is cut short), or between two failing execs (the next one gets a 409)
    "exec-running": WAITS_FOR_THE_PROBE + "    ready: {command: [sh, -c, 'touch /tmp/probed; exec sleep infinity']}\n",
    "exec-between": WAITS_FOR_THE_PROBE + "    ready: {command: [sh, -c, 'touch /tmp/probed; exit 1']}\n",
    "healthcheck": WAITS_FOR_THE_PROBE + "    healthcheck: {test: 'touch /tmp/probed; exec sleep infinity', "
                                         "interval: 1}\n",
    "http": EXITS_ON_A_REQUEST + "    ready: {http: {port: 8000, path: /health}}\n",
    "tcp": EXITS_ON_A_CONNECTION + "    ready: {tcp: 8000}\n",
    "none": """    command: [sh, -c, 'echo "connecting with $DB_PASSWORD"; echo "probed, giving up"; exit 3']\n""",
}


@pytest.mark.parametrize("probe", PROBES)
def test_a_service_that_dies_while_its_probe_runs_is_reported_by_its_exit_code_and_log(
        tmp_path: Path, docker_client, probe: str) -> None:  # noqa: ANN001
    """Whenever Docker's refusal arrives (an exec into a container that stopped: a 409, or an exec cut short; an HTTP
    answer cut off; a connection closed), the error is what happened to the container: its exit code and log."""
    file = write_topology(tmp_path, f"""
name: dies-probed
services:
  dier:
    image: python:3.11-slim
    environment: {{DB_PASSWORD: pw-of-the-dier-5521}}
    timeout: 120
{PROBES[probe]}""")
    with pytest.raises(ServiceExited) as error:
        Topology.start(load_topology(file))
    message = str(error.value)
    assert message.startswith("service 'dier' exited with code 3 during startup; its log ends: probed, giving up\n"
                              "Last 50 lines of its log:\n"
                              "  | connecting with [hidden]\n  | probed, giving up\n"
                              "Fix the service's command or configuration"), message
    assert "pw-of-the-dier-5521" not in message
    assert (error.value.service, error.value.container_exit) == ("dier", 3)
    assert harness_resources(docker_client, "dies-probed", file) == []


def test_postgres_that_cannot_initialise_its_data_folder_is_reported_by_its_exit_code_and_log(
        tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """A tmpfs data folder owned by root: initdb (as the postgres user) cannot take it and the server exits while
    `pg_isready` probes it; the error is its exit code and initdb's line, not Docker's 'container is not running'."""
    file = write_topology(tmp_path, """
name: pg-tmpfs
services:
  postgres:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: pg-secret-8812}
    tmpfs: ["/var/lib/postgresql/data:uid=0,mode=0700"]
    ready: {command: [pg_isready, -h, 127.0.0.1]}
    timeout: 120
""")
    with pytest.raises(ServiceExited) as error:
        Topology.start(load_topology(file))
    message = str(error.value)
    assert message.startswith("service 'postgres' exited with code 1 during startup; its log ends: "), message
    assert ("\nLast 50 lines of its log:\n  | initdb: error: could not change permissions of directory "
            '"/var/lib/postgresql/data": Operation not permitted\n') in message
    assert "is not running" not in message
    assert harness_resources(docker_client, "pg-tmpfs", file) == []


def test_a_container_removed_while_its_probe_runs_is_said_so(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """Something outside the start removes the container while the harness waits for it (a 404 from the probe or
    the state read): one error saying so, not Docker's 'No such container'."""
    import threading

    from harness.errors import DockerError
    from harness.runtime import labels as L

    file = write_topology(tmp_path, """
name: removed-probed
services:
  victim:
    image: python:3.11-slim
    command: [sleep, infinity]
    ready: {command: [test, -f, /tmp/never-made]}
    timeout: 300
""")
    waiting = threading.Event()
    raised: list[BaseException] = []

    def start() -> None:
        try:
            Topology.start(load_topology(file), progress=lambda event: event.kind == "waiting" and waiting.set())
        except BaseException as error:  # noqa: BLE001 - asserted below
            raised.append(error)

    starting = threading.Thread(target=start)
    starting.start()
    try:
        assert waiting.wait(timeout=300)
        for container in docker_client.containers.list(
                all=True, filters={"label": [f"{L.TOPOLOGY}=removed-probed", f"{L.FILE}={file.resolve()}"]}):
            container.remove(force=True)
    finally:
        starting.join(timeout=300)
    assert len(raised) == 1 and isinstance(raised[0], DockerError), raised
    assert str(raised[0]) == (
        "service 'victim': its container was removed while the harness waited for it to be ready, by something "
        "outside this start; its exit code and log went with it\nLook for what removes containers of this topology "
        "meanwhile (`harness down`, `docker rm`, a prune in another terminal or CI step), then start it again.")
    assert harness_resources(docker_client, "removed-probed", file) == []


def test_a_ulimit_runc_refuses_is_said_with_the_services_settings_not_a_claim_of_dockers(
        tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    """runc's "error setting rlimit type 7" names no setting of the file; the hint names it (nofile, a hard limit above
    the kernel's fs.nr_open on any machine) with the service's other settings runc applies."""
    file = tmp_path / "compose.yaml"
    file.write_text("""name: f23-rlimit
services:
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    oom_score_adj: 100
    ulimits:
      nofile: {soft: 1024, hard: 2000000000}
""")
    with pytest.raises(DockerError) as raised:
        Topology.start(load_topology(file))
    assert "error setting rlimit type 7" in raised.value.message, raised.value.message
    hint = raised.value.hint or ""
    assert hint.startswith("runc's \"rlimit type 7\" is the `nofile` ulimit. runc's message names no setting; those of "
                           "service 'api' that runc applies and can refuse: ulimits.nofile 1024:2000000000"), hint
    assert "; oom_score_adj 100. A hard ulimit above the engine's own" in hint, hint
    assert "Docker's message says what it refused" not in hint
    assert harness_resources(docker_client, "f23-rlimit") == []
