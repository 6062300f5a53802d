"""`--topology-swarm join-and-leave` keeps its promise when the start fails: a swarm made for the run is left also when
the start fails after the swarm was made but before the run exists (a bind mount refused on a remote engine), as
when it fails later (an image that is missing). Two dockerd in network namespaces of this test's own, in no swarm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import ImageMissing, RemoteMount
from tests.integration.engines.conftest import pair_topology
from tests.integration.engines.test_across_engines import left
from tests.integration.engines.test_swarm import networks, states


def test_a_start_that_fails_leaves_the_swarm_it_made_to_be_left(pair: Any, tmp_path: Path) -> None:  # noqa: ANN401
    file = pair_topology(tmp_path, pair.urls, front_depends=True)
    clients = [docker.DockerClient(base_url=url, timeout=120) for url in pair.urls]
    (tmp_path / "data").mkdir()
    text = file.read_text()

    # refused before the run exists: front's bind mount names a path on e1's machine
    file.write_text(text.replace("    placement: e1\n", "    placement: e1\n    mounts: [{source: ./data, target: /data}]\n"))
    with pytest.raises(RemoteMount) as refused:
        Topology.start(load_topology(file).with_swarm("join-and-leave"))
    assert "a bind mount would name a path on its engine's machine, not on this one: service 'front' on engine " \
           f"'e1' ({pair.urls[1]}): " in str(refused.value)
    assert states(clients) == ["inactive", "inactive"]
    assert networks(clients) == [["host", "none"], ["host", "none"]]  # nothing the swarm made either

    # refused once the run exists (its images are checked first on each engine)
    file.write_text(text.replace("  front:\n    image: python:3.11-slim\n", "  front:\n    image: no-such-image:1\n"))
    with pytest.raises(ImageMissing):
        Topology.start(load_topology(file).with_swarm("join-and-leave"))
    assert states(clients) == ["inactive", "inactive"]
    assert [left(client, file) for client in clients] == [[], []]
    assert networks(clients) == [["host", "none"], ["host", "none"]]
