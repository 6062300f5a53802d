"""Compose files start as `docker compose up` would start them: interpolation, `$$`, `.env`, `env_file`, one-shot
jobs, build targets, entrypoints, profiles, an image built by one service and run by another, volumes, UDP ports,
project names. Against the real engine; nothing may be left behind."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from harness import Topology, load_topology
from harness.errors import ServiceExited
from harness.report.console import services_table
from harness.runtime.topology import StartEvent

from ..conftest import harness_resources


def compose(folder: Path, text: str, name: str = "docker-compose.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    file.write_text(textwrap.dedent(text).lstrip("\n"))
    return file


def printenv(topology: Topology, service: str, name: str) -> str | None:
    result = topology[service].exec(["printenv", name])
    return result.output.strip() if result.exit_code == 0 else None


def test_dollar_dollar_in_a_healthcheck_reaches_the_shell_of_the_container(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: dollar-check
        services:
          vault:
            image: redis:7
            command: redis-server --requirepass pw-for-tests
            environment:
              VAULT_PW: pw-for-tests
            healthcheck:
              test: redis-cli -a "$$VAULT_PW" --no-auth-warning ping | grep -q PONG
              interval: 1s
            x-topology:
              timeout: 20
    """)
    with Topology.start(load_topology(file)) as topology:
        vault = topology["vault"]
        assert "NOAUTH" in vault.exec(["redis-cli", "ping"]).output
        check = vault.container.attrs["Config"]["Healthcheck"]["Test"]
        assert check == ["CMD-SHELL", 'redis-cli -a "$VAULT_PW" --no-auth-warning ping | grep -q PONG']
    assert harness_resources(docker_client, "dollar-check") == []


