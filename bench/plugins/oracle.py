"""A pytest plugin for the bench scripts (not a bench itself): the calls between services as the providers' own access
logs say, next to what --observe captured, for one pytest run (the oracle of the capture's call counts).

    PYTHONPATH=. BENCH_ORACLE=out.json python -m pytest -p bench.plugins.oracle --observe ...   (from the root)
    PYTHONPATH=. python -m bench.plugins.oracle out.json ...   (the two side by side, per edge)

Writes to $BENCH_ORACLE (JSON):
    logged     {"consumer -> provider": {"METHOD PATH STATUS": n}}: each access-log line of a provider whose client
               address is another service's (gunicorn's and hypercorn's `%(h)s`), read once the tests ran, before the
               topology is removed; a service's addresses are those it had at any time in the run (the observation
               helpers' labels: a service started again may get a new one)
    captured   the same keys, from what the capture read (TopologyObservation.read, the last read of the run)
    unanswered, broken   per edge: requests the capture saw without their response, connections it gave up
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Generator
from typing import Any

import docker
import pytest

from harness.runtime import labels as L
from harness.runtime import observe as observe_runtime

ACCESS = re.compile(r'(\d+\.\d+\.\d+\.\d+)(?::\d+)? - \S+ \[[^\]]+\] "([A-Z]+) (\S+) (?:HTTP/)?[\d.]+" (\d{3})')
_state: dict[str, Any] = {"started": 0.0, "observation": None}


def pytest_configure(config: pytest.Config) -> None:
    _state["started"] = time.time()
    read = observe_runtime.TopologyObservation.read

    def keeping(self: observe_runtime.TopologyObservation) -> observe_runtime.Observation:
        observation = read(self)
        _state["observation"] = observation
        return observation

    observe_runtime.TopologyObservation.read = keeping  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outside the observation's wrapper: after it read the capture
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    result = yield
    _write(session.config)
    return result


def _write(config: pytest.Config) -> None:
    out = os.environ.get("BENCH_ORACLE")
    given = config.getoption("topology", None)
    topology_file = given[0] if isinstance(given, list) and given else given
    if not out or not topology_file:
        return
    client = docker.from_env()
    file = str(config.rootpath / topology_file) if not os.path.isabs(topology_file) else topology_file
    file = os.path.realpath(file)
    containers = client.containers.list(all=True, filters={"label": [f"{L.FILE}={file}"]})
    owners: dict[str, str] = {}
    services = []
    for container in containers:
        observed = container.labels.get(observe_runtime.OBSERVES)
        if observed:
            for address in filter(None, container.labels.get(observe_runtime.OBSERVED_ADDRESSES, "").split(",")):
                owners[address] = observed
        elif L.SERVICE in container.labels:
            services.append(container)
            for network in container.attrs["NetworkSettings"]["Networks"].values():
                if network.get("IPAddress"):
                    owners[network["IPAddress"]] = container.labels[L.SERVICE]
    logged: dict[str, dict[str, int]] = {}
    for container in services:
        provider = container.labels[L.SERVICE]
        for line in container.logs(since=int(_state["started"]) - 1).decode("utf-8", "replace").splitlines():
            match = ACCESS.search(line)
            if match is None or match.group(1) not in owners:
                continue
            address, method, path, status = match.groups()
            edge = f"{owners[address]} -> {provider}"
            kind = f"{method} {path.split('?')[0]} {status}"
            logged.setdefault(edge, {}).setdefault(kind, 0)
            logged[edge][kind] += 1
    captured: dict[str, dict[str, int]] = {}
    unanswered: dict[str, int] = {}
    broken: dict[str, int] = {}
    observation = _state["observation"]
    if observation is not None:
        for call in observation.calls:
            edge = f"{call.consumer} -> {call.provider}"
            kind = f"{call.method} {call.path} {call.status}"
            captured.setdefault(edge, {}).setdefault(kind, 0)
            captured[edge][kind] += call.count
        for flow in observation.flows:
            edge = f"{flow.consumer} -> {flow.provider}"
            unanswered[edge] = unanswered.get(edge, 0) + flow.unanswered
            broken[edge] = broken.get(edge, 0) + flow.broken
    with open(out, "w") as stream:
        json.dump({"logged": logged, "captured": captured, "unanswered": unanswered, "broken": broken,
                   "dropped": getattr(observation, "dropped_packets", None),
                   "joined": getattr(observation, "joined_packets", None),
                   "lost": getattr(observation, "lost", None)}, stream, indent=1, sort_keys=True)


def main() -> None:
    """`python -m bench.plugins.oracle FILE...`: per run, per edge between services, the calls the providers logged
    and those the capture counted, and each kind of call where the two differ."""
    import sys

    for path in sys.argv[1:]:
        with open(path) as stream:
            run = json.load(stream)
        print(f"== {path}: services lost {run['lost']}, packets dropped {run['dropped']}")
        edges = sorted(set(run["logged"]) | {edge for edge in run["captured"] if not edge.startswith("(")})
        for edge in edges:
            logged, captured = run["logged"].get(edge, {}), run["captured"].get(edge, {})
            print(f"  {edge:28} logged {sum(logged.values()):3}  captured {sum(captured.values()):3}")
            for kind in sorted(set(logged) | set(captured)):
                if logged.get(kind, 0) != captured.get(kind, 0):
                    print(f"      {kind}: logged {logged.get(kind, 0)}, captured {captured.get(kind, 0)}"
                          + ("  (status 0: sent, no response seen)" if kind.endswith(" 0") else ""))


if __name__ == "__main__":
    main()
