"""Every call the agent sees is counted: a request whose response never came (its client killed, the connection
reset) and one still awaited when the capture is read are calls with status 0; a call between two services has the
same identity in both namespaces (so the harness counts it once); a peer's connection that is not HTTP/1.x is skipped
by its server's capture after its first bytes. Pure logic (packets made with dpkt and fed to the agent's Observer),
run in the helper image, where the agent's libraries are (Debian's python3-dpkt and python3-httptools)."""

from __future__ import annotations

import json
import textwrap
import uuid

import docker
import pytest

from harness.runtime.helper_image import helper_image
from harness.runtime.observe import AGENT_FILES, DOCKERFILE

FEED = textwrap.dedent("""
    import json, socket, sys
    sys.path.insert(0, "/usr/local/lib/pytest-topology")
    import dpkt, observe_agent as agent

    SHOP, STOCK = "10.0.0.2", "10.0.0.3"
    A, SA, F, R = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, dpkt.tcp.TH_RST

    def packet(src, sport, dst, dport, seq, flags, data=b""):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=data)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len += len(tcp)
        return bytes(ip)

    def request(path):
        return f"GET {path} HTTP/1.1\\r\\nHost: stock\\r\\n\\r\\n".encode()

    OK = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"

    def exchange(port, isn, steps):
        # steps: (from the client?, flags, bytes); sequence numbers follow
        seq = {True: isn, False: 9000}
        out = [(True, packet(SHOP, port, STOCK, 8000, isn, dpkt.tcp.TH_SYN))]
        out.append((False, packet(STOCK, 8000, SHOP, port, 9000, SA)))
        seq = {True: isn + 1, False: 9001}
        for client, flags, data in steps:
            ends = (SHOP, port, STOCK, 8000) if client else (STOCK, 8000, SHOP, port)
            out.append((client, packet(ends[0], ends[1], ends[2], ends[3], seq[client], flags, data)))
            seq[client] += len(data)
        return out

    # 1: two calls on one kept connection, then a third whose client is killed (a reset, no response)
    kept = exchange(40001, 1000, [(True, A, request("/items/1")), (False, A, OK), (True, A, request("/items/2")),
                                  (False, A, OK), (True, A, request("/items/3")), (True, R, b"")])
    # 2: a call still awaited when the capture is read (its response comes after the first snapshot)
    awaited = exchange(40002, 5000, [(True, A, request("/slow"))])
    answer = [(False, packet(STOCK, 8000, SHOP, 40002, 9001, A, OK))]
    # 3: the shop's Redis-like connection to the stock's port 8000 (not HTTP)
    other = exchange(40003, 7000, [(True, A, b"*1\\r\\n$4\\r\\nPING\\r\\n"), (False, A, b"+PONG\\r\\n"),
                                   (True, A, b"*1\\r\\n$4\\r\\nPING\\r\\n")])

    # 4: a kept-alive connection opened before the capture: the end of an earlier answer, then two calls
    def joined(port):
        request_1, request_2 = request("/items/7"), request("/items/8")
        return [(False, packet(STOCK, 8000, SHOP, port, 20000, A, b"tail of an answer")),
                (True, packet(SHOP, port, STOCK, 8000, 3000, A, request_1)),
                (False, packet(STOCK, 8000, SHOP, port, 20017, A, OK)),
                (True, packet(SHOP, port, STOCK, 8000, 3000 + len(request_1), A, request_2)),
                (False, packet(STOCK, 8000, SHOP, port, 20017 + len(OK), A, OK))]

    # 6: a peer's binary protocol whose client speaks first without a line (PostgreSQL's startup), the server answers
    binary = exchange(40006, 6000, [(True, A, bytes([0, 0, 0, 8, 4, 210, 22, 47])), (False, A, b"N"),
                                    (True, A, bytes([0, 0, 0, 16]) + b"more")])

    # 5: a request sent in two segments, the second passing first in the stock's namespace (held, then in order)
    def split(reordered):
        whole = request("/items/9")
        first, second = whole[:10], whole[10:]
        packets = exchange(40005, 8000, [])
        parts = [(True, packet(SHOP, 40005, STOCK, 8000, 8001, A, first)),
                 (True, packet(SHOP, 40005, STOCK, 8000, 8011, A, second))]
        return packets + (parts[::-1] if reordered else parts) + [
            (False, packet(STOCK, 8000, SHOP, 40005, 9001, A, OK))]

    def feed(observer, packets, at_shop):
        for client, data in packets:
            observer.packet(data, client == at_shop, 1.0)

    shop = agent.Observer()  # the consumer's namespace: its own calls (the stock is not its peer-server)
    agent.PEERS, agent.LISTENS = {SHOP}, {8000}
    stock = agent.Observer()  # the provider's namespace: its peer's calls too
    for observer, at_shop in ((shop, True), (stock, False)):
        feed(observer, kept + awaited + other, at_shop)
    feed(shop, joined(40004), True)
    feed(shop, binary, True)
    feed(stock, binary, False)
    feed(shop, split(reordered=False), True)
    feed(stock, split(reordered=True), False)
    feed(stock, joined(40004), False)  # the provider's capture leaves it to the consumer's
    followed = stock.connections[(SHOP, 40003, STOCK, 8000)].client
    before = followed.bytes
    feed(stock, [(True, packet(SHOP, 40003, STOCK, 8000, 7029, A, b"*1\\r\\n"))], False)
    skipped_after_first_bytes = followed.bytes == before > 0
    first = {"shop": shop.snapshot(0), "stock": stock.snapshot(0)}
    feed(shop, answer, True)
    feed(stock, answer, False)
    later = {"shop": shop.snapshot(0), "stock": stock.snapshot(0)}
    print(json.dumps({"first": first, "later": later, "skipped": skipped_after_first_bytes}))
""")