def test_values_from_dotenv_defaults_and_env_file(tmp_path, docker_client, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("SHOP_DB", raising=False)
    monkeypatch.delenv("SHOP_PW", raising=False)
    (tmp_path / ".env").write_text("SHOP_DB=inventory\n")
    (tmp_path / "settings.env").write_text("MODE=from-file\nLEVEL=from-file\n")
    file = compose(tmp_path, """
        name: interpolated
        services:
          app:
            image: python:3.11-slim
            command: ["sleep", "infinity"]
            env_file: [settings.env]
            environment:
              DSN: postgresql://app:${SHOP_PW:-devpw}@db/${SHOP_DB}
              LEVEL: from-environment
    """)
    with Topology.start(load_topology(file)) as topology:
        assert printenv(topology, "app", "DSN") == "postgresql://app:devpw@db/inventory"
        assert printenv(topology, "app", "MODE") == "from-file"
        assert printenv(topology, "app", "LEVEL") == "from-environment"
    assert harness_resources(docker_client, "interpolated") == []


def test_a_job_completes_before_its_dependents_start(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: jobs
        services:
          store:
            image: redis:7
            healthcheck:
              test: ["CMD", "redis-cli", "ping"]
              interval: 1s
          seed:
            image: redis:7
            command: ["sh", "-c", "sleep 1 && redis-cli -h store SET seeded yes && echo seeded"]
            depends_on:
              store: {condition: service_healthy}
          reader:
            image: redis:7
            command: ["sh", "-c", "test \\"$$(redis-cli -h store GET seeded)\\" = yes && exec sleep infinity"]
            depends_on:
              seed: {condition: service_completed_successfully}
    """)
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        assert topology["reader"].status == "running"  # it exits at once if the seed had not run before it
        assert topology["seed"].container.attrs["State"]["ExitCode"] == 0
        kinds = [(e.service, e.kind) for e in events if e.kind in ("completed", "ready", "failed")]
        assert ("seed", "completed") in kinds
        assert kinds.index(("seed", "completed")) < kinds.index(("reader", "ready"))
    assert harness_resources(docker_client, "jobs") == []


def test_a_failing_job_is_an_error_with_its_exit_code_and_log(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: failing-job
        services:
          migrate:
            image: redis:7
            command: ["sh", "-c", "echo schema version 2 not found; exit 4"]
          app:
            image: redis:7
            depends_on:
              migrate: {condition: service_completed_successfully}
    """)
    with pytest.raises(ServiceExited) as error:
        Topology.start(load_topology(file))
    assert str(error.value).startswith("service 'migrate' exited with code 4 during startup (a job must exit 0); its "
                                       "log ends: schema version 2 not found\n")
    assert "  | schema version 2 not found" in str(error.value)
    assert (error.value.service, error.value.container_exit) == ("migrate", 4)
    assert error.value.exit_code == 1  # the CLI's: a failure of the topology under test
    assert harness_resources(docker_client, "failing-job") == []


def test_a_service_without_a_probe_that_dies_at_once_is_never_ready(tmp_path, docker_client) -> None:  # noqa: ANN001
    """Without a probe, a service is ready once seen running for readiness.SETTLE (0.5 s): while its process lives it
    cannot be told from one that runs. So the crasher is a shell's `exit` (Docker's StartedAt to FinishedAt: 0.2 s at
    most, measured at load 43), not a Python start-up (0.8 s there: it was `ready`, a flake under load)."""
    file = compose(tmp_path, """
        name: dies-at-once
        services:
          crasher:
            image: python:3.11-slim
            command: ["sh", "-c", "echo no config; exit 3"]
    """)
    for _ in range(3):  # whether the exit is seen must not depend on timing
        with pytest.raises(ServiceExited, match=r"service 'crasher' exited with code 3 during startup"):
            Topology.start(load_topology(file))
    assert harness_resources(docker_client, "dies-at-once") == []


def test_a_service_that_exits_0_with_nothing_waiting_fails_as_under_compose(tmp_path, docker_client) -> None:  # noqa: ANN001
    """Only a job may end: `docker compose up --wait` refuses any other service that exited, code 0 included (its
    getDependencyCondition waits for running-or-healthy unless a dependent waits with service_completed_successfully).
    A web server whose entrypoint prints its usage and exits was `done`, with a URL where nothing listens."""
    from harness.model.compose_cli import compose_binary

    file = compose(tmp_path, """
        name: f23-exit0
        services:
          db:
            image: redis:7
          web:
            image: python:3.11-slim
            command: ["python", "-c", "print('usage: serve [--port N]')"]
            ports: ["8000"]
            depends_on: [db]
    """)
    try:
        up = subprocess.run([compose_binary(), "-f", str(file), "up", "-d", "--wait"], capture_output=True, text=True,
                            timeout=300)
        assert up.returncode != 0 and "exited (0)" in up.stderr, up.stderr
    finally:
        subprocess.run([compose_binary(), "-f", str(file), "down", "-v", "-t", "0"], capture_output=True, timeout=300)
    for _ in range(2):  # the same verdict every run
        with pytest.raises(ServiceExited) as raised:
            Topology.start(load_topology(file))
        message = str(raised.value)
        assert message.startswith("service 'web' exited with code 0 during startup; its log ends: usage: serve "
                                  "[--port N]\n"), message
        assert "nothing waits for it to finish, so it must keep running" in message, message
        assert "`condition: service_completed_successfully`" in message, message
        assert (raised.value.service, raised.value.container_exit) == ("web", 0)
    assert harness_resources(docker_client, "f23-exit0") == []


def test_an_init_job_others_wait_for_is_done_as_under_compose(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: f23-init-container
        services:
          init:
            image: python:3.11-slim
            command: ["python", "-c", "print('prepared')"]
          app:
            image: redis:7
            depends_on:
              init: {condition: service_completed_successfully}
    """)
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        assert topology["app"].status == "running"
        assert [e.kind for e in events if e.service == "init"][-1] == "completed"
    assert harness_resources(docker_client, "f23-init-container") == []


def test_build_target_entrypoint_and_an_image_built_by_another_service(tmp_path, docker_client) -> None:  # noqa: ANN001
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(textwrap.dedent("""
        FROM python:3.11-slim AS base
        RUN echo base > /stage
        FROM base AS test
        RUN echo test > /stage
        FROM base AS release
        RUN echo release > /stage
    """))
    file = compose(tmp_path, """
        name: built-once
        services:
          api:
            build: {context: ./app, target: test}
            image: built-once-app:dev
            command: ["sleep", "infinity"]
          worker:
            image: built-once-app:dev
            entrypoint: ["/bin/sh", "-c", "cat /stage > /tmp/seen; sleep infinity & wait"]
            depends_on: [api]
    """)
    try:
        with Topology.start(load_topology(file)) as topology:
            assert topology["worker"].container.image.id == topology["api"].container.image.id
            assert topology["worker"].exec(["cat", "/tmp/seen"]).output.strip() == "test"
            assert topology["worker"].exec(["cat", "/proc/1/cmdline"]).output.split("\0")[:2] == ["/bin/sh", "-c"]
    finally:
        docker_client.images.remove("built-once-app:dev", noprune=True)
    assert harness_resources(docker_client, "built-once") == []


def test_profiles(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: profiled
        services:
          api:
            image: redis:7
          admin:
            image: redis:7
            profiles: [debug]
    """)
    with Topology.start(load_topology(file)) as topology:
        assert "admin" not in topology and "api" in topology
    with Topology.start(load_topology(file, profiles=["debug"])) as topology:
        assert topology["admin"].status == "running"
    assert harness_resources(docker_client, "profiled") == []


def test_volumes_are_per_run_and_removed_with_it(tmp_path, docker_client) -> None:  # noqa: ANN001
    (tmp_path / "conf").mkdir()
    file = compose(tmp_path, """
        name: volumed
        services:
          writer:
            image: redis:7
            command: ["sh", "-c", "echo shared > /data/file && echo local > /conf/written && exec sleep infinity"]
            volumes: [data:/data, /scratch, ./conf:/conf]
          reader:
            image: redis:7
            command: ["sleep", "infinity"]
            volumes: ["data:/data:ro"]
            depends_on: [writer]
        volumes:
          data:
    """)
    with Topology.start(load_topology(file)) as topology:
        assert topology["reader"].exec(["cat", "/data/file"]).output.strip() == "shared"
        assert topology["reader"].exec(["touch", "/data/x"]).exit_code != 0  # mounted read-only
        run = topology.run_id
        volumes = docker_client.volumes.list(filters={"label": f"org.pytest-topology.run={run}"})
        # the named volume and the anonymous one (the third is the run's empty mark that its start finished)
        assert len([v for v in volumes if "org.pytest-topology.started" not in v.attrs["Labels"]]) == 2
    assert (tmp_path / "conf" / "written").read_text().strip() == "local"  # compose bind mounts are read-write
    assert docker_client.volumes.list(filters={"label": f"org.pytest-topology.run={run}"}) == []
    assert harness_resources(docker_client, "volumed") == []


def test_udp_and_port_ranges_are_published_on_loopback(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path, """
        name: udp-ports
        services:
          echo:
            image: python:3.11-slim
            command:
              - python
              - -c
              - |
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5353))
                while True:
                    data, peer = s.recvfrom(100); s.sendto(data.upper(), peer)
            ports: ["5353:5353/udp", "7000-7001:7000-7001"]
    """)
    with Topology.start(load_topology(file)) as topology:
        echo = topology["echo"]
        assert sorted(echo.ports) == [7000, 7001]
        bindings = echo.container.attrs["HostConfig"]["PortBindings"]
        assert {b[0]["HostIp"] for b in bindings.values()} == {"127.0.0.1"}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"ping", ("127.0.0.1", echo.port(5353, "udp")))
            assert client.recvfrom(100)[0] == b"PING"
        # the UDP port is shown beside the TCP ones: in the table of a start and in `harness ps` (from the engine)
        shown = f"7000 -> {echo.port(7000)}, 7001 -> {echo.port(7001)}, 5353/udp -> {echo.port(5353, 'udp')}"
        console = Console(width=400, record=True, file=io.StringIO())
        console.print(services_table(topology))
        assert shown in console.export_text()
        ps = subprocess.run([str(Path(sys.executable).parent / "harness"), "ps"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
        assert shown in ps.stdout, ps.stdout + ps.stderr
    assert harness_resources(docker_client, "udp-ports") == []


def test_a_folder_name_compose_would_clean_up(tmp_path, docker_client) -> None:  # noqa: ANN001
    file = compose(tmp_path / "My Shop (copy)", "services:\n  cache:\n    image: redis:7\n")
    spec = load_topology(file)
    assert spec.name == "myshopcopy"
    with Topology.start(spec) as topology:
        assert topology["cache"].status == "running"
    assert harness_resources(docker_client, "myshopcopy") == []


def test_the_same_options_in_the_projects_own_format(tmp_path, docker_client) -> None:  # noqa: ANN001
    (tmp_path / "job.env").write_text("KEY=schema\n")
    file = compose(tmp_path, """
        name: own-format
        services:
          store:
            image: redis:7
            healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 1}
          migrate:
            image: redis:7
            job: true
            env_file: [job.env]
            entrypoint: ["/bin/sh", "-c"]
            command: ['redis-cli -h store SET "$KEY" 3']
            depends_on: [store]
          app:
            image: redis:7
            working_dir: /tmp
            user: redis
            command: ["sh", "-c", "test \\"$(redis-cli -h store GET schema)\\" = 3 && exec sleep infinity"]
            depends_on: [migrate]
    """, "topology.yaml")
    with Topology.start(load_topology(file)) as topology:
        app = topology["app"]
        assert app.status == "running"
        assert (app.exec(["pwd"]).output.strip(), app.exec(["id", "-un"]).output.strip()) == ("/tmp", "redis")
        assert topology["store"].container.attrs["Config"]["Healthcheck"]["Interval"] == 1_000_000_000
    assert harness_resources(docker_client, "own-format") == []


def test_a_volume_subpath_this_engine_drops_is_said_at_the_start(tmp_path, docker_client) -> None:  # noqa: ANN001
    """An engine before API 1.45 mounts the whole volume (Compose passes `subpath` all the same, no error): the start
    goes on as under Compose and a note names the file:line, the service and the engine's API version; a newer engine
    mounts the subpath and nothing is said."""
    file = compose(tmp_path, """
        name: f23-subpath
        services:
          app:
            image: python:3.11-slim
            command: ["sh", "-c", "mkdir -p /data/v1 && touch /data/v1/inner /data/outer && exec sleep infinity"]
            volumes: ["data:/data"]
            healthcheck: {test: ["CMD", "test", "-f", "/data/outer"], interval: 1s}
          reader:
            image: python:3.11-slim
            command: ["sleep", "infinity"]
            depends_on: {app: {condition: service_healthy}}
            volumes:
              - type: volume
                source: data
                target: /data
                volume: {subpath: v1}
        volumes:
          data: {}
    """)
    api = str(docker_client.api.api_version)
    old = tuple(int(part) for part in api.split(".")) < (1, 45)
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        notes = [e.detail for e in events if e.kind == "note" and "subpath" in e.detail]
        seen = topology["reader"].exec(["ls", "/data"]).output.split()
        if old:
            assert notes == [f"docker-compose.yml:13: service 'reader': subpath of the volume at /data: 'v1' ignored: "
                             f"this Docker engine (API {api}) mounts the whole volume data there, as under Docker "
                             "Compose (it passes the key all the same), so the service sees other files than the file "
                             "says (needs API 1.45, Docker Engine 26)"], notes
            assert sorted(seen) == ["outer", "v1"], seen  # what Compose mounts on this engine too
        else:
            assert (notes, seen) == ([], ["inner"])
    assert harness_resources(docker_client, "f23-subpath") == []
