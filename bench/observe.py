"""What observation (--observe) adds (not a test: prints figures).

    .venv/bin/python bench/observe.py [--scenario-rounds N] [--rounds N] [--calls N] [--parse-calls N]

Every part runs a discarded warm-up round first, then rounds whose order alternates (ABBA: plain then observed, then
observed then plain, ...: whichever runs first pays what the other finds warm), and prints medians; read each figure
next to the load average it prints (2 cores shared with other work).

1. Runnerly's scenarios (scenarios/runnerly), with and without --observe, on one kept topology (--topology-reuse,
started once). The figure is the tests themselves (bench/plugins/timeline.py: setup + call + teardown of every test,
less the `topology` fixture's setup, where --observe starts its helpers, and the restore checks): the ratio
with/without per round, and its median; and the whole session's wall time, with what --observe adds outside
the tests (the helpers' start in the topology fixture, the reading and the pact replay at the session's end) as
its own ratio and medians. Target: <= 5 %. Then the tests whose median time differs most (from each
run's JUnit file): where the rest goes.

2. Per call, end to end: the shop/stock/redis topology of the tests (tests/topologies/observe-app): each GET /order/1
makes two HTTP calls from the shop to the stock on one connection and one Redis command. Per round: the median time
of `calls` orders without a capture and with the capture running in every service's namespace (its helpers started
before, read and removed after, outside the timing). The figure per call between services is the difference divided
by the three calls an order makes (and the ratio per order). Target: <= 1 ms per call.

3. Per call, the capture's own work: the agent's parsing (observe_agent.Observer, in the helper image, as the
helper runs it) fed the packets of `parse-calls` HTTP calls, each on a new connection (SYN, SYN-ACK, request,
response, two FINs: the dearest case; a call on a kept connection is two packets); the CPU time per call. The
capture is passive (the kernel copies each packet to the agent's socket and does not wait for it): this CPU, on the
cores the services share, is what a call can pay.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import docker
import requests

from harness.model.loader import load_topology
from harness.observe import ObserveRun
from harness.runtime.helper_image import helper_image
from harness.runtime.observe import AGENT_FILES, DOCKERFILE, OBSERVES
from harness.runtime.topology import Topology

APP = Path(__file__).parent.parent / "tests" / "topologies" / "observe-app" / "topology.yaml"


def median_order(session: requests.Session, url: str, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def abba(rounds: int, plain: Callable[[], object], observed: Callable[[], object]) -> list[tuple[object, object]]:
    """A discarded warm-up round, then `rounds` of (plain, observed) results, run in the order AB, BA, AB, ..."""
    plain(), observed()
    results = []
    for index in range(rounds):
        if index % 2:
            second = observed()
            first = plain()
        else:
            first = plain()
            second = observed()
        results.append((first, second))
    return results


class HelperCpu:
    """The CPU seconds the observation helpers on this engine use while it is open (their cgroups, cgroup v1)."""

    def __init__(self) -> None:
        self.used: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> HelperCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        client = docker.from_env()
        while not self._done.wait(0.5):
            # (ids only: containers.list() inspects each, and a helper removed in between made the sampler die)
            for found in client.api.containers(filters={"label": OBSERVES}, quiet=True):
                usage = Path(f"/sys/fs/cgroup/cpuacct/docker/{found['Id']}/cpuacct.usage")
                try:
                    self.used[found["Id"]] = int(usage.read_text()) / 1e9
                except (OSError, ValueError):
                    pass  # gone meanwhile, or another cgroup layout: not counted


def test_times(junit: Path) -> dict[str, float]:
    """Test id -> seconds (setup + call + teardown, as pytest writes them in its JUnit file)."""
    return {f"{case.get('classname')}::{case.get('name')}": float(case.get("time") or 0)
            for case in ET.parse(junit).getroot().iter("testcase")}


def scenario_rounds(rounds: int) -> None:
    """Runnerly's scenarios without and with --observe on one kept topology (see the module's docstring)."""
    from bench.reuse import RUNNERLY, SCENARIOS, load, timeline_run

    def harness_down(file: Path) -> None:  # the kept run of this checkout's Runnerly file only
        subprocess.run([str(Path(sys.executable).parent / "harness"), "down", "--topology", str(file)],
                       capture_output=True, check=True)

    folder = Path(tempfile.mkdtemp(prefix="bench-observe-"))

    def one(extra: list[str]) -> Callable[[], dict[str, object]]:
        def run() -> dict[str, object]:
            junit = folder / f"{uuid.uuid4().hex}.xml"
            before = load()
            with HelperCpu() as cpu:
                result: dict[str, object] = dict(timeline_run([*SCENARIOS, "--topology-reuse", *extra,
                                                              f"--junitxml={junit}"]))
            result["per test"], result["load"] = test_times(junit), f"{before}-{load()}"
            result["helpers cpu"] = sum(cpu.used.values())
            return result
        return run

    print(f"== Runnerly's scenarios (--topology-reuse), without and with --observe; load average {load()}")
    harness_down(RUNNERLY)
    try:
        cold = timeline_run([*SCENARIOS, "--topology-reuse"])
        print(f"  cold (starts and keeps it): {cold['wall']:.1f} s wall ({cold['outcome']})")
        pairs = abba(rounds, one([]), one(["--observe"]))
    finally:
        harness_down(RUNNERLY)
    ratios, walls = [], []
    for index, (without, with_) in enumerate(pairs):  # type: ignore[assignment]
        assert isinstance(without, dict) and isinstance(with_, dict)
        ratios.append(with_["tests"] / without["tests"])
        walls.append(with_["wall"] / without["wall"])
        order = "observed first" if index % 2 else "plain first"
        print(f"  round {index + 1} ({order}): tests themselves {without['tests']:.2f} s without, "
              f"{with_['tests']:.2f} s with --observe (x{ratios[-1]:.3f}); wall {without['wall']:.1f} / "
              f"{with_['wall']:.1f} s (x{walls[-1]:.3f}); topology fixture {without['topology fixture']:.2f} / "
              f"{with_['topology fixture']:.2f} s; session end {without['session end']:.2f} / "
              f"{with_['session end']:.2f} s; helpers' CPU {with_['helpers cpu']:.2f} s; load {without['load']} / "
              f"{with_['load']}  ({without['outcome']} / {with_['outcome']})")
    for part in ("tests", "wall", "topology fixture", "session end"):
        plain = statistics.median(float(p[0][part]) for p in pairs)  # type: ignore[index,arg-type]
        observed = statistics.median(float(p[1][part]) for p in pairs)  # type: ignore[index,arg-type]
        print(f"  median {part}: {plain:.2f} s without, {observed:.2f} s with ({observed - plain:+.2f} s)")
    print(f"  median ratio, the tests themselves: x{statistics.median(ratios):.3f}; the whole session (wall: the "
          f"helpers' start, the reading and the pact replay at the end included): x{statistics.median(walls):.3f} "
          "(target <= x1.05)")
    cpu = statistics.median(float(p[1]["helpers cpu"]) for p in pairs)  # type: ignore[index,arg-type]
    print(f"  the observation helpers used a median {cpu:.2f} s of CPU per observed run (its whole session: their "
          f"start, the tests, the reading)")
    tests = sorted(set.intersection(*(set(p[k]["per test"]) for p in pairs for k in (0, 1))))  # type: ignore[index]
    differences = sorted(((statistics.median(p[1]["per test"][t] for p in pairs)  # type: ignore[index]
                           - statistics.median(p[0]["per test"][t] for p in pairs), t)  # type: ignore[index]
                          for t in tests), reverse=True)
    print("  the tests whose median time differs most (with - without, seconds; the session's first test holds the "
          "topology fixture's setup, where --observe starts its helpers, which the ratio leaves out):")
    for difference, test in differences[:6]:
        print(f"    {difference:+.3f}  {test}")
    print(f"    all {len(tests)} tests: {sum(d for d, _ in differences):+.3f} s")


PARSE = textwrap.dedent("""
    import json, socket, sys, time
    sys.path.insert(0, "/usr/local/lib/pytest-topology")
    import dpkt, observe_agent as agent

    def packet(src, sport, dst, dport, seq, flags, data=b""):
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=data)
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len += len(tcp)
        return bytes(ip)

    calls = int(sys.argv[1])
    client, server = "10.0.0.2", "10.0.0.3"
    request = b"GET /items/1/price?currency=eur HTTP/1.1\\r\\nHost: stock:8000\\r\\nAccept: */*\\r\\n\\r\\n"
    body = json.dumps({"id": 1, "price": 3, "name": "x" * 200}).encode()
    response = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
                + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)
    packets = []
    for n in range(calls):
        port = 20000 + n % 40000
        packets += [(packet(client, port, server, 8000, 1000, dpkt.tcp.TH_SYN), True),
                    (packet(server, 8000, client, port, 5000, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK), False),
                    (packet(client, port, server, 8000, 1001, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, request), True),
                    (packet(server, 8000, client, port, 5001, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, response), False),
                    (packet(client, port, server, 8000, 1001 + len(request), dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK), True),
                    (packet(server, 8000, client, port, 5001 + len(response), dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK),
                     False)]
    observer = agent.Observer()
    started = time.process_time()
    for data, outgoing in packets:
        observer.packet(data, outgoing, time.time())
    spent = time.process_time() - started
    [entry] = observer.snapshot(0)["calls"]
    assert entry["count"] == calls, entry
    print(json.dumps({"seconds": spent}))
