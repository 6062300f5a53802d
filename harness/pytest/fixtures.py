"""Fixture factories for conftest files: a module, class or package can have its own topology next to --topology.

    shop_topology = harness.pytest.topology_fixture(shop, scope="module")     # a builder, a spec or a file path
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from harness.pytest.options import resolved
from harness.pytest.session import INTERRUPTED, active_topologies, spec_notes, terminal_visible

if TYPE_CHECKING:
    from harness.model.builder import TopologyBuilder
    from harness.model.topology import TopologySpec
    from harness.runtime.topology import Topology


def topology_fixture(source: TopologySpec | TopologyBuilder | str | Path | Sequence[str | Path], *,
                     scope: Literal["function", "class", "module", "package", "session"] = "module",
                     name: str | None = None) -> Callable[..., Any]:
    """A pytest fixture that starts a topology for its scope and removes it at the end of the scope.

    Args:
        source: a `TopologySpec`, a builder from `harness.topology(...)` (a value: later builders made from it do not
            change it), or a topology/compose file path; a relative path is relative to the file that calls
            `topology_fixture` (the conftest or test module); a list of compose file paths: merged by Compose.
        scope: a pytest fixture scope: "function", "class", "module", "package" or "session".
        name: the fixture's name; by default the name it is assigned to in the module.

    Returns:
        A pytest fixture; its value is a running `harness.Topology` (annotate the test's argument so). The session's
        image substitutes (`--image-substitute`, the ini's `image_substitutes`) apply over the topology's own;
        `--topology-keep` and `--topology-reuse` do not (they are for the run of `--topology`: a fixture's run lives
        as long as its scope), which a line says when either is given. A topology that cannot start (or a source
        that is none of the above: NotATopology, naming the fixture) is an error of the tests that use it, with the
        harness's message (no traceback).
    """
    caller = sys._getframe(1).f_globals.get("__file__")  # noqa: SLF001 - where a relative path is relative to
    base = Path(caller).parent if caller else Path.cwd()

    @pytest.fixture(scope=scope, name=name)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Topology]:
        from harness.errors import HarnessError, HookFailed

        failure: HarnessError | None = None
        try:
            topology = _start(request, source, base)
        except HarnessError as error:
            failure = error
        if failure is not None:  # outside the except: the report shows the message once, not a chained exception
            pytest.fail(str(failure), pytrace=False)
        active_topologies(request.config).append(topology)
        try:
            yield topology
        finally:
            active_topologies(request.config).remove(topology)
            try:
                topology.close()
            except HookFailed as error:  # the run is removed: the test's teardown says which hook failed
                failure = error
            except KeyboardInterrupt:  # during its removal (which finished): raised, it would skip pytest's other
                # teardowns (other topologies' among them); the session stops after this test instead
                request.session.shouldstop = f"interrupted while removing topology {topology.spec.name}"
                request.config.stash[INTERRUPTED] = True
        if failure is not None:
            pytest.fail(str(failure), pytrace=False)

    return fixture


def _start(request: pytest.FixtureRequest, source: Any, base: Path) -> Topology:
    """The running topology of `source`, with the session's image substitutes, its progress on the terminal."""
    from harness.errors import NotATopology
    from harness.model.builder import as_spec
    from harness.model.loader import parse_substitutes
    from harness.report.console import ProgressPrinter, print_table, services_table
    from harness.runtime.topology import Topology

    where = f"fixture {request.fixturename!r}"
    try:
        spec = as_spec(source, base)
    except NotATopology as error:
        raise NotATopology(error.found, where=where) from None
    options = resolved(request.config)
    substitutes = {**parse_substitutes(options.topology.ini_image_substitutes, "ini image_substitutes"),
                   **parse_substitutes(options.topology.image_substitutes)}
    if substitutes:
        spec = spec.with_image_substitutes(substitutes)
    with terminal_visible(request.config):
        printer = ProgressPrinter()
        printer.console.print(f"\nstarting topology {spec.name} for {request.node.nodeid or 'session'} ({where})")
        for note in spec_notes(spec):  # a compose file's ignored keys, alias collisions Compose accepts, ...
            printer.console.print(f"note: {note}", markup=False)
        ignored = [flag for flag, given in (("--topology-keep", options.topology_keep),
                                            ("--topology-reuse", options.topology_reuse)) if given]
        if ignored:
            printer.console.print(f"{' and '.join(ignored)}: for the topology of --topology only, not {where} (its run "
                                  "is removed at the end of its scope)", markup=False)
        topology = Topology.start(spec, progress=printer)
        print_table(printer.console, services_table(topology))
    return topology
