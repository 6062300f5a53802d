"""The host files a topology reads for its services: what decides whether a git checkout's commit names what they run
(harness.contracts.checkout). One list from what the loader read and what the services take from the host, not a
list of cases per feature:

- the topology's own inputs (`TopologySpec.read_files`): its files, and for a compose file every file Docker Compose
  reads for it (`.env` or `--env-file`, `env_file`s, `extends` and `include` files, `configs`/`secrets` files:
  harness.model.compose_cli.compose_inputs);
- each service's: its `env_file`s, its build context (or a URL: fetched by the builder, named by no commit), a
  Dockerfile outside it, its build secrets' files and folder `additional_contexts`, and its mounted (or copied) host
  files and folders (Compose's file configs and secrets arrive as mounts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.model.topology import TopologySpec


@dataclass(frozen=True)
class HostInput:
    """A host file or folder a topology reads (`path`: resolved), what it is for (`kind`: "topology", "env_file",
    "build context", "dockerfile", "build secret", "additional context", "mount") and for which service ("": the
    topology's own). `remote`: a build context given as a URL (`path` is then the URL as given, unresolved)."""

    path: Path
    kind: str
    service: str = ""
    remote: str = ""


def host_inputs(spec: TopologySpec, services: Iterable[str] | None = None) -> list[HostInput]:
    """The topology's own inputs, then those of `services` (None: every service), in order, each path once."""
    found: list[HostInput] = [HostInput(path, "topology") for path in spec.read_files]
    base = spec.base_dir
    for name in spec.services if services is None else services:
        service = spec.services.get(name)
        if service is None:
            continue
        found += [HostInput((base / file).resolve(), "env_file", name) for file in service.env_file]
        build = service.build
        if build is not None and build.remote:
            found.append(HostInput(Path(build.context), "build context", name, remote=build.context))
        elif build is not None:
            context = (base / build.context).resolve()
            found.append(HostInput(context, "build context", name))
            if build.dockerfile_inline is None:
                found.append(HostInput((context / build.dockerfile).resolve(), "dockerfile", name))
            found += [HostInput((base / s.file).resolve(), "build secret", name) for s in build.secrets if s.file]
            found += [HostInput((base / folder).resolve(), "additional context", name)
                      for folder in build.additional_contexts.values()
                      if "://" not in folder and not folder.startswith("service:")]  # an image, a service's
        found += [HostInput((base / mount.source).resolve(), "mount", name) for mount in service.mounts]
    seen: set[tuple[Path, str]] = set()
    unique = []
    for entry in found:
        if (entry.path, entry.remote) not in seen:
            seen.add((entry.path, entry.remote))
            unique.append(entry)
    return unique
