"""The capture names, before parsing, the connections other services open to its service (to skip those that are not
HTTP/1.x once their first bytes say so): read from the IPv4 and TCP headers of the packet as the raw socket gives
it."""

from __future__ import annotations

import socket
import struct

import pytest

from harness.runtime import observe_agent


def packet(src: str, sport: int, dst: str, dport: int, options: int = 0) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45 + options, 0, 40 + 4 * options, 0, 0, 64, 6, 0, socket.inet_aton(src),
                     socket.inet_aton(dst)) + b"\0" * 4 * options
    return ip + struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)


@pytest.fixture(autouse=True)
def stock_with_a_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe_agent, "PEERS", {"10.0.0.2"})  # the shop, as the stock's capture knows it
    monkeypatch.setattr(observe_agent, "LISTENS", {8000})


def test_a_peers_connection_to_this_service_is_named_both_ways() -> None:
    peer = ("10.0.0.2", 40000, 8000)
    assert observe_agent._from_peer(packet("10.0.0.2", 40000, "10.0.0.3", 8000), outgoing=False) == peer
    assert observe_agent._from_peer(packet("10.0.0.3", 8000, "10.0.0.2", 40000), outgoing=True) == peer
    assert observe_agent._from_peer(packet("10.0.0.2", 40000, "10.0.0.3", 8000, options=2), outgoing=False) == peer


def test_calls_this_service_makes_and_calls_from_outside_are_no_peers() -> None:
    assert not observe_agent._from_peer(packet("10.0.0.3", 40000, "10.0.0.2", 8000), outgoing=True)  # its own call
    assert not observe_agent._from_peer(packet("10.0.0.1", 40000, "10.0.0.3", 8000), outgoing=False)  # the tests
    assert not observe_agent._from_peer(packet("10.0.0.2", 40000, "10.0.0.3", 9000), outgoing=False)  # not served
    assert not observe_agent._from_peer(b"\x60" + b"\0" * 39, outgoing=False)  # not IPv4
