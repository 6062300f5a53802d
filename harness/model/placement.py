"""`engines:` and `placement:` checked (issue #27): engine names and hosts, a placement that names an engine, and
what must share one engine (a container's namespace, its volumes, a named volume). Part of validate.py's reference
checks; each problem is (where, message)."""

from __future__ import annotations

import difflib
import os
import re
import typing

from harness.model.source import Path_
from harness.model.topology import TopologySpec


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """" (did you mean 'X'?)" for the close match of `word` among `choices`, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


ENGINE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ENGINE_SCHEMES = ("tcp", "ssh", "unix", "http", "https", "npipe")


def engine_references(spec: TopologySpec) -> list[tuple[Path_, str]]:
    """`engines:` names two or more engines (each its own name) by URL or Docker context; a `placement:` names one
    of them; what must share an engine does (a container's namespace, volumes, a named volume); the services share
    one overlay network of the run, so `networks:` of the topology are refused (not supported across engines yet)."""
    problems: list[tuple[Path_, str]] = []
    if len(spec.engines) == 1:
        problems.append((("engines",), "names one engine: `engines:` is for two or more (a topology on one engine "
                                       "needs none: DOCKER_HOST or the Docker context chooses it)"))
    seen: set[str] = set()
    for index, engine in enumerate(spec.engines):
        if not ENGINE_NAME.match(engine.name):
            problems.append((("engines", index, "name"), f"'{engine.name}' is not an engine name (letters, digits, "
                                                         "'_', '.', '-')"))
        elif engine.name in seen:
            problems.append((("engines", index, "name"), f"'{engine.name}' names two engines: give each its own name"))
        seen.add(engine.name)
        scheme, has_scheme, _ = engine.host.partition("://")
        if has_scheme and scheme not in ENGINE_SCHEMES:
            problems.append((("engines", index, "host"), f"'{engine.host}' is neither a Docker engine URL "
                                                         f"({', '.join(s + '://' for s in ENGINE_SCHEMES)}) nor a "
                                                         "Docker context's name"))
        elif not has_scheme and not ENGINE_NAME.match(engine.host):
            problems.append((("engines", index, "host"), f"'{engine.host}' is neither a Docker engine URL "
                                                         "(tcp://HOST:PORT, ssh://USER@HOST, unix:///PATH) nor a "
                                                         "Docker context's name"))
    if spec.engines and spec.networks:  # at the first service on one (Compose's canonical file has no line for them)
        user = next((name for name, service in spec.services.items() if service.networks), None)
        problems.append((("services", user, "networks") if user else ("networks",),
                         "with `engines:` every service is on one overlay network of the run; declared networks are "
                         "not supported across engines yet: remove `networks:` (and the services' `networks:`)"))
    named = [engine.name for engine in spec.engines]
    volume_engine: dict[str, tuple[str, str]] = {}  # named volume -> (engine, the first service using it)
    for name, service in spec.services.items():
        if service.placement is not None and not spec.engines:
            problems.append((("services", name, "placement"), f"'{service.placement}' names an engine, but the "
                             "topology has no `engines:` (engine name -> URL or Docker context)"))
            continue
        if service.placement is not None and service.placement not in named:
            problems.append((("services", name, "placement"), f"'{service.placement}' is not an engine of "
                             f"`engines:` ({', '.join(named)}){suggest(service.placement, named)}"))
            continue
        if not spec.engines:
            continue
        here = spec.engine_of(name)
        others = [*service.namespace_owners.items()] + [
            ("volumes_from", v.rsplit(":", 1)[0] if v.endswith((":ro", ":rw")) else v) for v in service.volumes_from]
        for key, other in others:
            if other in spec.services and spec.engine_of(other) != here:
                problems.append((("services", name, key), f"'{other}' runs on engine '{spec.engine_of(other)}', "
                                 f"'{name}' on '{here}': {key} needs both on one engine (give them one placement)"))
        for volume in service.volumes:
            if not volume.source:
                continue
            on, first = volume_engine.setdefault(volume.source, (str(here), name))
            if on != here:
                problems.append((("services", name, "volumes"), f"volume '{volume.source}' is also used by "
                                 f"'{first}' on engine '{on}', '{name}' runs on '{here}': a named volume is on "
                                 "one engine (give them one placement)"))
    return problems


def automatic_placement(spec: TopologySpec) -> dict[str, str]:
    """Service -> engine (a name of `spec.engines`, which it must have) for every service. A service's own
    `placement:` decides; the others are spread by `weight`: services that must share an engine (one build context,
    `network_mode: service:`, `volumes_from`, a named volume) form a group, a group with a placed member goes there,
    and the other groups, heaviest first (then in file order), each go to the engine with the least weight so far
    (then the first in `engines:`). The same file gives the same placement, run after run."""
    names = [engine.name for engine in spec.engines]
    groups = _groups(spec)
    load = dict.fromkeys(names, 0.0)
    placed: dict[str, str] = {}
    floating = []
    for group in groups:
        pinned = [spec.services[n].placement for n in group if spec.services[n].placement in names]
        if pinned:
            for name in group:
                placed[name] = spec.services[name].placement or str(pinned[0])
                load[placed[name]] = load.get(placed[name], 0.0) + spec.services[name].weight
        else:
            floating.append(group)
    for group in sorted(floating, key=lambda g: -sum(spec.services[n].weight for n in g)):  # stable: file order
        engine = min(names, key=lambda e: load[e])  # the first of the lightest
        for name in group:
            placed[name] = engine
            load[engine] += spec.services[name].weight
    return {name: placed[name] for name in spec.services}


def _groups(spec: TopologySpec) -> list[list[str]]:
    """The services that must share an engine, in groups (each in file order; groups in the order of their first)."""
    parent = {name: name for name in spec.services}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    def join(one: str, other: str) -> None:
        if other in parent:
            parent[root(other)] = root(one)

    first_of: dict[tuple[str, str], str] = {}  # (kind, key) -> the first service with it
    for name, service in spec.services.items():
        keys = [("volume", v.source) for v in service.volumes if v.source]
        if service.build is not None:
            context = service.build.context
            keys.append(("context", context if "://" in context else os.path.normpath(spec.base_dir / context)))
        for key in keys:
            join(first_of.setdefault(key, name), name)
        for other in service.namespace_owners.values():
            join(name, other)
        for other in service.volumes_from:
            join(name, other.rsplit(":", 1)[0] if other.endswith((":ro", ":rw")) else other)
    groups: dict[str, list[str]] = {}
    for name in spec.services:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())
