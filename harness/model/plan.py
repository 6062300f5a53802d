"""The start plan: the dependency graph of a topology, its start levels, and pictures of it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from harness.errors import DependencyCycle
from harness.model.topology import TopologySpec

__all__ = ["DependencyCycle", "StartPlan", "in_namespace_of", "restarted_by", "restarted_with"]


@dataclass(frozen=True)
class StartPlan:
    """`depends_on` edges, in file order. Level 0 has no dependencies; level n depends only on lower levels."""

    depends_on: dict[str, list[str]]
    consumes: dict[str, list[str]]

    @classmethod
    def from_spec(cls, spec: TopologySpec) -> StartPlan:
        return cls.of({name: list(s.depends_on) for name, s in spec.services.items()},
                      {name: list(s.consumes) for name, s in spec.services.items()})

    @classmethod
    def of(cls, depends_on: dict[str, list[str]], consumes: dict[str, list[str]] | None = None) -> StartPlan:
        """The plan of a graph: service -> the services it depends on (and calls), in file order.

        Raises:
            DependencyCycle: the `depends_on` edges form a cycle (named from its first service in file order).
        """
        plan = cls(depends_on, consumes if consumes is not None else {name: [] for name in depends_on})
        plan._check_acyclic()
        return plan

    def _check_acyclic(self) -> None:
        done: set[str] = set()
        stack: list[str] = []

        def visit(name: str) -> None:
            if name in stack:
                cycle = stack[stack.index(name):]
                first = min(cycle, key=list(self.depends_on).index)  # start the cycle at the first service in the file
                cycle = cycle[cycle.index(first):] + cycle[: cycle.index(first)]
                raise DependencyCycle(cycle + [first])
            if name in done:
                return
            stack.append(name)
            for dep in self.depends_on.get(name, []):
                visit(dep)
            stack.pop()
            done.add(name)

        for name in self.depends_on:
            visit(name)

    @property
    def levels(self) -> list[list[str]]:
        level: dict[str, int] = {}

        def depth(name: str) -> int:
            if name not in level:
                level[name] = 1 + max((depth(d) for d in self.depends_on[name]), default=-1)
            return level[name]

        for name in self.depends_on:
            depth(name)
        return [[n for n in self.depends_on if level[n] == i] for i in range(max(level.values(), default=-1) + 1)]

    def as_text(self) -> str:
        lines = [f"level {i}: {', '.join(names)}" for i, names in enumerate(self.levels)]
        for name, deps in self.depends_on.items():
            lines += [f"{name} -> {dep}" for dep in deps]
            lines += [f"{name} ~> {other}  (calls)" for other in self.consumes[name] if other not in deps]
        return "\n".join(lines)

    def as_mermaid(self) -> str:
        lines = ["graph LR"]
        linked = {n for name in self.depends_on for n in [*self.depends_on[name], *self.consumes[name]]}
        for name, deps in self.depends_on.items():
            if not deps and not self.consumes[name] and name not in linked:
                lines.append(f"  {_node(name)}")
            lines += [f"  {_node(name)} --> {_node(dep)}" for dep in deps]
            lines += [f"  {_node(name)} -.-> {_node(o)}" for o in self.consumes[name] if o not in deps]
        return "\n".join(lines)


def restarted_by(spec: TopologySpec, replaced: Collection[str]) -> list[str]:
    """The services an update replacing `replaced` restarts (file order): those it keeps whose `restart_on_replace`
    names one of them. Direct dependents only, as Docker Compose (`depends_on: {db: {restart: true}}`): a service
    restarted, not replaced, restarts nothing further."""
    return [name for name, service in spec.services.items()
            if name not in replaced and any(other in replaced for other in service.restart_on_replace)]


def in_namespace_of(spec: TopologySpec, name: str) -> list[str]:
    """The services whose `network_mode`, `ipc` or `pid` is `service:NAME` (file order): their containers run in a
    namespace of `name`'s (first) container, which goes away when it stops; a start of it makes a new one."""
    return [other for other, service in spec.services.items() if name in service.namespace_owners.values()]


def restarted_with(spec: TopologySpec, name: str) -> list[str]:
    """The services a restart of `name` restarts after it, in dependency order, as `docker compose restart NAME`:
    those whose `depends_on` names it with `restart: true` (`restart_on_replace`) and those in its network namespace
    (`network_mode`, `ipc` or `pid` `service:NAME`; Compose gives that an implied `restart: true`, the harness's own
    files too), then
    theirs in turn."""
    found: set[str] = set()
    growing = {name}
    while growing:
        growing = {other for other, service in spec.services.items() if other not in found and other != name and
                   any(d in growing for d in [*service.restart_on_replace, *service.namespace_owners.values()])}
        found |= growing
    return [other for level in StartPlan.from_spec(spec).levels for other in level if other in found]


def joined_to(spec: TopologySpec, replaced: Collection[str]) -> dict[str, str]:
    """The services an update replacing `replaced` must recreate too (file order, transitively) -> the replaced one
    each joins: its `network_mode`, `ipc` or `pid` `service:X` or `volumes_from: [X]` names one replaced (or
    recreated). As Docker Compose: it resolves X to X's container, so the new container is a change of the joining
    service's config."""
    joined: dict[str, str] = {}
    growing = True
    while growing:
        growing = False
        for name, service in spec.services.items():
            if name in replaced or name in joined:
                continue
            names = [*service.namespace_owners.values()]
            names += [v.removesuffix(":ro").removesuffix(":rw") for v in service.volumes_from
                      if not v.startswith("container:")]
            if other := next((o for o in names if o in replaced or o in joined), None):
                joined[name] = other
                growing = True
    return {name: joined[name] for name in spec.services if name in joined}


def restarted_in_namespace(spec: TopologySpec, started_again: Collection[str],
                           replaced: Collection[str]) -> dict[str, str]:
    """The kept services a start of `started_again` (kept services stopped, then started) restarts too (file order,
    transitively) -> the one whose namespace each joins: those whose `network_mode`, `ipc` or `pid` is `service:X`
    of one of them, not replaced themselves (the runtime restarts them into X's new namespace)."""
    found: dict[str, str] = {}
    growing = True
    while growing:
        growing = False
        for name, service in spec.services.items():
            if name in replaced or name in found or name in started_again or not service.replicas:
                continue
            if owner := next((o for o in service.namespace_owners.values() if o in started_again or o in found),
                             None):
                found[name] = owner
                growing = True
    return {name: found[name] for name in spec.services if name in found}


def _node(name: str) -> str:
    return f"{name.replace('.', '_').replace('-', '_')}[{name}]"
