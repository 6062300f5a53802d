"""`engines:` (several Docker engines joined by a swarm overlay network) and a service's `placement:`: what a valid
file becomes, and the one error a user sees for each bad one (issue #27)."""

from __future__ import annotations

from harness.model.topology import EngineSpec

TWO = """engines:
  - {name: manager, host: "tcp://10.250.1.10:2375"}
  - {name: edge, host: my-context}
"""


def test_placement_names_the_engine_and_the_others_go_to_the_lightest(load):
    spec = load(TWO + "services:\n  web: {image: web, placement: edge}\n  db: {image: db}\n")
    assert spec.engines == [EngineSpec(name="manager", host="tcp://10.250.1.10:2375"),
                            EngineSpec(name="edge", host="my-context")]
    assert [spec.engine_of(name) for name in spec.services] == ["edge", "manager"]


def test_a_topology_without_engines_is_on_one_engine(load):
    spec = load("services:\n  web: {image: web}\n")
    assert spec.engines == []
    assert spec.engine_of("web") is None


def test_compose_x_topology_keeps_the_order_of_engines(load):
    """Docker Compose sorts mappings when it normalises a file: a list keeps which engine is the manager."""
    spec = load("""
        services:
          web:
            image: web
            x-topology: {placement: edge}
          db:
            image: db
        x-topology:
          engines:
            - {name: manager, host: "tcp://10.250.1.10:2375"}
            - {name: edge, host: "ssh://me@edge"}
    """, "compose.yaml")
    assert [engine.name for engine in spec.engines] == ["manager", "edge"]
    assert spec.engine_of("web") == "edge"
    assert spec.engine_of("db") == "manager"


def test_one_engine_is_refused(load_error):
    assert load_error("""
        engines: [{name: only, host: "tcp://10.250.1.10:2375"}]
        services:
          web: {image: web}
    """) == ("topology.yaml:1: engines: names one engine: `engines:` is for two or more (a topology on one engine "
             "needs none: DOCKER_HOST or the Docker context chooses it)")


def test_names_and_hosts_that_are_wrong(load_error):
    assert load_error("""
        engines:
          - {name: a, host: "ftp://h:21"}
          - {name: a, host: "not a context"}
          - {name: "b c", host: ctx}
        services:
          web: {image: web}
    """) == (
        "topology.yaml:2: engines[0].host: 'ftp://h:21' is neither a Docker engine URL (tcp://, ssh://, unix://, "
        "http://, https://, npipe://) nor a Docker context's name\n"
        "topology.yaml:3: engines[1].name: 'a' names two engines: give each its own name\n"
        "topology.yaml:3: engines[1].host: 'not a context' is neither a Docker engine URL (tcp://HOST:PORT, "
        "ssh://USER@HOST, unix:///PATH) nor a Docker context's name\n"
        "topology.yaml:4: engines[2].name: 'b c' is not an engine name (letters, digits, '_', '.', '-')")


def test_an_unknown_placement_names_the_engines(load_error):
    assert load_error(TWO + "services:\n  web: {image: web, placement: egde}\n") == (
        "topology.yaml:5: services.web.placement: 'egde' is not an engine of `engines:` (manager, edge) "
        "(did you mean 'edge'?)")


def test_a_placement_without_engines(load_error):
    assert load_error("""
        services:
          web: {image: web, placement: edge}
    """) == ("topology.yaml:2: services.web.placement: 'edge' names an engine, but the topology has no `engines:` "
             "(engine name -> URL or Docker context)")


def test_declared_networks_are_refused_across_engines(load_error):
    assert load_error("""
        services:
          web: {image: web, networks: [front]}
        networks:
          front: {}
        x-topology:
          engines: [{name: a, host: ctx-a}, {name: b, host: ctx-b}]
    """, "compose.yaml") == (
        "compose.yaml:2: services.web.networks: with `engines:` every service is on one overlay network of the run; declared "
        "networks are not supported across engines yet: remove `networks:` (and the services' `networks:`)")


def test_what_must_share_an_engine_does(load_error):
    assert load_error(TWO + """services:
  db: {image: db, placement: manager, volumes: [{source: data, target: /data}]}
  web:
    image: web
    placement: edge
    depends_on: [db]
    network_mode: "service:db"
    volumes: [{source: data, target: /cache}]
""") == (
        "topology.yaml:10: services.web.network_mode: 'db' runs on engine 'manager', 'web' on 'edge': network_mode "
        "needs both on one engine (give them one placement)\n"
        "topology.yaml:11: services.web.volumes: volume 'data' is also used by 'db' on engine 'manager', 'web' "
        "runs on 'edge': a named volume is on one engine (give them one placement)")


THREE = """engines:
  - {name: a, host: ctx-a}
  - {name: b, host: ctx-b}
  - {name: c, host: ctx-c}
"""


def test_services_without_placement_are_spread_by_weight(load):
    """Heaviest first, each to the engine with the least weight so far (the first of equals): the same file gives
    the same placement every time."""
    text = THREE + """services:
  api: {image: api}
  db: {image: db, weight: 4}
  worker: {image: worker}
  web: {image: web}
  cache: {image: cache, weight: 0.5}
"""
    spec = load(text)
    placed = {name: spec.engine_of(name) for name in spec.services}
    assert placed == {"api": "b", "db": "a", "worker": "c", "web": "b", "cache": "c"}
    assert {name: load(text).engine_of(name) for name in spec.services} == placed


def test_placed_services_count_and_what_must_share_an_engine_goes_together(load, tmp_path):
    """Services of one build context, of one named volume, or of one network namespace are one group: a placed
    member takes the group along; a floating group weighs its members' sum."""
    (tmp_path / "app").mkdir()
    for dockerfile in ("Dockerfile", "Dockerfile.jobs"):
        (tmp_path / "app" / dockerfile).write_text("FROM scratch\n")
    spec = load(THREE + """services:
  db: {image: db, placement: a, weight: 3, volumes: [{source: data, target: /data}]}
  backup: {image: backup, volumes: [{source: data, target: /backup}]}
  api: {build: ./app}
  jobs: {build: {context: app, dockerfile: Dockerfile.jobs}}
  probe: {image: probe, network_mode: "service:api", depends_on: [api]}
  web: {image: web, weight: 2}
  edge: {image: edge}
""")
    assert {name: spec.engine_of(name) for name in spec.services} == {
        "db": "a", "backup": "a", "api": "b", "jobs": "b", "probe": "b", "web": "c", "edge": "c"}


def test_a_weight_must_be_positive(load_error):
    assert load_error(THREE + "services:\n  web: {image: web, weight: 0}\n") == (
        "topology.yaml:6: services.web.weight: Input should be greater than 0 (found 0)")


def test_compose_x_topology_weight(load):
    spec = load("""
        services:
          db:
            image: db
            x-topology: {weight: 5}
          web: {image: web}
          api: {image: api}
        x-topology:
          engines: [{name: a, host: ctx-a}, {name: b, host: ctx-b}]
    """, "compose.yaml")
    assert {name: spec.engine_of(name) for name in spec.services} == {"db": "a", "web": "b", "api": "b"}
