"""MAC addresses as Docker Compose gives them to an engine of each API version (networks.mac_addresses): per network
from API 1.44, else the container's own; Compose's refusals on an older engine, with its messages (recorded by the
model as what the file needs of the engine, refused by engine_check.refuse_unmet). The engine here (API 1.41) is the
older kind: tests/integration/model/test_compose_mac.py runs those cases against it and Compose."""

from __future__ import annotations

import pytest

from harness.errors import DockerError
from harness.runtime.engine_check import refuse_unmet
from harness.runtime.networks import attachments, mac_addresses

TOPOLOGY = """
    name: shop
    services:
      app:
        image: x
        {service_mac}
        networks:
          front: {{priority: 10{front}}}
          back: {{{back}}}
    networks: {{front: {{}}, back: {{}}}}
"""
NAMES = {"front": "run-front", "back": "run-back"}


def macs(load, api: str, service_mac: str = "", front: str = "", back: str = "") -> tuple[list, str | None]:  # noqa: ANN001
    spec = load(TOPOLOGY.format(service_mac=f"mac_address: '{service_mac}'" if service_mac else "",
                                front=f", mac_address: '{front}'" if front else "",
                                back=f"mac_address: '{back}'" if back else ""))
    attached, container = mac_addresses(spec, "app", attachments(spec, "app", NAMES), api)
    return [(a.network, a.mac_address) for a in attached], container


def test_from_api_1_44_each_network_has_its_own_and_the_services_goes_to_its_first_network(load) -> None:  # noqa: ANN001
    assert macs(load, "1.44", front="02:00:00:00:00:01", back="02:00:00:00:00:02") == (
        [("run-front", "02:00:00:00:00:01"), ("run-back", "02:00:00:00:00:02")], None)
    assert macs(load, "1.47", service_mac="02:00:00:00:00:03", back="02:00:00:00:00:02") == (
        [("run-front", "02:00:00:00:00:03"), ("run-back", "02:00:00:00:00:02")], None)


def test_before_api_1_44_the_services_mac_is_the_containers_and_another_networks_is_passed_on(load) -> None:  # noqa: ANN001
    assert macs(load, "1.41", service_mac="02:00:00:00:00:03") == ([("run-front", None), ("run-back", None)],
                                                                   "02:00:00:00:00:03")
    # as Compose: passed on to the engine, which applies no endpoint MAC address before API 1.44
    assert macs(load, "1.41", back="02:00:00:00:00:02") == ([("run-front", None), ("run-back", "02:00:00:00:00:02")],
                                                            None)


def refused(load, api: str, front: str = "", back: str = "") -> str:  # noqa: ANN001
    spec = load(TOPOLOGY.format(service_mac="", front=f", mac_address: '{front}'" if front else "",
                                back=f"mac_address: '{back}'" if back else ""))
    with pytest.raises(DockerError) as raised:
        refuse_unmet(spec, api)
    return str(raised.value)


def test_before_api_1_44_a_mac_on_the_first_network_or_on_several_is_refused_as_compose_refuses_it(load) -> None:  # noqa: ANN001
    assert refused(load, "1.41", front="02:00:00:00:00:01") == (
        "topology shop: 1 key of the file cannot be created on this Docker engine (API 1.41); Docker Compose "
        "refuses them too:\n"
        "topology.yaml:7: service 'app': networks.front.mac_address: \"specify mac-address per network\" requires API "
        "version 1.44, but the Docker daemon API version is 1.41 (needs API 1.44, Docker Engine 25)\n"
        "Use Docker Engine 25 or later (API 1.44); or remove these keys (or move them to an override file that the "
        "test run does not use).")
    assert refused(load, "1.43", front="02:00:00:00:00:01", back="02:00:00:00:00:02").splitlines()[1] == (
        "topology.yaml:6: service 'app': networks: a MAC address is specified for multiple networks (back, front), "
        "but this feature requires Docker Engine v25 or later (needs API 1.44, Docker Engine 25)")
    # what the engine takes: no refusal
    refuse_unmet(load(TOPOLOGY.format(service_mac="", front=", mac_address: '02:00:00:00:00:01'", back="")), "1.44")
    refuse_unmet(load(TOPOLOGY.format(service_mac="", front="", back="mac_address: '02:00:00:00:00:02'")), "1.41")


def test_a_service_mac_that_differs_from_its_first_networks_is_refused_as_compose_refuses_it(load_error) -> None:  # noqa: ANN001
    message = load_error(TOPOLOGY.format(service_mac="mac_address: '02:00:00:00:00:03'",
                                         front=", mac_address: '02:00:00:00:00:01'", back=""))
    assert "services.app: the service-level mac_address should have the same value as network front (its first " \
           "network, where Docker applies it; Docker Compose refuses it too): keep one of them" in message
