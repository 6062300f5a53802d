"""Start-up and teardown of topologies against raw `docker run` of the same image (not a test: prints figures).

    .venv/bin/python bench/startup.py [--rounds N]

Each service is redis:7 with a tcp readiness probe; "raw" starts the same containers with the docker SDK in
parallel threads, publishes the port on 127.0.0.1 and polls it with the same probe.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from harness import Topology, load_topology
from harness.runtime.probes import _tcp_accepts

IMAGE = "redis:7"


def topology_file(directory: Path, name: str, services: int, chain: bool) -> Path:
    lines = [f"name: {name}", "services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    ports: [6379]", "    ready: {tcp: 6379}"]
        if chain and i:
            lines.append(f"    depends_on: [s{i - 1}]")
    file = directory / f"{name}.yaml"
    file.write_text("\n".join(lines) + "\n")
    return file


def harness_round(file: Path) -> tuple[float, float]:
    spec = load_topology(file)
    started = time.perf_counter()
    topology = Topology.start(spec)
    ready = time.perf_counter() - started
    started = time.perf_counter()
    topology.close()
    return ready, time.perf_counter() - started


def raw_round(client: docker.DockerClient, services: int) -> tuple[float, float]:
    def one(_: int):  # noqa: ANN202
        container = client.containers.run(IMAGE, detach=True, ports={"6379/tcp": ("127.0.0.1",)},
                                          labels={"bench": "raw"})
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["6379/tcp"][0]["HostPort"])
        while not _tcp_accepts(port):
            time.sleep(0.05)
        return container

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=services) as pool:
        containers = list(pool.map(one, range(services)))
    ready = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=services) as pool:
        list(pool.map(lambda c: c.remove(force=True), containers))
    return ready, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, services, chain in (("1 service", 1, False), ("6 independent", 6, False), ("chain of 3", 3, True)):
            file = topology_file(Path(folder), label.replace(" ", "-"), services, chain)
            harness_round(file)  # warm-up
            ours = [harness_round(file) for _ in range(args.rounds)]
            raw = [raw_round(client, services) for _ in range(args.rounds)] if not chain else None
            rows.append((label, ours, raw))
    print(f"{'topology':16} {'harness ready':>14} {'raw ready':>10} {'ratio':>6} {'teardown':>9} {'raw teardown':>13}")
    for label, ours, raw in rows:
        ready = statistics.median(r for r, _ in ours)
        down = statistics.median(d for _, d in ours)
        raw_ready = statistics.median(r for r, _ in raw) if raw else float("nan")
        raw_down = statistics.median(d for _, d in raw) if raw else float("nan")
        print(f"{label:16} {ready:13.2f}s {raw_ready:9.2f}s {ready / raw_ready:6.2f} {down:8.2f}s {raw_down:12.2f}s")
    print(f"(median of {args.rounds} rounds; image {IMAGE}; chain of 3 has no raw counterpart: it starts in order)")


if __name__ == "__main__":
    main()
