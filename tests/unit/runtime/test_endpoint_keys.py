"""A service's per-network keys and healthcheck start_interval as Docker Compose v2.40 gives them to an engine of
each API version (networks.attachments, Attachment.endpoint, networks.refuse_for_engine): what it refuses on an old
engine is refused with its message (tests/integration/model/test_compose_endpoint_keys.py: the same against this
engine, API 1.41, and Compose itself)."""

from __future__ import annotations

import pytest

from harness.errors import DockerError
from harness.runtime.networks import attachments, refuse_for_engine

TOPOLOGY = """
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


@pytest.mark.parametrize("api", ["1.41", "1.44", "1.48"])
def test_interface_name_before_api_1_49_is_refused_with_composes_message(load, api: str) -> None:  # noqa: ANN001
    with pytest.raises(DockerError) as raised:
        refuse_for_engine(spec_of(load, front="interface_name: web0"), "app", api)
    assert str(raised.value).startswith(
        f"service 'app': interface_name requires Docker Engine v28.1 or later (the engine has API {api}; "
        "networks.front.interface_name; Docker Compose refuses it too)")
    refuse_for_engine(spec_of(load, front="interface_name: web0"), "app", "1.49")


def test_start_interval_before_api_1_44_is_refused_with_composes_message(load) -> None:  # noqa: ANN001
    check = "healthcheck: {test: [CMD, 'true'], start_period: 10s, start_interval: 1s}"
    with pytest.raises(DockerError) as raised:
        refuse_for_engine(spec_of(load, healthcheck=check), "app", "1.43")
    assert str(raised.value).startswith(
        "service 'app': can't set healthcheck.start_interval as feature require Docker Engine v25 or later (the "
        "engine has API 1.43; Docker Compose refuses it too)")
    refuse_for_engine(spec_of(load, healthcheck=check), "app", "1.44")


def test_start_interval_without_start_period_is_refused_as_compose_does(load) -> None:  # noqa: ANN001
    with pytest.raises(DockerError) as raised:
        refuse_for_engine(spec_of(load, healthcheck="healthcheck: {test: [CMD, 'true'], start_interval: 1s}"), "app",
                          "1.44")
    assert str(raised.value).startswith("service 'app': healthcheck.start_interval requires healthcheck.start_period "
                                        "to be set (Docker Compose refuses it too)")
