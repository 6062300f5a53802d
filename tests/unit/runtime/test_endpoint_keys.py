"""A service's per-network keys and healthcheck start_interval as Docker Compose v2.40 gives them to an engine of
each API version (networks.attachments, Attachment.endpoint, engine_check.refuse_unmet over what the model records
the file needs of the engine): what it refuses on an old engine is refused with its message, all of them in one (tests/integration/model/test_compose_endpoint_keys.py: the same against this
engine, API 1.41, and Compose itself)."""

from __future__ import annotations

import pytest

from harness.errors import DockerError
from harness.runtime.engine_check import refuse_unmet
from harness.runtime.networks import attachments

TOPOLOGY = """
    name: shop
    services:
      app:
        image: x
        {healthcheck}
        networks:
          front:
            link_local_ips: ["169.254.8.8"]
            driver_opts: {{com.docker.network.endpoint.ifname: old0, x: "1"}}
            gw_priority: 3
            {front}
          back: {{}}
    networks: {{front: {{}}, back: {{}}}}
"""


def spec_of(load, front: str = "", healthcheck: str = ""):  # noqa: ANN001, ANN201
    return load(TOPOLOGY.format(front=front, healthcheck=healthcheck))


def test_the_endpoint_carries_the_keys_as_compose_writes_them(load) -> None:  # noqa: ANN001
    spec = spec_of(load, front="interface_name: web0")
    back, front = attachments(spec, "app", {"front": "run-front", "back": "run-back"})
    # in the order Compose connects them (priority, then name); interface_name wins over the same driver option, as in Compose's createEndpointSettings
    assert front.endpoint("1.49") == {
        "Aliases": ["app"], "IPAMConfig": {"LinkLocalIPs": ["169.254.8.8"]}, "GwPriority": 3,
        "DriverOpts": {"com.docker.network.endpoint.ifname": "web0", "x": "1"}}
    assert back.endpoint("1.41") == {"Aliases": ["app"]}


def refusal(spec, api: str) -> list[str]:  # noqa: ANN001
    with pytest.raises(DockerError) as raised:
        refuse_unmet(spec, api)
    return str(raised.value).splitlines()


@pytest.mark.parametrize("api", ["1.41", "1.44", "1.48"])
def test_interface_name_before_api_1_49_is_refused_with_composes_message(load, api: str) -> None:  # noqa: ANN001
    assert refusal(spec_of(load, front="interface_name: web0"), api) == [
        f"topology shop: 1 key of the file cannot be created on this Docker engine (API {api}); Docker Compose "
        "refuses them too:",
        "topology.yaml:11: service 'app': networks.front.interface_name: interface_name requires Docker Engine v28.1 "
        "or later (needs API 1.49, Docker Engine 28.1)",
        "Use Docker Engine 28.1 or later (API 1.49); or remove these keys (or move them to an override file that the "
        "test run does not use)."]
    refuse_unmet(spec_of(load, front="interface_name: web0"), "1.49")


def test_start_interval_before_api_1_44_is_refused_with_composes_message(load) -> None:  # noqa: ANN001
    check = "healthcheck: {test: [CMD, 'true'], start_period: 10s, start_interval: 1s}"
    assert refusal(spec_of(load, healthcheck=check), "1.43")[1] == (
        "topology.yaml:5: service 'app': healthcheck.start_interval: can't set healthcheck.start_interval as feature "
        "require Docker Engine v25 or later (needs API 1.44, Docker Engine 25)")
    refuse_unmet(spec_of(load, healthcheck=check), "1.44")


def test_start_interval_without_start_period_is_refused_as_compose_does(load) -> None:  # noqa: ANN001
    spec = spec_of(load, healthcheck="healthcheck: {test: [CMD, 'true'], start_interval: 1s}")
    assert refusal(spec, "1.44")[1:] == [
        "topology.yaml:5: service 'app': healthcheck.start_interval: healthcheck.start_interval requires "
        "healthcheck.start_period to be set (Docker Compose refuses it on every engine)",
        "Give each such healthcheck a start_period; or remove these keys (or move them to an override file that the "
        "test run does not use)."]
    # an older engine: Compose says the engine is too old first
    assert "can't set healthcheck.start_interval as feature require Docker Engine v25" in refusal(spec, "1.41")[1]


def test_every_key_the_engine_is_too_old_for_is_in_one_message_in_file_order(load) -> None:  # noqa: ANN001
    spec = spec_of(load, front="interface_name: web0\n            mac_address: '02:00:00:00:00:01'",
                   healthcheck="healthcheck: {test: [CMD, 'true'], start_period: 10s, start_interval: 1s}")
    lines = refusal(spec, "1.41")
    # (a MAC address on a network that is not the first, back, is passed on before API 1.44, as by Compose)
    assert lines[0].startswith("topology shop: 2 keys of the file cannot be created on this Docker engine (API 1.41)")
    assert [line.split(": ")[2] for line in lines[1:3]] == ["healthcheck.start_interval",
                                                            "networks.front.interface_name"]
    assert lines[3].startswith("Use Docker Engine 28.1 or later (API 1.49)")
    assert [line.split(": ")[2] for line in refusal(spec, "1.44")[1:2]] == ["networks.front.interface_name"]
