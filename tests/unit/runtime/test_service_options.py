"""Container options in this project's own YAML format: the same options compose files give, with their defaults
and messages."""

from __future__ import annotations

import pytest

from harness.model.base import parse_port, topology_name
from harness.model.parts import Healthcheck, Mount, ReadyProbe, Ulimit, VolumeMount
from harness.runtime.containers import MountRef, _options


def test_every_container_option(load, tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "app.env").write_text("export A=from-file\nB='quoted # not a comment'\nC=from-file\n")
    spec = load("""
        services:
          app:
            image: x
            entrypoint: ["/bin/sh", "-c"]
            command: ["exec run"]
            working_dir: /srv
            user: app
            env_file: [app.env]
            environment: {C: from-environment}
            tmpfs: [/run]
            init: true
            mounts: [./conf:/etc/conf, "./conf:/etc/rw:rw"]
            volumes: ["data:/data", /cache, "ro-data:/ro:ro"]
            cap_add: [NET_ADMIN]
            cap_drop: [ALL]
            extra_hosts: {billing.local: 10.0.0.1}
            hostname: app1
            shm_size: 64m
            ulimits: {nofile: {soft: 10, hard: 20}, nproc: 30}
            sysctls: {net.core.somaxconn: 512}
            stop_signal: SIGINT
            labels: {team: shop}
            platform: linux/amd64
            healthcheck: {test: "curl -f localhost", interval: 1.5, retries: 3}
            ports: [8000, "53/udp", "9000-9001"]
    """)
    app = spec.services["app"]
    assert app.full_environment(spec.base_dir) == {"A": "from-file", "B": "quoted # not a comment",
                                                   "C": "from-environment"}
    assert app.mounts == [Mount(source="./conf", target="/etc/conf", read_only=True),
                          Mount(source="./conf", target="/etc/rw", read_only=False)]
    assert app.volumes == [VolumeMount(source="data", target="/data"), VolumeMount(target="/cache"),
                           VolumeMount(source="ro-data", target="/ro", read_only=True)]
    assert app.healthcheck == Healthcheck(test=["CMD-SHELL", "curl -f localhost"], interval=1.5, retries=3)
    assert app.probe == ReadyProbe(command=["/bin/sh", "-c", "curl -f localhost"])
    assert app.published() == [(8000, "tcp"), (53, "udp"), (9000, "tcp"), (9001, "tcp")]
    assert app.published_ports() == [8000, 9000, 9001]

    options = _options(app, [MountRef("bind", "/abs/conf", "/etc/conf", True)], {"org.pytest-topology.run": "r1"})
    assert options["labels"] == {"team": "shop", "org.pytest-topology.run": "r1"}
    assert options["healthcheck"] == {"test": ["CMD-SHELL", "curl -f localhost"], "interval": 1_500_000_000,
                                      "retries": 3}
    assert options["tmpfs"] == {"/run": ""}
    assert [(u["Name"], u["Soft"], u["Hard"]) for u in options["ulimits"]] == [("nofile", 10, 20), ("nproc", 30, 30)]
    assert options["mounts"][0] == {"Target": "/etc/conf", "Source": "/abs/conf", "Type": "bind", "ReadOnly": True}
    assert (options["entrypoint"], options["working_dir"], options["user"], options["init"]) == (
        ["/bin/sh", "-c"], "/srv", "app", True)
    assert (options["cap_add"], options["cap_drop"], options["extra_hosts"]) == (
        ["NET_ADMIN"], ["ALL"], ["billing.local:10.0.0.1"])
    assert (options["sysctls"], options["shm_size"], options["stop_signal"], options["platform"]) == (
        {"net.core.somaxconn": "512"}, "64m", "SIGINT", "linux/amd64")
    assert app.ulimits == {"nofile": Ulimit(soft=10, hard=20), "nproc": 30}


def test_defaults_leave_the_image_alone(load):
    options = _options(load("services:\n  a:\n    image: x\n").services["a"], [], {})
    assert options == {"labels": {}, "mounts": [], "privileged": False}


def test_a_job(load):
    spec = load("services:\n  db:\n    image: x\n  migrate:\n    image: x\n    job: true\n    depends_on: [db]\n")
    assert spec.services["migrate"].job


def test_a_missing_env_file(load_error, tmp_path):
    assert load_error("services:\n  a:\n    image: x\n    env_file: [nope.env]\n") == (
        f"topology.yaml:4: services.a.env_file[0]: env_file 'nope.env' is not a file (paths are relative to "
        f"{tmp_path.resolve()})")


@pytest.mark.parametrize(
    ("port", "message"),
    [("53/icmp", "port '53/icmp' is not a container port: N, 'N/udp', 'N/sctp', 'N-M' or 'N-M/udp'"),
     ("9001-9000", "port '9001-9000' is outside 1..65535 (or its range is reversed)")],
)
def test_bad_ports(load_error, port, message):
    assert load_error(f"services:\n  a:\n    image: x\n    ports: ['{port}']\n") == (
        f"topology.yaml:4: services.a.ports[0]: {message}")


def test_bad_healthcheck(load_error):
    assert load_error("services:\n  a:\n    image: x\n    healthcheck: {test: [RUN, x]}\n") == (
        "topology.yaml:4: services.a.healthcheck: test is ['CMD', program, args...], ['CMD-SHELL', 'shell command'], "
        "['NONE'] or a shell command string")


@pytest.mark.parametrize(("text", "name"), [("My Project (copy)", "myprojectcopy"), ("Shop_Tests-2", "shop_tests-2"),
                                            ("-x.y", "xy")])
def test_topology_names_as_compose_makes_them(text, name):
    assert topology_name(text) == name


