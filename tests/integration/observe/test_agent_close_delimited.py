"""A response's end as HTTP/1.x defines it (RFC 9112 section 6.3), as the agent sees it: a body without
Content-Length or chunks ends when the server's direction of the connection closes (its FIN once every byte before it
passed, or a reset), an interim 1xx answer is not the request's response, 204 and 304 have no body, chunks end at the
last chunk. Each exchange gets its own status, never "no response" and never a dropped call (issue #26: the default of
Python's BaseHTTPRequestHandler). Pure logic (packets made with dpkt and fed to the agent's Observer), run in the helper
image, where the agent's libraries are."""

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
    A, SA, R = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, dpkt.tcp.TH_RST
    F = dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK

    def packet(src, sport, dst, dport, seq, flags, data=b""):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=data)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len += len(tcp)
        return bytes(ip)

    def exchange(port, steps, swap_last=False):
        # steps: (from the client?, flags, bytes); sequence numbers follow (a FIN takes one)
        out = [packet(SHOP, port, STOCK, 8000, 1000, dpkt.tcp.TH_SYN), packet(STOCK, 8000, SHOP, port, 9000, SA)]
        seq = {True: 1001, False: 9001}
        for client, flags, data in steps:
            ends = (SHOP, port, STOCK, 8000) if client else (STOCK, 8000, SHOP, port)
            out.append(packet(*ends, seq[client], flags, data))
            seq[client] += len(data) + (1 if flags & dpkt.tcp.TH_FIN else 0)
        if swap_last:  # the server's FIN passes before its last data segment
            out[-1], out[-2] = out[-2], out[-1]
        return out

    def get(path, method="GET", version="1.1", more=""):
        return f"{method} {path} HTTP/{version}\\r\\nHost: stock\\r\\n{more}\\r\\n".encode()

    HTTP10 = b"HTTP/1.0 200 OK\\r\\nServer: BaseHTTP/0.6 Python/3.11\\r\\nContent-Type: text/plain\\r\\n\\r\\n"
    CLOSE = b"HTTP/1.1 201 Created\\r\\nConnection: close\\r\\n\\r\\n"
    OK = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"
    CASES = {
        # BaseHTTPRequestHandler's default: HTTP/1.0, the body until the server closes, then the client closes
        "/http10": [(True, A, get("/http10", version="1.0")), (False, A, HTTP10), (False, A, b"hello"),
                    (False, F, b""), (True, F, b"")],
        # the FIN carries the body's last bytes
        "/fin-with-data": [(True, A, get("/fin-with-data", version="1.0")), (False, A, HTTP10),
                           (False, F, b"tail")],
        # HTTP/1.1 with Connection: close and neither length nor chunks; the client half-closes first
        "/close": [(True, A, get("/close")), (True, F, b""), (False, A, CLOSE), (False, A, b"made"),
                   (False, F, b"")],
        # the body ended by a reset of the server
        "/reset": [(True, A, get("/reset", version="1.0")), (False, A, HTTP10), (False, A, b"part"),
                   (False, R, b"")],
        # 100 Continue, then the response (one call, 200); 204 and 304 without a body on one kept connection
        "/continue": [(True, A, get("/continue", "POST", more="Content-Length: 2\\r\\nExpect: 100-continue\\r\\n")),
                      (False, A, b"HTTP/1.1 100 Continue\\r\\n\\r\\n"), (True, A, b"{}"), (False, A, OK),
                      (True, A, get("/empty", "DELETE")), (False, A, b"HTTP/1.1 204 No Content\\r\\n\\r\\n"),
                      (True, A, get("/same")), (False, A, b"HTTP/1.1 304 Not Modified\\r\\nETag: x\\r\\n\\r\\n"),
                      (True, A, get("/chunked")),
                      (False, A, b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\nab\\r\\n0\\r\\n\\r\\n"),
                      (True, F, b""), (False, F, b"")],
        # a response to HEAD has no body, whatever its Content-Length says (its header section in two segments),
        # then a GET on the same connection, then both again pipelined; and an HTTP/1.0 one ended by the close
        "/head": [(True, A, get("/head", "HEAD")), (False, A, b"HTTP/1.1 200 OK\\r\\nContent-Le"),
                  (False, A, b"ngth: 5\\r\\n\\r\\n"), (True, A, get("/after-head")), (False, A, OK),
                  (True, A, get("/head", "HEAD")), (True, A, get("/after-head")),  # pipelined: both answers in one
                  (False, A, b"HTTP/1.1 404 Not Found\\r\\nContent-Length: 9\\r\\n\\r\\n" + OK),
                  (True, F, b""), (False, F, b"")],
        "/head10": [(True, A, get("/head10", "HEAD", version="1.0")), (False, A, HTTP10), (False, F, b"")],
    }
    observer = agent.Observer()
    port = 41000
    for name, steps in CASES.items():
        port += 1
        for data in exchange(port, steps):
            observer.packet(data, True, 1.0)
    # the server's FIN before its last data segment: complete once that segment passed, with all of its bytes
    for data in exchange(port + 1, [(True, A, get("/reordered", version="1.0")), (False, A, HTTP10),
                                    (False, A, b"0123456789"), (False, F, b"")], swap_last=True):
        observer.packet(data, True, 1.0)
    # still streaming when the capture is read: in flight (no response yet), complete at the server's FIN
    streaming = exchange(port + 2, [(True, A, get("/stream", version="1.0")), (False, A, HTTP10), (False, A, b"x"),
                                    (False, F, b""), (True, F, b"")])
    for data in streaming[:-2]:
        observer.packet(data, True, 1.0)
    first = observer.snapshot(0)
    for data in streaming[-2:]:
        observer.packet(data, True, 1.0)
    print(json.dumps({"first": first, "later": observer.snapshot(0)}))
""")


@pytest.fixture(scope="module")
def fed(docker_client: docker.DockerClient) -> dict:
    image = helper_image(docker_client, "observe-helper", DOCKERFILE, AGENT_FILES)
    output = docker_client.containers.run(image, ["python3", "-c", FEED], remove=True, network_mode="none",
                                          name=f"observe-close-{uuid.uuid4().hex[:8]}")
    return json.loads(output.decode().strip().splitlines()[-1])


def calls(snapshot: dict) -> dict[tuple[str, str, int], tuple[int, int]]:
    return {(call["method"], call["path"], call["status"]): (call["count"], call["response_bytes"])
            for call in snapshot["calls"]}


def test_every_response_ends_where_http_says_each_call_with_its_status(fed: dict) -> None:
    assert calls(fed["later"]) == {
        ("GET", "/http10", 200): (1, 5), ("GET", "/fin-with-data", 200): (1, 4), ("GET", "/close", 201): (1, 4),
        ("GET", "/reset", 200): (1, 4), ("POST", "/continue", 200): (1, 2), ("DELETE", "/empty", 204): (1, 0),
        ("GET", "/same", 304): (1, 0), ("GET", "/chunked", 200): (1, 2), ("GET", "/reordered", 200): (1, 10),
        ("GET", "/stream", 200): (1, 1), ("HEAD", "/head", 200): (1, 0), ("GET", "/after-head", 200): (2, 4),
        ("HEAD", "/head", 404): (1, 0), ("HEAD", "/head10", 200): (1, 0)}
    assert fed["later"]["broken"] == 0
    assert sum(flow["unanswered"] for flow in fed["later"]["flows"]) == 0


def test_a_response_still_streaming_when_read_is_in_flight_then_counted_once_with_its_status(fed: dict) -> None:
    assert calls(fed["first"])[("GET", "/stream", 0)] == (1, 0)
    assert ("GET", "/stream", 200) not in calls(fed["first"])
    assert ("GET", "/stream", 0) not in calls(fed["later"])
