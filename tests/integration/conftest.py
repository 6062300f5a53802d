"""Integration tests run against the real Docker engine (`make test` starts it and builds the base images)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L

TOPOLOGIES = Path(__file__).parent.parent / "topologies"
EXAMPLE_APP = TOPOLOGIES / "example-app"
# Hypothesis' health checks a loaded CI runner trips (data generation too slow at load 15+), turned off as a user
# would for `st run --suppress-health-check`, in the fuzzing tests that are not about them (pytest: FUZZ_CALM_PYTEST)
FUZZ_CALM = ("--suppress-health-check", "too_slow,data_too_large")
FUZZ_CALM_PYTEST = ("--fuzz-suppress-health-check", "too_slow,data_too_large")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


def harness_resources(client: docker.DockerClient, topology: str, file: Path | None = None) -> list[str]:
    """Names of containers and networks the harness created for `topology` (of `file` only, when given: other
    sessions on a shared engine may run a topology of the same name from their own copy) that still exist, except
    those of another session that still runs (the other pytest-xdist worker's, another checkout's on the same engine):
    a leftover of this test is either owned by this process or one it started, or its owner has ended."""
    label = {"label": [f"{L.TOPOLOGY}={topology}", *([f"{L.FILE}={file.resolve()}"] if file else [])]}
    # sparse: names and labels from the list call itself (no inspect that a concurrent removal could turn into
    # NotFound)
    containers = client.containers.list(all=True, filters=label, sparse=True)
    networks = client.networks.list(filters=label)
    return ([c.attrs["Names"][0].lstrip("/") for c in containers if _of_this_session(c.attrs.get("Labels") or {})]
            + [n.name for n in networks if _of_this_session(n.attrs.get("Labels") or {})])


def remove_own_runs(client: docker.DockerClient, prefix: str) -> None:
    """Remove the runs of topologies whose name starts with `prefix` that this session made (or a process that has
    ended left): never one of another session that still runs (the other pytest-xdist worker's: its test may be
    using it right now)."""
    listed = L.listed(lambda: client.containers.list(all=True, filters={"label": L.TOPOLOGY}, sparse=True))
    runs = {L.labels_of(c).get(L.RUN) for c in listed
            if L.labels_of(c).get(L.TOPOLOGY, "").startswith(prefix) and _of_this_session(L.labels_of(c))}
    for run in filter(None, runs):
        L.remove_run(client, run)


def _of_this_session(labels: dict[str, str]) -> bool:
    owner = labels.get(L.OWNER, "")
    if L.owner_gone(owner) is not False:  # ended (a leftover, whoever left it) or not ours to judge: it counts
        return True
    pid = int(owner.split(":")[1])
    while pid > 1:  # this process or one it started (a `harness` or pytest subprocess that still runs)
        if pid == os.getpid():
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile: as above, it counts
            return True
    return False


def write_topology(directory: Path, text: str, name: str = "topology.yaml") -> Path:
    file = directory / name
    file.write_text(text.replace("EXAMPLE_APP", str(EXAMPLE_APP)))
    return file


def fresh_examples(folder: Path) -> str:
    """A new, empty folder for `st run --generation-database`: plain `st run` as in a folder without `.hypothesis`
    (its default example database, with nothing of an earlier run in it), as the harness runs schemathesis."""
    import tempfile

    return tempfile.mkdtemp(prefix="st-examples-", dir=folder)


def service_report(stderr: str, service: str) -> str:
    """The lines `harness fuzz` printed about `service`: its verdict line and what follows until the next one."""
    start = re.search(rf"^(passed|FAILED) {re.escape(service)} at ", stderr, re.MULTILINE)
    assert start is not None, stderr
    rest = stderr[start.start():]
    end = re.search(r"^(passed|FAILED) ", rest[1:], re.MULTILINE)
    return rest if end is None else rest[:end.start() + 1]


@pytest.fixture(autouse=True)
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test has a cache folder of its own ($PYTEST_TOPOLOGY_CACHE, inherited by the `harness` and pytest
    processes it runs): a verdict cached by another test (the same pact against the same images) never decides this
    test's verdict."""
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path_factory.mktemp("cache")))
