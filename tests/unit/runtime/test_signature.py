"""What a kept run's update replaces: a service whose container would be started differently (its signature names
which part), never one whose harness-only settings (auth, openapi, fuzz, ready, ...) changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import load_topology
from harness.model.plan import in_namespace_of, joined_to, restarted_by, restarted_in_namespace, restarted_with
from harness.model.service import CONTAINER_KEYS, HARNESS_ONLY_KEYS, REPLICA_KEYS, RESOLVED_KEYS, ServiceSpec
from harness.runtime.reuse import say_update
from harness.runtime.signature import RunDifference, service_signature, signature_changes

WEB = """name: sig
services:
  tokens:
    image: python:3.11-slim
  web:
    image: python:3.11-slim
    ports: [PORT]
    environment: {MODE: MODE_VALUE}
    env_file: [web.env]
EXTRA"""


def signature(tmp_path: Path, port: str = "8000", mode: str = "a", env: str = "X=1\n", image: str = "sha256:1",
              extra: str = "") -> str:
    (tmp_path / "web.env").write_text(env)
    file = tmp_path / "topology.yaml"
    file.write_text(WEB.replace("PORT", port).replace("MODE_VALUE", mode).replace("EXTRA", extra))
    spec = load_topology(file)
    return service_signature(spec.services["web"], image, spec.base_dir)


def test_each_part_names_itself(tmp_path: Path) -> None:
    base = signature(tmp_path)
    assert signature(tmp_path) == base
    assert signature_changes(base, signature(tmp_path, port="8001")) == ["ports"]
    assert signature_changes(base, signature(tmp_path, mode="b")) == ["environment"]
    assert signature_changes(base, signature(tmp_path, env="X=2\n")) == ["environment"]  # an env file read now
    assert signature_changes(base, signature(tmp_path, image="sha256:2")) == ["image"]
    assert signature_changes(base, signature(tmp_path, port="8001", image="sha256:2")) == ["image", "ports"]
    assert signature_changes(base, signature(tmp_path, extra="    command: [python, -V]\n")) == ["command"]
    assert signature_changes(base, signature(tmp_path, extra="    healthcheck: {test: 'true'}\n")) == ["healthcheck"]
    assert signature_changes(base, signature(tmp_path, extra="    volumes: ['data:/data']\n")) == ["volumes"]
    assert signature_changes(base, signature(tmp_path, extra="    init: false\n")) == ["init"]  # not Docker's default
    assert signature_changes(base, signature(tmp_path, extra="    files: [{target: /run/secrets/t, content: s3}]\n")
                             ) == ["files"]  # a compose secret from the environment: its value counts


def test_network_modes_and_volumes_from_outside_the_run_are_parts_like_the_others(tmp_path: Path) -> None:
    def of(extra: str) -> str:
        file = tmp_path / "topology.yaml"
        file.write_text(f"name: sig\nservices:\n  side:\n    image: python:3.11-slim\n{extra}")
        spec = load_topology(file)
        return service_signature(spec.services["side"], "sha256:1", spec.base_dir)

    signatures = [of(f"    network_mode: '{mode}'\n") for mode in ("host", "container:legacy", "container:other",
                                                                     "corporate-net", "none")]
    for index, changed in enumerate(signatures):  # each differs from the default and from every other
        assert signature_changes(of(""), changed) == ["network_mode"]
        assert all(signature_changes(other, changed) == ["network_mode"] for other in signatures[index + 1:])
    assert signature_changes(of(""), of("    volumes_from: ['container:legacy']\n")) == ["volumes_from"]
    assert signature_changes(of("    volumes_from: ['container:legacy']\n"),
                             of("    volumes_from: ['container:archive']\n")) == ["volumes_from"]


@pytest.mark.parametrize("extra", [
    "    auth: {headers: {X-Api-Key: secret-key}}\n",
    "    auth: {client_credentials: {token_service: tokens, client_id: a, client_secret: b}}\n",
    "    openapi: /openapi.json\n",
    "    fuzz: {mode: negative, exclude: [{check: not_a_server_error, reason: 'a known bug, issue 12'}]}\n",
    "    ready: {http: {port: 8000, path: /health}}\n",  # a port it publishes anyway
    "    ready: {tcp: 8000}\n    timeout: 5\n",
    "    depends_on: [tokens]\n    consumes: [tokens]\n",  # only the start order, as in Compose's config hash
    "    pact_name: Web\n",
    "    job: true\n",
])
def test_harness_only_settings_leave_the_signature_as_it_is(tmp_path: Path, extra: str) -> None:
    assert signature(tmp_path, extra=extra) == signature(tmp_path)


def test_a_probe_on_a_port_not_published_publishes_it_so_the_container_changes(tmp_path: Path) -> None:
    assert signature_changes(signature(tmp_path), signature(tmp_path, extra="    ready: {tcp: 9000}\n")) == ["ports"]


def test_every_service_key_is_either_given_to_the_container_or_only_to_the_harness() -> None:
    """A new key must be put on one side: a harness-only key that replaced containers lost kept data (issue #21)."""
    sides = [set(CONTAINER_KEYS), set(RESOLVED_KEYS), set(HARNESS_ONLY_KEYS), set(REPLICA_KEYS)]
    assert set.union(*sides) == set(ServiceSpec.model_fields)
    assert sum(len(side) for side in sides) == len(ServiceSpec.model_fields)  # each key on one side only


def test_settings_at_their_default_are_left_out_so_a_new_default_key_changes_nothing(tmp_path: Path) -> None:
    assert set(json.loads(signature(tmp_path))) == {"image", "environment", "ports"}
    assert signature_changes('{"image": "1"}', '{"image": "1"}') == []
    assert signature_changes('{"image": "1", "init": "2"}', '{"image": "1"}') == ["init"]


def test_a_signature_of_an_older_harness_is_said_to_be_one(tmp_path: Path) -> None:
    assert signature_changes("0123456789ab.0123456789ab.0123456789ab.0123456789ab", signature(tmp_path)) is None


def test_an_update_says_per_service_what_it_does(tmp_path: Path) -> None:
    file = tmp_path / "topology.yaml"
    file.write_text("""services:
  db: {image: postgres:15}
  redis: {image: redis:7}
  orders: {image: python:3.11-slim, depends_on: [db]}
  web: {image: python:3.11-slim, depends_on: [orders, redis]}
  mail: {image: python:3.11-slim}
  old: {image: python:3.11-slim}
""")
    spec = load_topology(file)
    said: list[str] = []
    say_update(spec, RunDifference({"orders": ["environment", "ports"], "old": None}, added=["mail"],
                                   removed=["gone"]), said.append)
    assert said == [
        "  db unchanged: kept",
        "  redis unchanged: kept",
        "  orders changed (environment, ports): replacing it",
        "  web unchanged: kept (it depends on orders; Docker Compose does not replace a dependent either)",
        "  mail has no container in the run (new in the file, removed outside the harness, or left out by an update "
        "that did not finish): starting it",
        "  old was started by another version of the harness: replacing it",
        "  note: gone no longer in the file: left running, as `docker compose up` leaves orphan containers (Compose "
        "warns \"Found orphan containers\"); `harness down` removes them with the run",
    ]


def test_an_update_restarts_only_the_direct_dependents_that_ask_for_it(load) -> None:  # noqa: ANN001
    spec = load("""services:
  db: {image: postgres:15}
  web: {image: python:3.11-slim, depends_on: [db], restart_on_replace: [db]}
  api: {image: python:3.11-slim, depends_on: [web], restart_on_replace: [web]}
  plain: {image: python:3.11-slim, depends_on: [db]}
  both: {image: python:3.11-slim, depends_on: [db, web], restart_on_replace: [db, web]}
""")
    assert restarted_by(spec, {"db"}) == ["web", "both"]  # not api: web is restarted, not replaced (as Compose)
    assert restarted_by(spec, {"db", "web"}) == ["api", "both"]  # web itself is replaced, not restarted
    assert restarted_by(spec, {"plain"}) == []
    said: list[str] = []
    say_update(spec, RunDifference({"db": ["image"]}, added=[], removed=[]), said.append)
    assert said == ["  db changed (image): replacing it",
                    "  web unchanged: restarting it after db (depends_on restart: true)",
                    "  api unchanged: kept",
                    "  plain unchanged: kept (it depends on db; Docker Compose does not replace a dependent either)",
                    "  both unchanged: restarting it after db (depends_on restart: true)"]


def test_an_update_recreates_what_joins_a_replaced_services_namespace_or_volumes(load) -> None:  # noqa: ANN001
    spec = load("""services:
  sidecar: {image: python:3.11-slim}
  tap: {image: python:3.11-slim, network_mode: "service:sidecar", depends_on: [sidecar]}
  reader: {image: python:3.11-slim, volumes_from: ["tap:ro"], depends_on: [tap]}
  plain: {image: python:3.11-slim, depends_on: [sidecar]}
""")
    assert joined_to(spec, {"sidecar"}) == {"tap": "sidecar", "reader": "tap"}  # transitively, as Compose
    assert joined_to(spec, {"tap"}) == {"reader": "tap"}
    assert joined_to(spec, {"plain"}) == {}
    said: list[str] = []
    say_update(spec, RunDifference({"sidecar": ["environment"]}, added=[], removed=[]), said.append)
    assert said == ["  sidecar changed (environment): replacing it",
                    "  tap unchanged: recreating it after sidecar (its network_mode names sidecar, whose container is "
                    "new: Docker Compose recreates it too)",
                    "  reader unchanged: recreating it after tap (its volumes_from names tap, whose container is new: "
                    "Docker Compose recreates it too)",
                    "  plain unchanged: kept (it depends on sidecar; Docker Compose does not replace a dependent "
                    "either)"]


def test_pid_and_ipc_of_a_service_join_its_namespace_as_network_mode_does(load) -> None:  # noqa: ANN001
    spec = load("""services:
  db: {image: postgres:15}
  web: {image: python:3.11-slim, depends_on: [db], restart_on_replace: [db]}
  metrics: {image: python:3.11-slim, network_mode: "service:web", depends_on: [web]}
  worker: {image: python:3.11-slim, pid: "service:web", ipc: "service:web", depends_on: [web]}
  shell: {image: python:3.11-slim, pid: "service:worker", depends_on: [worker]}
""")
    assert spec.services["worker"].namespace_owners == {"ipc": "web", "pid": "web"}
    assert in_namespace_of(spec, "web") == ["metrics", "worker"]
    assert restarted_with(spec, "web") == ["metrics", "worker", "shell"]  # Compose's implied restart: true
    assert joined_to(spec, {"web"}) == {"metrics": "web", "worker": "web", "shell": "worker"}
    # web is restarted (not replaced) when db is replaced: what is in its namespace is restarted with it
    assert restarted_in_namespace(spec, ["web"], {"db"}) == {"metrics": "web", "worker": "web", "shell": "worker"}
    assert restarted_in_namespace(spec, ["web"], {"db", "worker"}) == {"metrics": "web"}
    said: list[str] = []
    say_update(spec, RunDifference({"db": ["image"]}, added=[], removed=[]), said.append)
    assert said == ["  db changed (image): replacing it",
                    "  web unchanged: restarting it after db (depends_on restart: true)",
                    "  metrics unchanged: restarting it after web (its network_mode names web, whose namespace is "
                    "new once it starts again)",
                    "  worker unchanged: restarting it after web (its ipc names web, whose namespace is new once it "
                    "starts again)",
                    "  shell unchanged: restarting it after worker (its pid names worker, whose namespace is new once "
                    "it starts again)"]
    said = []
    say_update(spec, RunDifference({"web": ["image"]}, added=[], removed=[]), said.append)
    assert said[-2:] == ["  worker unchanged: recreating it after web (its ipc names web, whose container is new: "
                        "Docker Compose recreates it too)",
                        "  shell unchanged: recreating it after worker (its pid names worker, whose container is new: "
                        "Docker Compose recreates it too)"]


def test_a_restart_restarts_what_docker_compose_restart_restarts_and_what_is_in_its_namespace(load) -> None:  # noqa: ANN001
    spec = load("""services:
  tap: {image: python:3.11-slim, network_mode: "service:web", depends_on: [web]}
  web: {image: python:3.11-slim}
  db: {image: postgres:15}
  api: {image: python:3.11-slim, depends_on: [db, tap], restart_on_replace: [db, tap]}
  plain: {image: python:3.11-slim, depends_on: [db, web]}
  inner: {image: python:3.11-slim, network_mode: "service:tap", depends_on: [tap]}
""")
    assert in_namespace_of(spec, "web") == ["tap"]  # directly, file order
    assert in_namespace_of(spec, "db") == []
    # transitively, in dependency order (tap before api and inner), never a service that does not ask for it
    assert restarted_with(spec, "web") == ["tap", "api", "inner"]
    assert restarted_with(spec, "db") == ["api"]
    assert restarted_with(spec, "plain") == []


def test_compose_restart_true_is_restart_on_replace(load) -> None:  # noqa: ANN001
    spec = load("""services:
  db: {image: postgres:15}
  web:
    image: python:3.11-slim
    depends_on:
      db: {condition: service_started, restart: true}
  plain: {image: python:3.11-slim, depends_on: [db]}
""", "compose.yaml")
    assert spec.services["web"].restart_on_replace == ["db"]
    assert spec.services["plain"].restart_on_replace == []


def test_restart_on_replace_names_a_dependency(load_error) -> None:  # noqa: ANN001
    assert load_error("""services:
  db: {image: postgres:15}
  web: {image: python:3.11-slim, restart_on_replace: [db]}
""") == ("topology.yaml:3: services.web.restart_on_replace[0]: 'db' is not in depends_on of 'web' "
         "(restart_on_replace names some of its dependencies)")


def test_a_change_of_a_services_networks_replaces_it(tmp_path: Path) -> None:
    base = signature(tmp_path)
    assert signature_changes(base, signature(tmp_path, extra="    networks: [default]\n")) == ["networks"]
    assert signature_changes(base, signature(tmp_path, extra="    aliases: [www]\n")) == ["aliases"]


def test_a_changed_network_is_a_difference_of_the_run_and_none_without_networks(load) -> None:  # noqa: ANN001
    from harness.runtime import labels as L
    from harness.runtime import networks

    plain = load("services:\n  web: {image: x}\n")
    assert networks.declared_hashes(plain) == {}  # its one network carries no definition: kept runs stay as they were
    declared = load("services:\n  web: {image: x, networks: [back, shared]}\nnetworks:\n  back: {internal: true}\n"
                    "  shared: {external: true}\n")
    assert list(networks.declared_hashes(declared)) == ["back"]  # an external one is not the run's
    changed = load("services:\n  web: {image: x, networks: [back]}\nnetworks:\n  back: {internal: false}\n")
    assert networks.declared_hashes(changed)["back"] != networks.declared_hashes(declared)["back"]
    assert networks.engine_names(declared, "r1", "harness-t-r1") == {"back": "harness-t-back-r1", "shared": "shared"}
    assert networks.engine_names(plain, "r1", "harness-t-r1") == {"default": "harness-t-r1"}
    difference = RunDifference({}, added=[], removed=[], networks=["back"])
    assert difference and difference.lines() == ["networks changed: back"]
    assert L.NETWORK and L.NETWORK_DEFINITION


def test_a_service_is_on_its_networks_under_its_name_and_aliases_in_composes_order() -> None:
    from harness import topology
    from harness.runtime.networks import Attachment, attachments

    spec = (topology("t", base_dir=Path.cwd())
            .service("web", image="x", aliases=["the-web"],
                     networks={"front": {"aliases": ["www"]}, "back": {"ipv4_address": "10.9.0.5", "priority": 2}})
            .networks({"front": {}, "back": {"subnets": [{"subnet": "10.9.0.0/24"}]}}).spec)
    names = {"front": "n-front", "back": "n-back"}
    assert attachments(spec, "web", names) == [Attachment("n-back", ["web", "the-web"], "10.9.0.5"),
                                               Attachment("n-front", ["web", "the-web", "www"])]


def test_a_volumes_labels_are_part_of_its_definition_only_when_set() -> None:
    """A kept run's volume made before labels were honoured keeps its hash; a label set or changed is a changed
    definition (Compose asks whether to recreate it; without a terminal it is kept, and the run says so)."""
    import hashlib

    from harness.model.topology import VolumeSpec
    from harness.runtime.volumes import definition_hash

    plain = definition_hash(VolumeSpec(driver="local"))
    before = hashlib.sha256(json.dumps({"driver": "local", "driver_opts": {}}, sort_keys=True).encode()).hexdigest()
    assert plain == definition_hash(None) == definition_hash(VolumeSpec(labels={})) == before[:12]  # as it was
    shop = definition_hash(VolumeSpec(labels={"team": "shop"}))
    web = definition_hash(VolumeSpec(labels={"team": "web"}))
    assert len({plain, shop, web}) == 3


@pytest.mark.parametrize(("running", "now", "line"), [
    (2, 3, "  web scaled from 2 to 3 replicas: adding 1, its 2 running kept (as Docker Compose does)"),
    (3, 1, "  web scaled from 3 to 1 replica: removing the 2 highest-numbered, the other 1 kept (as Docker Compose "
           "does)"),
    (3, 0, "  web scaled from 3 to 0 replicas: removing all 3 (as Docker Compose does)"),
])
def test_a_changed_replica_count_alone_scales_the_service_and_replaces_nothing(load, running: int, now: int,
                                                                               line: str) -> None:  # noqa: ANN001
    spec = load(f"""services:
  web: {{image: python:3.11-slim, replicas: {now}}}
  tap: {{image: python:3.11-slim, network_mode: "service:web", depends_on: [web]}}
  client: {{image: python:3.11-slim, depends_on: [web], restart_on_replace: [web]}}
""") if now else load("""services:
  web: {image: python:3.11-slim, replicas: 0}
  client: {image: python:3.11-slim, depends_on: [web], restart_on_replace: [web]}
""")
    said: list[str] = []
    say_update(spec, RunDifference({"web": ["replicas"]}, added=[], removed=[], scaled={"web": running}), said.append)
    # what joins replica 1 or restarts after web is kept: replica 1 is (as under Compose)
    assert said == [line, *(["  tap unchanged: kept"] if now else []), "  client unchanged: kept"]