@pytest.fixture(scope="module")
def fed(docker_client: docker.DockerClient) -> dict:
    image = helper_image(docker_client, "observe-helper", DOCKERFILE, AGENT_FILES)
    output = docker_client.containers.run(image, ["python3", "-c", FEED], remove=True, network_mode="none",
                                          name=f"observe-calls-{uuid.uuid4().hex[:8]}")
    return json.loads(output.decode().strip().splitlines()[-1])


def counts(snapshot: dict) -> dict[tuple[str, int], int]:
    return {(call["path"], call["status"]): call["count"] for call in snapshot["calls"]}


JOINED = {("/items/7", 200): 1, ("/items/8", 200): 1}  # in the consumer's namespace only
SPLIT = {("/items/9", 200): 1}


def test_a_request_never_answered_is_a_call_without_a_status(fed: dict) -> None:
    for namespace, more in (("shop", JOINED), ("stock", {})):
        assert counts(fed["first"][namespace]) == {("/items/1", 200): 1, ("/items/2", 200): 1, ("/items/3", 0): 1,
                                                   ("/slow", 0): 1, **SPLIT, **more}, namespace


def test_a_call_awaited_when_read_is_in_flight_one_whose_connection_was_reset_is_not(fed: dict) -> None:
    # the harness does not judge the coverage of a call in flight (its answer may come yet: by the read's moment),
    # while a request its connection closed on unanswered stays a call to judge (observe/coverage.py)
    for namespace in ("shop", "stock"):
        flight = {call["path"]: call["in_flight"] for call in fed["first"][namespace]["calls"] if call["status"] == 0}
        assert flight == {"/items/3": False, "/slow": True}, namespace
        assert not any(call["in_flight"] for call in fed["later"][namespace]["calls"]), namespace


def test_a_call_awaited_when_read_counts_once_answered_later(fed: dict) -> None:
    for namespace, more in (("shop", 2), ("stock", 0)):
        later = counts(fed["later"][namespace])
        assert later[("/slow", 200)] == 1 and ("/slow", 0) not in later, namespace
        assert sum(later.values()) == 5 + more


def test_calls_on_a_connection_opened_before_the_capture_are_followed_from_the_next_request(fed: dict) -> None:
    shop = fed["later"]["shop"]
    assert {key: count for key, count in counts(shop).items() if key in JOINED} == JOINED
    assert shop["early"] == [] and shop["broken"] == 0  # (the earlier answer's end is no call and no gap)


def test_a_call_has_the_same_identity_in_both_namespaces(fed: dict) -> None:
    def ids(snapshot: dict) -> dict[tuple[str, int], list[str]]:
        return {(call["path"], call["status"]): call["ids"] for call in snapshot["calls"]}

    shop, stock = ids(fed["later"]["shop"]), ids(fed["later"]["stock"])
    assert {key: value for key, value in shop.items() if key not in JOINED} == stock
    assert shop[("/items/1", 200)] == ["10.0.0.2:40001:1001:0"]  # client, its port, the request's first byte
    assert stock[("/items/9", 200)] == ["10.0.0.2:40005:8001:0"]  # (its segments out of order there)
    assert len({ident for group in shop.values() for ident in group}) == 7


def test_a_peers_connection_that_is_not_http_is_skipped_after_its_first_bytes(fed: dict) -> None:
    assert fed["skipped"]
    flows = {(flow["port"], flow["protocol"]): flow["connections"] for flow in fed["later"]["shop"]["flows"]}
    assert flows[(8000, "other")] == 2  # the consumer's capture counts them (the binary one named by the answer)
