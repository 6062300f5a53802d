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
    by spelling (`Catalogue`), or None."""
    folded = _folded(name)
    same = next((s for s in spec.services if _folded(s) == folded), None)
    if same is not None:
        return same
    close = difflib.get_close_matches(folded, [_folded(s) for s in spec.services], n=1, cutoff=0.75)
    return next((s for s in spec.services if close and _folded(s) == close[0]), None)


def mapping_hint(spec: TopologySpec, name: str) -> str:
    """' (did you mean 'catalog'? ...)' for a name close to a service, else ''."""
    near = near_service(spec, name)
    if near is None:
        return ""
    return (f" (did you mean '{near}'? map the name with `pact_name: {name}` on service {near}, or under "
            f"`contracts.names` in the topology file; in a compose file both go under `x-topology:`, of the service "
            f"and at the top)")
