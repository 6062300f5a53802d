"""The observation agent keeps bounded memory: bodies cut at its limit, calls of one kind aggregated into one count
(each distinct pair of bodies kept once with its count, up to a limit), kinds beyond its limit only counted. Pure logic (packets made with dpkt and fed to the agent's Observer), run in the
helper image because the agent's libraries (Debian's python3-dpkt and python3-httptools) are there, not in the
harness's virtualenv."""

from __future__ import annotations

import json
import textwrap
import uuid

import docker

from harness.runtime.helper_image import helper_image
from harness.runtime.observe import AGENT_FILES, DOCKERFILE

FEED = textwrap.dedent("""
    import json, socket, sys
    sys.path.insert(0, "/usr/local/lib/pytest-topology")
    import dpkt, observe_agent as agent

    def packet(src, sport, dst, dport, seq, flags, data=b"", ack=0):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=data)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len += len(tcp)
        return bytes(ip)

    observer = agent.Observer()
    client, server = "10.0.0.2", "10.0.0.3"
    for n, path in enumerate(["/items/1"] * 50 + ["/a", "/b", "/c", "/d"]):
        port, body = 40000 + n, (b"x" if n < 40 else b"%d" % (n % 5)) * 100  # 1 body, then 5 others in turn
        request = (f"POST {path} HTTP/1.1\\r\\nHost: s\\r\\nContent-Length: 100\\r\\n\\r\\n").encode() + body
        response = b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 100\\r\\n\\r\\n" + body
        observer.packet(packet(client, port, server, 80, 1000, dpkt.tcp.TH_SYN), True, n)
        observer.packet(packet(server, 80, client, port, 5000, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK), False, n)
        observer.packet(packet(client, port, server, 80, 1001, dpkt.tcp.TH_ACK, request), True, n)
        observer.packet(packet(server, 80, client, port, 5001, dpkt.tcp.TH_ACK, response), False, n + 0.5)
        observer.packet(packet(client, port, server, 80, 1001 + len(request), dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK),
                        True, n + 0.6)
        observer.packet(packet(server, 80, client, port, 5001 + len(response), dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK),
                        False, n + 0.6)
    print(json.dumps({"snapshot": observer.snapshot(0), "connections": len(observer.connections)}))
""")


def test_bodies_are_cut_and_calls_aggregated_within_the_agents_limits(docker_client: docker.DockerClient) -> None:
    image = helper_image(docker_client, "observe-helper", DOCKERFILE, AGENT_FILES)
    output = docker_client.containers.run(image, ["python3", "-c", FEED], remove=True, network_mode="none",
                                          name=f"observe-bounds-{uuid.uuid4().hex[:8]}",
                                          environment={"OBSERVE_BODY_LIMIT": "16", "OBSERVE_MAX_KINDS": "3",
                                                       "OBSERVE_MAX_BODIES": "3"})
    result = json.loads(output.decode().strip().splitlines()[-1])
    snapshot = result["snapshot"]
    calls = {call["path"]: call for call in snapshot["calls"]}
    assert sorted(calls) == ["/a", "/b", "/items/1"]  # 3 kinds kept (the limit); the 4th and 5th only counted
    assert snapshot["overflow"] == 2
    items = calls["/items/1"]
    assert items["count"] == 50  # fifty calls, one entry
    assert (items["request_bytes"], items["response_bytes"]) == (5000, 5000)  # sizes summed in full
    # each distinct pair of bodies kept once with its count (cut at the limit), up to the limit of pairs per kind
    bodies = {body["response_body"]: body for body in items["bodies"]}
    assert sorted(bodies) == ["0" * 16, "1" * 16, "x" * 16]
    assert [bodies[key]["count"] for key in ("x" * 16, "0" * 16, "1" * 16)] == [40, 2, 2]
    assert items["unsampled"] == 6  # the other three bodies' calls: counted, said not judged by the harness
    assert all(body["request_truncated"] and body["response_truncated"] for body in items["bodies"])
    assert items["seconds"] == 25.0 and items["max_seconds"] == 0.5
    assert result["connections"] == 0  # closed connections are not kept
    [flow] = snapshot["flows"]  # connections counted per kind, not kept one by one
    assert (flow["protocol"], flow["connections"], flow["broken"], flow["unanswered"]) == ("http", 54, 0, 0)
