"""Topologies in Python, beside YAML: the same `TopologySpec` and the same validation as the file loaders, with the
topology's name instead of file:line in errors.

    from harness import ready, topology
    shop = (topology("shop", base_dir=HERE)
            .service("redis", image="redis:7", ports=[6379], ready=ready.log("Ready to accept connections"))
            .service("api", build="./api", ports=[8000], depends_on=["redis"], ready=ready.http(8000, "/health")))
    with shop.start() as running:
        running["api"].url
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from harness.errors import HarnessError, TopologyFileError
from harness.spec.model import TopologySpec
from harness.spec.source import SourceMap
from harness.spec.validate import validate

if TYPE_CHECKING:
    from harness.runtime.topology import Progress, Topology


class PythonSource(SourceMap):
    """Errors of a topology built in Python are located by its name (there is no file and line)."""

    def __init__(self, name: str, base_dir: Path) -> None:
        super().__init__(base_dir / f"{name}.py-topology")
        self.name = name

    def where(self, path: tuple[str | int, ...]) -> str:
        return f"topology {self.name!r}"


class TopologyBuilder:
    """A topology under construction. Each method returns the builder, so calls chain; `spec` validates."""

    def __init__(self, name: str, base_dir: Path) -> None:
        self.name = name
        self.base_dir = base_dir
        self._services: dict[str, dict[str, Any]] = {}
        self._top: dict[str, Any] = {}

    def service(self, name: str, **keys: Any) -> TopologyBuilder:
        """Add (or replace) service `name`. Keys are those of a service in a topology file (`image`, `build`,
        `command`, `environment`, `ports`, `depends_on`, `ready`, `timeout`, `aliases`, `mounts`, `openapi`,
        `auth`, `fuzz`, `consumes`, ...); `ready` takes a probe from `harness.ready`."""
        self._services[name] = {key: _plain(value) for key, value in keys.items()}
        return self

    def contracts(self, pacts: str | Path = "contracts", states: list[str | Path] | None = None) -> TopologyBuilder:
        """The pact folder and states modules, relative to `base_dir` (as `contracts:` in a topology file)."""
        self._top["contracts"] = {"pacts": str(pacts), "states": [str(s) for s in states or []]}
        return self

    @property
    def spec(self) -> TopologySpec:
        """The validated topology.

        Raises:
            TopologyFileError: as the file loaders do, located as `topology 'NAME': services.api.depends_on[0]: ...`.
        """
        data = {"name": self.name, "services": dict(self._services), **self._top}
        return validate(data, PythonSource(self.name, self.base_dir), file=self.base_dir / f"{self.name}.py-topology")

    def start(self, progress: Progress | None = None, keep: bool = False) -> Topology:
        """Validate and start the topology (see `Topology.start`): use it as a context manager to remove it."""
        from harness.runtime.topology import Topology

        return Topology.start(self.spec, progress=progress, keep=keep)


def topology(name: str, *, base_dir: str | Path | None = None) -> TopologyBuilder:
    """Start building a topology called `name` (lower-case letters, digits, '-', '_').

    Args:
        name: the topology's name (in container names, labels and messages).
        base_dir: the folder relative `build:` contexts, mounts and `openapi:` files are resolved against; by
            default the folder of the Python file that calls `topology()` (never the current directory).
    """
    if base_dir is None:
        caller = sys._getframe(1).f_globals.get("__file__")  # noqa: SLF001 - the calling module's folder
        if not caller:
            raise TopologyFileError(f"topology {name!r}", "give base_dir= (there is no calling file to resolve "
                                    "relative paths against)")
        base_dir = Path(caller).parent
    return TopologyBuilder(name, Path(base_dir).resolve())


def as_spec(source: Any, base_dir: Path) -> TopologySpec:
    """A TopologySpec from a spec, a builder, or a file path (relative to `base_dir`; a list: compose files)."""
    if isinstance(source, TopologySpec):
        return source
    if isinstance(source, TopologyBuilder):
        return source.spec
    if isinstance(source, (str, Path)):
        from harness.spec.loader import load_topology

        return load_topology(base_dir / source)
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, Path)) for s in source):
        from harness.spec.loader import load_topology

        return load_topology([base_dir / s for s in source])  # compose files, merged by Compose
    raise HarnessError(f"a topology is a file path, a harness.topology(...) builder or a TopologySpec, "
                       f"not {type(source).__name__}")


def _plain(value: Any) -> Any:
    """Probes and other spec objects become the plain data a topology file would hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_defaults=True)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
