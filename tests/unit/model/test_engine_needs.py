"""What a topology's keys need of the engine, recorded by the model as data at each key's line (model/engine_needs.py),
also for a file refused as it is read (the error carries them, so that a front-end can add an engine's refusals to
its message)."""

from __future__ import annotations

import pytest

from harness.errors import TopologyFileError
from harness.model.engine_needs import EngineNeed

TOPOLOGY = """\
name: shop
services:
  api:
    image: x
    healthcheck: {test: [CMD, 'true'], start_interval: 1s}
    networks:
      front: {interface_name: web0, mac_address: '02:00:00:00:00:01'}
  worker:
    image: x
    network_mode: none
networks: {front: {}}
"""


def test_each_key_an_older_engine_refuses_is_recorded_at_its_line_with_composes_words(load) -> None:  # noqa: ANN001
    needs = load(TOPOLOGY).engine_needs
    assert [(n.where, n.service, n.key, n.api) for n in needs] == [
        ("topology.yaml:5", "api", "healthcheck.start_interval", "1.44"),
        ("topology.yaml:7", "api", "networks.front.interface_name", "1.49"),
        ("topology.yaml:7", "api", "networks.front.mac_address", "1.44")]
    start_interval, interface_name, mac = needs
    assert interface_name.said("1.41") == (
        "topology.yaml:7: service 'api': networks.front.interface_name: interface_name requires Docker Engine v28.1 "
        "or later (needs API 1.49, Docker Engine 28.1)")
    assert mac.said("1.43").endswith("requires API version 1.44, but the Docker daemon API version is 1.43 (needs "
                                     "API 1.44, Docker Engine 25)")
    assert [n.met_by("1.44") for n in needs] == [False, False, True]  # no start_period: refused on every engine
    assert start_interval.said("1.44") == (
        "topology.yaml:5: service 'api': healthcheck.start_interval: healthcheck.start_interval requires "
        "healthcheck.start_period to be set (Docker Compose refuses it on every engine)")
    assert [n.met_by("1.49") for n in needs] == [False, True, True]


def test_a_topology_that_needs_nothing_records_nothing(load) -> None:  # noqa: ANN001
    spec = load("name: shop\nservices:\n  api: {image: x, networks: {front: {mac_address: '02:00:00:00:00:01'}, "
                "back: {priority: 5}}}\nnetworks: {front: {}, back: {}}\n")
    assert spec.engine_needs == []  # a MAC address on a network that is not the first: passed on as Compose does
    assert spec.with_image_substitutes({"x": "y"}).engine_needs == []


@pytest.mark.parametrize(("problem", "said"), [
    ("consumes: [nobody]", "'nobody' is not a service"),  # a reference: found once the spec is made
    ("ports: [http]", "services.api.ports[0]"),  # a value: found while it is made
], ids=["reference", "value"])
def test_a_file_refused_as_it_is_read_carries_what_its_keys_need(write, problem: str, said: str) -> None:  # noqa: ANN001
    from harness.model.loader import load_topology

    file = write(f"name: shop\nservices:\n  api:\n    image: x\n    {problem}\n"
                 "    healthcheck: {test: [CMD, 'true'], start_period: 5, start_interval: 1}\n")
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert said in str(raised.value)
    assert [(n.key, n.where) for n in raised.value.engine_needs if isinstance(n, EngineNeed)] == [
        ("healthcheck.start_interval", "topology.yaml:6")]


def test_a_compose_file_refused_as_it_is_read_carries_what_its_keys_need(write) -> None:  # noqa: ANN001
    from harness.model.loader import load_topology

    file = write("services:\n  api:\n    image: x\n    provider: {type: x}\n    build:\n      context: .\n"
                 "      additional_contexts: {extra: .}\n", "compose.yaml")
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert "compose key 'provider' cannot be honoured by a test run" in str(raised.value)
    assert [(n.key, n.where, n.api) for n in raised.value.engine_needs] == [
        ("build.additional_contexts", "compose.yaml:7", "1.42")]


def test_an_image_volume_of_a_compose_file_needs_docker_28_with_composes_words(load) -> None:  # noqa: ANN001
    spec = load("""
        services:
          app:
            image: x
            healthcheck: {test: [CMD, 'true'], start_period: 5s, start_interval: 1s}
            volumes:
              - {type: image, source: "python:3.11-slim", target: /python, read_only: true, image: {subpath: usr}}
    """, "compose.yaml")
    assert [v.model_dump() for v in spec.services["app"].image_volumes] == [
        {"image": "python:3.11-slim", "target": "/python", "read_only": True, "subpath": "usr"}]
    assert [need.said("1.41") for need in spec.engine_needs] == [
        "compose.yaml:4: service 'app': healthcheck.start_interval: can't set healthcheck.start_interval as feature "
        "require Docker Engine v25 or later (needs API 1.44, Docker Engine 25)",
        "compose.yaml:5: service 'app': image_volumes: volume with type=image require Docker Engine v28 or later "
        "(needs API 1.48, Docker Engine 28)"]
    assert [need.met_by("1.48") for need in spec.engine_needs] == [True, True]


def test_a_volume_subpath_an_older_engine_drops_is_a_note_at_its_line_not_a_refusal(load) -> None:  # noqa: ANN001
    """Before API 1.45 the engine mounts the whole volume and Compose passes `subpath` all the same (no error): the
    start goes on as Compose's, and says it (harness.runtime.engine_check.refuse_unmet returns the line)."""
    from harness.runtime.engine_check import refuse_unmet

    spec = load("""
        services:
          app:
            image: x
            volumes:
              - ./conf:/conf
              - type: volume
                source: data
                target: /data
                volume: {subpath: v1}
        volumes: {data: {}}
    """, "compose.yaml")
    [need] = spec.engine_needs
    said = ("compose.yaml:6: service 'app': subpath of the volume at /data: 'v1' ignored: this Docker engine (API "
            "1.41) mounts the whole volume data there, as under Docker Compose (it passes the key all the same), so the "
            "service sees other files than the file says (needs API 1.45, Docker Engine 26)")
    assert (need.ignored, need.met_by("1.41"), need.said("1.41")) == (True, True, said)
    assert refuse_unmet(spec, "1.41") == [said]
    assert refuse_unmet(spec, "1.45") == []
    assert refuse_unmet(spec, "1.41", services={"other"}) == []
