"""Node ids of the plugin's items given as arguments (`pytest --topology t.yaml "t.yaml::pact[a->b: x]"`).

pytest's convention is that a node id it prints selects that item when given back. pytest collects an argument
through a collector of its file, and a topology file has none: its items (pacts, fuzzed operations, drift checks)
are added after collection, so pytest answered "ERROR: not found". Such arguments are taken off pytest's own
(before it collects) and select among the added items instead; `PATH` alone selects every item of the file. The
path is read from the current folder as pytest reads arguments; the name after the first `::` is the item's whole
name (it may hold `->`, `: ` and even `::`)."""

from __future__ import annotations

from pathlib import Path

import pytest

SELECTED = pytest.StashKey[bool]()  # the command line named some of the plugin's items (a narrower session)


class Selection:
    """The items the command line names: {item name: the argument as written} of items of the topology file (None:
    all of them)."""

    def __init__(self, names: dict[str, str] | None) -> None:
        self.names = names  # item name -> the argument that named it

    def chosen(self, items: list[pytest.Item]) -> tuple[list[pytest.Item], list[pytest.Item]]:
        """(kept, deselected) of the added `items`."""
        if self.names is None:
            return items, []
        kept = [item for item in items if item.name in self.names]
        return kept, [item for item in items if item.name not in self.names]

    def unmatched(self, items: list[pytest.Item]) -> list[str]:
        """The arguments that name no item of `items` (pytest's "not found")."""
        if self.names is None:
            return []
        found = {item.name for item in items}
        return [given for name, given in self.names.items() if name not in found]


def take_selection(config: pytest.Config, items_file: Path) -> Selection | None:
    """Take the arguments that name `items_file` (the file the plugin's items are under) or one of its items off
    `config.args`; None when none does (every added item runs, as before)."""
    target = items_file.resolve()
    names: dict[str, str] = {}
    whole = False
    kept: list[str] = []
    for arg in config.args:
        path, _, name = arg.partition("::")
        if (config.invocation_params.dir / path).resolve() != target:
            kept.append(arg)
        elif name:
            names[name] = arg
        else:
            whole = True
    if not whole and not names:
        return None
    config.stash[SELECTED] = True
    config.args[:] = kept  # collects nothing when no other argument is left: only the items named run
    return Selection(None if whole else names)
