"""The conformance corpus: compose projects in the shapes of real ones (projects/), each started by
`docker compose up -d --wait` and by the harness from the same files, their containers compared field by field
(view.py: env, command, entrypoint, user, working dir, labels, healthcheck, ports and protocols, mounts and their
options, tmpfs, capabilities, ulimits, extra hosts, networks and aliases, restart policy, resources, ...). A
difference that view.DOCUMENTED does not list fails the test, with the service, the field and both values."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.model.compose_cli import compose_binary
from harness.runtime import labels as L

from .view import COMPOSE, DOCUMENTED, compare, view

PROJECTS = Path(__file__).parent / "projects"
ROOT = Path(__file__).parents[4]


@dataclass(frozen=True)
class Project:
    """How a project of the corpus is started: its compose files (none: the folder, as `docker compose` without
    `-f` reads it) and profiles, the same for Compose and the harness."""

    files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    outside: bool = False  # it names a container and a network that no run makes (`outside_of_runs`)


CORPUS = {
    "shop": Project(),  # web + db + cache + worker + proxy; builds, .env and env_file, named volumes, restart
    "fullstack": Project(),  # an init job, multi-stage builds with target and args, anchors, post_start
    "vault": Project(),  # secrets and configs from files, the environment and content; targets, owners, modes
    "mesh": Project(),  # several networks: internal, aliases, fixed addresses, priority, container_name, links
    "overrides": Project(),  # the folder: compose.yaml + compose.override.yaml, as `docker compose` without -f
    "ci": Project(files=("compose.yaml", "compose.ci.yaml"), profiles=("tools",)),  # -f a -f b, extends, profiles
    "hardened": Project(),  # read_only, tmpfs, capabilities, security_opt, ulimits, sysctls, limits, deploy
    "monorepo": Project(),  # include: of another folder's file (its relative paths and .env), a build there
    "analytics": Project(),  # pass-through environment, long port syntax, ports bound twice, string commands
    "media": Project(),  # bind mounts of missing folders and their options, named/anonymous volumes, volumes_from
    "devtools": Project(),  # terminals (tty, stdin_open), entrypoints cleared ([] and ""), an empty command
    "sidecars": Project(outside=True),  # network_mode container:NAME and a network's name, volumes_from container:
}


# project -> service -> files whose mode, owner and content are compared too (secrets and configs copied in by
# Compose leave no trace in `docker inspect`)
INSIDE = {
    "fullstack": {"backend": ["/tmp/started"]},  # written by its post_start hook
    "vault": {"api": ["/run/secrets/db_password", "/run/secrets/api_token", "/etc/tls/server.key",
                      "/etc/app/settings.toml", "/feature_flags", "/logging_conf"],
              "rotator": ["/var/run/rotate/current", "/run/secrets/api_token", "/app_settings"]},
    "sidecars": {"backup": ["/shared/file"]},  # from the volume of the container outside the runs
}

# (project, service, field) -> why the harness still differs from Compose there, undocumented: each makes its
# project's test an expected failure while it is seen, and a failure once it is not (remove it then)
KNOWN: dict[tuple[str, str, str], str] = {}


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DOCKER_CONFIG whose CLI plugin is the Compose binary the harness uses."""
    config = tmp_path_factory.mktemp("docker-config")
    (config / "cli-plugins").mkdir()
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_binary())
    return config


def free_subnet(client: docker.DockerClient) -> str:
    """The first three octets of a /24 no network of the engine overlaps (projects with fixed addresses read it
    as ${CORPUS_NET}: two runs of the corpus at once get different ones)."""
    # from the list call itself (it has IPAM): an inspect per network fails on one another session removes meanwhile
    taken = [ipaddress.ip_network(c["Subnet"]) for n in client.api.networks()
             for c in (n.get("IPAM") or {}).get("Config") or [] if "Subnet" in c]
    while True:
        candidate = ipaddress.ip_network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(t) for t in taken if t.version == 4):
            return str(candidate.network_address).rsplit(".", 1)[0]