def test_parse_port():
    assert parse_port("8000-8002/udp") == ([8000, 8001, 8002], "udp")
    assert parse_port(80) == ([80], "tcp")


def test_one_env_file_may_be_a_string_as_in_compose(load, tmp_path):
    (tmp_path / "app.env").write_text("A=1\n")
    spec = load("""
        services:
          app:
            image: x
            env_file: app.env
    """)
    assert spec.services["app"].env_file == ["app.env"]


def test_an_exec_result_unpacks_as_code_and_output() -> None:
    from harness.runtime.service import ExecResult

    code, output = ExecResult(0, "PONG\n")
    assert (code, output) == (0, "PONG\n")


def test_host_keys_become_the_docker_py_arguments_compose_sets(load):
    """Each Compose host key as docker-py's create argument (the HostConfig field Compose sets): cpus as NanoCpus,
    cpuset as CpusetCpus, ipc/pid/uts/cgroup as their modes, blkio entries as the API's {Path, Rate}."""
    app = load("""
        services:
          app:
            image: x
            domainname: example.org
            dns: [10.0.0.2]
            dns_search: [example.com]
            dns_opt: ["ndots:2"]
            security_opt: ["no-new-privileges:true"]
            read_only: true
            group_add: ["audio"]
            devices: ["/dev/null:/dev/xnull:r"]
            device_cgroup_rules: ["c 1:3 mr"]
            device_requests: [{driver: nvidia, count: -1, capabilities: [gpu]}]
            runtime: runc
            ipc: shareable
            pid: host
            uts: host
            cgroup: private
            userns_mode: host
            cgroup_parent: tests
            mac_address: "02:42:ac:11:65:43"
            storage_opt: {size: 1G}
            blkio_config: {weight: 300, weight_device: [{path: /dev/sda, weight: 400}],
                           device_read_bps: [{path: /dev/sda, rate: 1048576}]}
            mem_limit: 268435456
            memswap_limit: 536870912
            mem_reservation: 134217728
            mem_swappiness: 10
            oom_kill_disable: true
            oom_score_adj: 100
            cpus: 0.5
            cpu_shares: 512
            cpu_period: 100000
            cpu_quota: 50000
            cpuset: "0"
            pids_limit: 100
    """).services["app"]
    options = _options(app, [], {})
    requests = options.pop("device_requests")
    assert [(r["Driver"], r["Count"], r["Capabilities"]) for r in requests] == [("nvidia", -1, [["gpu"]])]
    assert options == {
        "labels": {}, "mounts": [], "privileged": False, "domainname": "example.org", "dns": ["10.0.0.2"],
        "dns_search": ["example.com"], "dns_opt": ["ndots:2"], "security_opt": ["no-new-privileges:true"],
        "read_only": True, "group_add": ["audio"], "devices": ["/dev/null:/dev/xnull:r"],
        "device_cgroup_rules": ["c 1:3 mr"], "runtime": "runc", "ipc_mode": "shareable", "pid_mode": "host",
        "uts_mode": "host", "cgroupns": "private", "userns_mode": "host", "cgroup_parent": "tests",
        "storage_opt": {"size": "1G"}, "blkio_weight": 300,
        "blkio_weight_device": [{"Path": "/dev/sda", "Weight": 400}],
        "device_read_bps": [{"Path": "/dev/sda", "Rate": 1048576}], "mem_limit": 268435456,
        "memswap_limit": 536870912, "mem_reservation": 134217728, "mem_swappiness": 10, "oom_kill_disable": True,
        "oom_score_adj": 100, "nano_cpus": 500_000_000, "cpu_shares": 512, "cpu_period": 100000,
        "cpu_quota": 50000, "cpuset_cpus": "0", "pids_limit": 100,
    }
    assert {"mem_limit", "cpus", "pids_limit", "dns", "mac_address"} <= set(app.container_settings())  # replaces it
    # the container's MacAddress (or its first network's, from API 1.44) is networks.mac_addresses' to decide
    assert "mac_address" not in options


def test_volumes_are_given_in_the_form_compose_gives_them():
    """A named volume as `name:dst:rw` (Compose's -v form: the engine does not relabel it, as it relabels (z) a
    volume of the mount API); nocopy or subpath through the mount API; an anonymous one through the mount API
    unless relabelled."""
    named = MountRef.volume(VolumeMount(source="data", target="/data"), "harness-t-data-r1")
    assert named.bind_mode == "rw"
    assert MountRef.volume(VolumeMount(source="data", target="/d", read_only=True, selinux="z"), "v").bind_mode == "ro,z"
    assert MountRef.volume(VolumeMount(source="data", target="/d", nocopy=True), "v").bind_mode is None
    assert MountRef.volume(VolumeMount(source="data", target="/d", subpath="sub"), "v").bind_mode is None
    assert MountRef.volume(VolumeMount(target="/cache"), "harness-t-app-anon0-r1").bind_mode is None
    assert MountRef.volume(VolumeMount(target="/cache", selinux="Z"), "v").bind_mode == "rw,Z"


def test_an_image_volume_is_given_through_the_mount_api_as_compose_gives_it(load):
    """Compose's `type: image` volume (API 1.48): the mount API's fields, which docker-py has no type for."""
    app = load("services:\n  a:\n    image: x\n").services["a"]
    image = MountRef("image", "python:3.11-slim", "/python", False, subpath="usr/local")
    assert image.bind_mode is None
    assert _options(app, [image, MountRef("image", "redis:7", "/redis", True)], {})["mounts"] == [
        {"Type": "image", "Source": "python:3.11-slim", "Target": "/python", "ReadOnly": False,
         "ImageOptions": {"Subpath": "usr/local"}},
        {"Type": "image", "Source": "redis:7", "Target": "/redis", "ReadOnly": True}]