""")


def parse_rounds(rounds: int, calls: int) -> None:
    """The agent's own CPU per HTTP call (see the module's docstring), in the helper image."""
    from bench.reuse import load

    client = docker.from_env()
    image = helper_image(client, "observe-helper", DOCKERFILE, AGENT_FILES)
    per_call = []
    for index in range(rounds + 1):  # the first: warm-up, discarded
        output = client.containers.run(image, ["python3", "-c", PARSE, str(calls)], remove=True, network_mode="none",
                                       name=f"bench-observe-parse-{uuid.uuid4().hex[:8]}")
        seconds = json.loads(output.decode().strip().splitlines()[-1])["seconds"]
        if index:
            per_call.append(seconds / calls * 1000)
    print(f"== the capture's parsing (observe_agent.Observer, {calls} calls of 6 packets each, {rounds} rounds; load "
          f"average {load()}): median {statistics.median(per_call):.3f} ms of CPU per call "
          f"(rounds: {', '.join(f'{ms:.3f}' for ms in per_call)})")


def call_rounds(rounds: int, calls: int) -> None:
    """Orders of the observe-app topology without and with the capture (see the module's docstring)."""
    from bench.reuse import load

    spec = load_topology(APP)
    with Topology.start(spec) as topology, requests.Session() as session:
        url = topology["shop"].url + "/order/1"

        def observed() -> float:
            run = ObserveRun(spec, topology)
            run.start()
            try:
                return median_order(session, url, calls)
            finally:
                seen = run.finish().edge("shop", "stock")
                assert seen is not None and seen.calls == 2 * calls, seen

        print(f"== per call, end to end (observe-app; load average {load()})")
        pairs = abba(rounds, lambda: median_order(session, url, calls), observed)
    without = statistics.median(float(p[0]) for p in pairs) * 1000  # type: ignore[arg-type]
    with_ = statistics.median(float(p[1]) for p in pairs) * 1000  # type: ignore[arg-type]
    differences = [(float(p[1]) - float(p[0])) * 1000 / 3 for p in pairs]  # type: ignore[arg-type]
    ratios = [float(p[1]) / float(p[0]) for p in pairs]  # type: ignore[arg-type]
    print(f"  order (2 HTTP calls + 1 Redis command): {without:.2f} ms without, {with_:.2f} ms with the capture "
          f"(medians of {rounds} rounds of {calls} orders; load average {load()})")
    print(f"  added per call between services: median {statistics.median(differences):.3f} ms (target <= 1 ms; "
          f"rounds: {', '.join(f'{d:+.3f}' for d in differences)}); median ratio per order "
          f"x{statistics.median(ratios):.3f} (rounds: {', '.join(f'x{r:.3f}' for r in ratios)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario-rounds", type=int, default=4, help="0: skip Runnerly's scenarios")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the per-call parts (0: skip)")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--parse-calls", type=int, default=5000)
    arguments = parser.parse_args()
    if arguments.scenario_rounds:
        scenario_rounds(arguments.scenario_rounds)
    if arguments.rounds:
        parse_rounds(arguments.rounds, arguments.parse_calls)
        call_rounds(arguments.rounds, arguments.calls)


if __name__ == "__main__":
    main()
