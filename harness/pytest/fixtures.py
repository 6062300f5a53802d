"""Fixture factories for conftest files: a module, class or package can have its own topology next to --topology.

    shop_topology = harness.pytest.topology_fixture(shop, scope="module")     # a builder, a spec or a file path
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from harness.pytest.session import active_topologies, terminal_visible

if TYPE_CHECKING:
    from harness.runtime.topology import Topology


def topology_fixture(source: Any, *, scope: Literal["function", "class", "module", "package", "session"] = "module",
                     name: str | None = None) -> Any:
    """A pytest fixture that starts a topology for its scope and removes it at the end of the scope.

    Args:
        source: a `TopologySpec`, a builder from `harness.topology(...)`, or a topology/compose file path; a relative
            path is relative to the file that calls `topology_fixture` (the conftest or test module); a list of compose
            file paths: merged by Compose.
        scope: a pytest fixture scope: "function", "class", "module", "package" or "session".
        name: the fixture's name; by default the name it is assigned to in the module.

    Returns:
        A fixture function; the fixture's value is a running `harness.Topology`. A topology that cannot start is an
        error of the tests that use it, with the harness's message (no traceback).
    """
    caller = sys._getframe(1).f_globals.get("__file__")  # noqa: SLF001 - where a relative path is relative to
    base = Path(caller).parent if caller else Path.cwd()

    @pytest.fixture(scope=scope, name=name)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Topology]:
        from harness.errors import HarnessError
        from harness.model.builder import as_spec
        from harness.report.console import ProgressPrinter, services_table
        from harness.runtime.topology import Topology

        try:
            spec = as_spec(source, base)
            with terminal_visible(request.config):
                printer = ProgressPrinter()
                printer.console.print(f"\nstarting topology {spec.name} for {request.node.nodeid or 'session'}")
                topology = Topology.start(spec, progress=printer)
                printer.console.print(services_table(topology))
        except HarnessError as error:
            pytest.fail(str(error), pytrace=False)
        active_topologies(request.config).append(topology)
        try:
            yield topology
        finally:
            active_topologies(request.config).remove(topology)
            topology.close()

    return fixture
