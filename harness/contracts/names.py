"""Pact participant names -> services of the topology: the service's own name, `pact_name:` on a service, or
`contracts.names`. A name that matches a service only up to case and separators is not taken silently: it gets a
"did you mean" that says how to map it."""

from __future__ import annotations

import difflib
import re

from harness.model.topology import TopologySpec


def service_for(spec: TopologySpec, name: str) -> str | None:
    """The service a pact's consumer or provider name stands for, or None when it is not a service."""
    if name in spec.contracts.names:
        return spec.contracts.names[name]
    for service, service_spec in spec.services.items():
        if service_spec.pact_name == name:
            return service
    return name if name in spec.services else None


def _folded(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name).lower()


def near_service(spec: TopologySpec, name: str) -> str | None:
    """The service whose name equals `name` up to case and separators (`Catalog`, `order_service`), else the closest
    by spelling (`Catalogue`), or None. The leading words two names share (a project's prefix: `t24c-web` and
    `t24c-db`) do not make them close: only the words after them are compared."""
    folded = _folded(name)
    same = next((s for s in spec.services if _folded(s) == folded), None)
    if same is not None:
        return same
    scored = [(difflib.SequenceMatcher(None, *_distinct(name, s)).ratio(), s) for s in spec.services]
    best = max(scored, default=(0.0, ""))
    return best[1] if best[0] >= 0.75 else None


def _distinct(one: str, other: str) -> tuple[str, str]:
    """The two names folded, without the leading words (separated by `-`, `_`, `.` or spaces) they share."""
    words, others = re.split(r"[\s_.\-]+", one.lower()), re.split(r"[\s_.\-]+", other.lower())
    shared = 0
    while shared < min(len(words), len(others)) - 1 and words[shared] == others[shared]:
        shared += 1
    return "".join(words[shared:]), "".join(others[shared:])


def mapping_hint(spec: TopologySpec, name: str) -> str:
    """' (did you mean 'catalog'? ...)' for a name close to a service, else ''."""
    near = near_service(spec, name)
    if near is None:
        return ""
    return (f" (did you mean '{near}'? map the name with `pact_name: {name}` on service {near}, or under "
            f"`contracts.names` in the topology file; in a compose file both go under `x-topology:`, of the service "
            f"and at the top)")
