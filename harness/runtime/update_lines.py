"""What updating a kept run does, said before it is done: a line per network made again and per service (replaced,
recreated in another's namespace, restarted with a dependency, scaled, kept), in file order."""

from __future__ import annotations

from collections.abc import Callable, Collection

from harness.model.plan import joined_to, restarted_by, restarted_in_namespace
from harness.model.topology import TopologySpec, down_hint
from harness.runtime.signature import RunDifference


def say_update(spec: TopologySpec, difference: RunDifference, say: Callable[[str], None],
               on_remade: Collection[str] = ()) -> None:
    """One line per network made again, then per service: what updating a run with `difference` does to it (file
    order, then the removed); `on_remade`: the kept services on a network made again."""
    changed = [n for n in difference.changed if n not in difference.scaled]
    joined = joined_to(spec, [*changed, *difference.added])
    replaced = {*changed, *joined}
    restarting = restarted_by(spec, replaced)
    with_them = restarted_in_namespace(spec, [*restarting, *(n for n in on_remade if n not in replaced)], replaced)
    for network in difference.networks:
        say(f"  network {network} " + ("changed: making it again (as Docker Compose does; the named volumes stay)"
                                       if network in spec.networks else "is no longer in the file: removing it"))
    for name, service in spec.services.items():
        what = difference.changed.get(name, [])
        if name in difference.added and name in difference.from_zero:
            say(f"  {name} scaled from 0 to {service.replicas} replica{'s' if service.replicas > 1 else ''}: "
                "starting it")
        elif name in difference.added:
            say(f"  {name} has no container in the run (new in the file, removed outside the harness, or left out "
                "by an update that did not finish): starting it")
        elif name in difference.scaled:
            count, now = difference.scaled[name], service.replicas
            say(f"  {name} scaled from {count} to {now} replica{'s' if now != 1 else ''}: "
                + (f"adding {now - count}, its {count} running kept" if now > count else
                   f"removing the {count - now} highest-numbered, the other {now} kept" if now else
                   f"removing {'all ' if count > 1 else ''}{count}")
                + " (as Docker Compose does)"
                + (f"; restarting {'them' if now != 1 else 'it'} on its network made again" if name in on_remade
                   and now else ""))
        elif what is None:
            say(f"  {name} was started by another version of the harness: replacing it")
        elif what:
            say(f"  {name} changed ({', '.join(what)}): replacing it")
        elif name in joined:
            key = next((k for k, o in service.namespace_owners.items() if o == joined[name]), "volumes_from")
            say(f"  {name} unchanged: recreating it after {joined[name]} (its {key} names {joined[name]}, whose "
                "container is new: Docker Compose recreates it too)")
        elif name in restarting:
            after = [d for d in service.restart_on_replace if d in replaced]
            say(f"  {name} unchanged: restarting it after {', '.join(after)} (depends_on restart: true)")
        elif name in on_remade:
            say(f"  {name} unchanged: restarting it on its network made again (as Docker Compose does)")
        elif name in with_them:
            key = next(k for k, o in service.namespace_owners.items() if o == with_them[name])
            say(f"  {name} unchanged: restarting it after {with_them[name]} (its {key} names {with_them[name]}, "
                "whose namespace is new once it starts again)")
        elif depends := [d for d in service.depends_on if d in replaced]:
            say(f"  {name} unchanged: kept (it depends on {', '.join(depends)}; Docker Compose does not replace a "
                "dependent either)")
        else:
            say(f"  {name} unchanged: kept")
    if orphans := difference.orphans():
        say(f"  {orphans}")
    if volumes := difference.kept_volumes(down_hint(spec)):
        say(f"  {volumes}")
