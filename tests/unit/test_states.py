"""States modules are imported afresh on every load: an edited module gives its new behaviour in the same process,
even when Python would otherwise reuse a cached .pyc (same mtime second, same size), and loads never merge."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.contracts.states import load_states
from harness.errors import StatesModuleError

MODULE = '''
from harness.contracts import message_producer, provider_state

@provider_state("an order exists", provider="shop")
def order(topology, params):
    return {{"id": params["id"], "version": {version}}}
{extra}'''

PRODUCER = '''
@message_producer("an order created event", provider="shop")
def created(topology, params):
    return {"id": params["id"]}
'''


@pytest.fixture
def bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """.pyc files written as on a usual machine (this suite may run with PYTHONDONTWRITEBYTECODE): with the standard
    loader, the first load leaves one whose stamp (mtime second, size) the edited source still matches."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def edit(file: Path, text: str) -> None:
    """Rewrite `file` keeping its mtime: what an edit within the same second looks like to the .pyc check."""
    stat = file.stat()
    file.write_text(text)
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_an_edited_states_module_gives_the_new_behaviour(tmp_path: Path, bytecode: None) -> None:
    file = tmp_path / "states.py"
    file.write_text(MODULE.format(version=1, extra=""))
    first = load_states([file])
    assert first.state("shop", "an order exists")(None, {"id": 7}) == {"id": 7, "version": 1}

    edit(file, MODULE.format(version=2, extra=""))  # same size, same mtime: only the handler's behaviour changed
    second = load_states([file])
    assert second.state("shop", "an order exists")(None, {"id": 7}) == {"id": 7, "version": 2}
    assert first.state("shop", "an order exists")(None, {"id": 7}) == {"id": 7, "version": 1}  # loads never merge


def test_handlers_added_and_removed_by_an_edit_are_seen(tmp_path: Path, bytecode: None) -> None:
    file = tmp_path / "states.py"
    file.write_text(MODULE.format(version=1, extra=PRODUCER))
    assert load_states([file]).message("shop", "an order created event") is not None

    edit(file, MODULE.format(version=1, extra=""))
    registry = load_states([file])
    assert registry.message("shop", "an order created event") is None
    assert list(registry.states) == [("shop", "an order exists")]


def test_an_edit_that_breaks_the_module_is_reported_not_hidden_by_the_earlier_import(tmp_path: Path,
                                                                                     bytecode: None) -> None:
    file = tmp_path / "states.py"
    file.write_text(MODULE.format(version=1, extra=""))
    load_states([file])

    edit(file, MODULE.format(version=1, extra="").replace('params["id"]', 'params["id"'))
    with pytest.raises(StatesModuleError) as info:
        load_states([file])
    assert f"states module {file} failed to import: SyntaxError" in str(info.value)