def paths(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def remove_new(folder: Path, before: set[Path]) -> None:
    """What Compose's run added to the project's folder (bind folders the engine made), so that the harness starts
    from the same files."""
    for path in sorted(paths(folder) - before, key=lambda p: len(p.parts)):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def views(client: docker.DockerClient, containers: list[Any], service_label: str, built: set[str],
          inside: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    found = {}
    for container in containers:
        service = container.labels[service_label]
        files = {path: container.exec_run(["sh", "-c", f"stat -c '%a %u %g' {path} && cat {path}"], user="0")
                 for path in inside.get(service, [])}
        found[service] = {**view(client, container.attrs), "built": service in built,
                          "files": {path: [r.exit_code, r.output.decode()] for path, r in files.items()} or None}
    return found


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, docker_client: docker.DockerClient) -> dict[str, str]:
    """Variables the projects interpolate where a value must be unique to one run of the corpus (container names,
    subnets): the same for Compose and the harness."""
    values = {"CORPUS_RUN": uuid.uuid4().hex[:8], "CORPUS_NET": free_subnet(docker_client),
              "ANALYTICS_TOKEN": "passed-through"}  # `environment: [ANALYTICS_TOKEN]` takes it from here
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def outside_of_runs(docker_client: docker.DockerClient) -> Iterator[Callable[[str], None]]:
    """Makes what a project with `outside` names and no run makes, for the run CORPUS_RUN: the container
    `corpus-legacy-RUN` (a volume /shared holding `file`) on the network `corpus-legacy-net-RUN`; removed at the end
    (after Compose's and the harness's containers: requested before `compose_project`)."""
    made: list[Any] = []

    def make(run: str) -> None:
        made.append(docker_client.networks.create(f"corpus-legacy-net-{run}"))
        made.append(docker_client.containers.run("python:3.11-slim", ["sh", "-c", "echo kept > /shared/file && exec "
                                                                     "sleep infinity"], name=f"corpus-legacy-{run}",
                                                 network=made[0].name, volumes=["/shared"], detach=True))

    yield make
    for thing in reversed(made):
        thing.remove(**({"force": True, "v": True} if isinstance(thing, docker.models.containers.Container) else {}))


@pytest.fixture
def compose_project(docker_config: Path) -> Iterator[dict[str, Any]]:
    """A unique Compose project name; its containers, networks, volumes and built images removed at the end."""
    started: dict[str, Any] = {"name": f"corpus-{uuid.uuid4().hex[:8]}"}
    yield started
    if "folder" in started:
        subprocess.run(["docker", "compose", "-p", started["name"], *started["args"], "down", "-v", "--rmi", "local",
                        "--timeout", "0", "--remove-orphans"], cwd=started["folder"], capture_output=True, timeout=300,
                       env={**os.environ, "DOCKER_CONFIG": str(docker_config)})


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_compose_and_the_harness_configure_the_same_containers(name: str, tmp_path: Path, docker_config: Path,
                                                               docker_client: docker.DockerClient,
                                                               environment: dict[str, str],
                                                               outside_of_runs: Callable[[str], None],
                                                               compose_project: dict[str, Any]) -> None:
    project = CORPUS[name]
    if project.outside:
        outside_of_runs(environment["CORPUS_RUN"])
    folder = tmp_path / name
    shutil.copytree(PROJECTS / name, folder, symlinks=True)
    before = paths(folder)
    args = [a for f in project.files for a in ("-f", f)] + [a for p in project.profiles for a in ("--profile", p)]
    spec = load_topology([folder / f for f in project.files] if project.files else folder, profiles=project.profiles)
    built = {s for s, service in spec.services.items() if service.build is not None}

    compose_project.update(folder=folder, args=args)
    up = subprocess.run(["docker", "compose", "-p", compose_project["name"], *args, "up", "-d", "--wait",
                         "--wait-timeout", "240"], cwd=folder, capture_output=True, text=True, timeout=600,
                        env={**os.environ, "DOCKER_CONFIG": str(docker_config)})
    assert up.returncode == 0, up.stderr
    containers = docker_client.containers.list(all=True, filters={
        "label": f"{COMPOSE}project={compose_project['name']}"})
    by_compose = views(docker_client, containers, COMPOSE + "service", built, INSIDE.get(name, {}))
    missing = {(s, path): out for s, v in by_compose.items() for path, (code, out) in (v["files"] or {}).items() if code}
    assert not missing, f"files of INSIDE that Compose's containers lack: {missing}"  # compared, they must exist
    down = subprocess.run(["docker", "compose", "-p", compose_project["name"], *args, "down", "-v", "--rmi", "local",
                           "--timeout", "0"], cwd=folder, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DOCKER_CONFIG": str(docker_config)})
    assert down.returncode == 0, down.stderr
    remove_new(folder, before)

    with Topology.start(spec) as topology:
        containers = [docker_client.containers.get(s.container.id) for s in topology]
        by_harness = views(docker_client, containers, L.SERVICE, built, INSIDE.get(name, {}))
        run = {"label": f"{L.RUN}={topology.run_id}"}
    assert (docker_client.containers.list(all=True, filters=run), docker_client.networks.list(filters=run),
            docker_client.volumes.list(filters=run)) == ([], [], [])  # nothing of the run is left

    differences = compare(by_compose, by_harness)
    known = {(d.service, d.field): KNOWN[name, d.service, d.field] for d in differences
             if (name, d.service, d.field) in KNOWN}
    unexpected = [str(d) for d in differences if (d.service, d.field) not in known]
    assert not unexpected, f"{name}: differences from Docker Compose not documented in view.DOCUMENTED:\n" + \
        "\n".join(unexpected)
    fixed = [key for key in KNOWN if key[0] == name and key[1:] not in known]
    assert not fixed, f"known differences no longer seen (remove them from KNOWN): {fixed}"
    if known:  # strict: the test fails above once one is fixed
        pytest.xfail("; ".join(f"{service} {field}: {why}" for (service, field), why in known.items()))


def test_each_documented_difference_is_said_where_it_points() -> None:
    """The table of documented differences holds only what the docs say (its words are in the page it names)."""
    for field, documented in DOCUMENTED.items():
        page = ROOT / documented.where.split(" ", 1)[0]
        text = " ".join(page.read_text().split())
        assert " ".join(documented.says.split()) in text, (field, documented.where)
