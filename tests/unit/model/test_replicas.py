"""A service's replicas in the model: Compose's `scale` and `deploy.replicas` (read by Docker Compose itself), the
topology file's `replicas:`, and what Compose refuses or fails to start with them (its reasons, at `file:line`)."""

from __future__ import annotations

import pytest

from tests.unit.conftest import Load, LoadError


@pytest.mark.parametrize(("key", "expected"), [
    ("scale: 3", 3), ("deploy: {replicas: 2}", 2), ("scale: 0", 0), ("scale: 2\n    deploy: {replicas: 2}", 2),
])
def test_compose_counts_are_the_services_replicas(load: Load, key: str, expected: int) -> None:
    spec = load(f"services:\n  web:\n    image: x\n    {key}\n  other:\n    image: x\n", "compose.yaml")
    assert (spec.services["web"].replicas, spec.services["other"].replicas) == (expected, 1)


def test_the_topology_file_says_replicas(load: Load, load_error: LoadError) -> None:
    assert load("services:\n  web:\n    image: x\n    replicas: 4\n").services["web"].replicas == 4
    assert load_error("services:\n  web:\n    image: x\n    replicas: -1\n") == (
        "topology.yaml:4: services.web.replicas: Input should be greater than or equal to 0 (found -1)")
    assert load_error("services:\n  web:\n    image: x\n    replicas: two\n").startswith(
        "topology.yaml:4: services.web.replicas: Input should be a valid integer")


@pytest.mark.parametrize("ports", ['["8080"]', '["8080-8082:80"]', '["127.0.0.1::80"]', '[{target: 80}]'])
def test_ports_compose_gives_every_replica_are_taken(load: Load, ports: str) -> None:
    spec = load(f"services:\n  web:\n    image: x\n    scale: 3\n    ports: {ports}\n", "compose.yaml")
    assert spec.services["web"].replicas == 3


@pytest.mark.parametrize(("ports", "published"), [('["8080:80"]', "8080"), ('["8080-8081:80"]', "8080-8081"),
                                                  ('[{target: 80, published: "9000"}]', "9000")])
def test_a_host_port_for_fewer_replicas_is_refused_as_compose_fails_to_start_the_next(
        load_error: LoadError, ports: str, published: str) -> None:
    message = load_error(f"services:\n  web:\n    image: x\n    scale: 3\n    ports: {ports}\n", "compose.yaml")
    count = 2 if "-" in published else 1
    assert message == (f"compose.yaml:5: services.web.ports[0]: host port {published} for 3 replicas: Docker Compose "
                       f"fails to start replica {count + 1} (\"port is already allocated\": each replica needs a host "
                       "port of its own); give only the container port (80), or a range of at least 3 host ports")


def test_a_service_of_no_replica_shares_no_namespace_nor_volumes(load_error: LoadError, load: Load) -> None:
    file = ("services:\n  db:\n    image: x\n    replicas: 0\n  web:\n    image: x\n    depends_on: [db]\n"
            "    {key}\n")
    assert load_error(file.format(key='network_mode: "service:db"')) == (
        "topology.yaml:8: services.web.network_mode: cannot share network namespace with service db: container "
        "missing (it has 0 replicas; Docker Compose's refusal): give it a replica, or remove network_mode of 'web'")
    assert load_error(file.format(key='pid: "service:db"')) == (
        "topology.yaml:8: services.web.pid: cannot share PID namespace with service db: container missing (it has 0 "
        "replicas; Docker Compose's refusal): give it a replica, or remove pid of 'web'")
    assert load_error(file.format(key="volumes_from: [db]")) == (
        "topology.yaml:8: services.web.volumes_from[0]: cannot share volume with service db: container missing (it "
        "has 0 replicas; Docker Compose's refusal): give it a replica, or remove volumes_from of 'web'")
    # a link to it, and depends_on it, are left out at the start (Compose starts `web`)
    assert load(file.format(key="links: [db]")).services["db"].replicas == 0
