"""Who called whom, from a helper's records (pure: the addresses are given)."""

from __future__ import annotations

import ipaddress

from harness.runtime.observe_records import OUTSIDE, OutsideAddresses, early_record, record_ends

OWNERS = {"10.0.0.2": "shop", "10.0.0.3": "stock", "10.0.0.4": "redis"}
GATEWAYS = {"10.0.0.1"}
EXPOSED = {"shop": {8000}, "stock": {8000}, "redis": {6379}}


def record(client: str, server: str, outgoing: bool | None, port: int = 8000) -> dict:
    return {"client": client, "server": server, "port": port, "outgoing": outgoing}


def test_a_call_between_services_is_counted_once_in_the_consumers_namespace() -> None:
    assert record_ends("shop", record("10.0.0.2", "10.0.0.3", True), OWNERS, GATEWAYS) == ("shop", "stock")
    assert record_ends("stock", record("10.0.0.2", "10.0.0.3", False), OWNERS, GATEWAYS) is None


def test_a_call_from_the_gateway_is_from_outside_and_other_addresses_are_named() -> None:
    assert record_ends("shop", record("10.0.0.1", "10.0.0.2", False), OWNERS, GATEWAYS) == (OUTSIDE, "shop")
    assert record_ends("shop", record("10.0.0.9", "10.0.0.2", False), OWNERS, GATEWAYS) == \
        ("10.0.0.9 (not in the topology)", "shop")
    assert record_ends("shop", record("10.0.0.2", "10.0.0.9", True), OWNERS, GATEWAYS) == \
        ("shop", "10.0.0.9 (not in the topology)")


def test_a_connection_opened_before_the_capture_is_told_apart_by_the_exposed_port() -> None:
    early = early_record({"ends": [["10.0.0.2", 45000], ["10.0.0.4", 6379]], "bytes": 17}, OWNERS, EXPOSED)
    assert (early["client"], early["server"], early["port"]) == ("10.0.0.2", "10.0.0.4", 6379)
    assert record_ends("shop", early, OWNERS, GATEWAYS) == ("shop", "redis")
    assert record_ends("redis", early, OWNERS, GATEWAYS) is None  # the client's namespace counts it
    # a client port below the server's (a low ephemeral port) is still the client: the server exposes its port
    low = early_record({"ends": [["10.0.0.2", 1024], ["10.0.0.3", 8000]], "bytes": 0}, OWNERS, EXPOSED)
    assert (low["server"], low["port"]) == ("10.0.0.3", 8000)
    from_outside = early_record({"ends": [["10.0.0.1", 50000], ["10.0.0.4", 6379]], "bytes": 5}, OWNERS, EXPOSED)
    assert record_ends("redis", from_outside, OWNERS, GATEWAYS) == (OUTSIDE, "redis")


def test_an_address_in_none_of_the_runs_subnets_is_from_outside() -> None:
    """A remote engine, or one of several (its overlay network has no gateway), hands a published port the caller's
    own address: outside the topology; an unknown address inside the run's subnet is another container, named."""
    outside = OutsideAddresses(frozenset(), (ipaddress.ip_network("10.0.5.0/24"),))
    assert "10.250.86.1" in outside and "10.0.5.9" not in outside and "not an address" not in outside
    assert record_ends("front", record("10.250.86.1", "10.0.5.6", False), {"10.0.5.6": "front"}, outside) == (
        OUTSIDE, "front")
    assert record_ends("front", record("10.0.5.9", "10.0.5.6", False), {"10.0.5.6": "front"}, outside) == (
        "10.0.5.9 (not in the topology)", "front")
    assert "172.18.0.1" in OutsideAddresses(frozenset({"172.18.0.1"}), (ipaddress.ip_network("172.18.0.0/16"),))
