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


ASYNC_MODULE = '''
import asyncio
from harness.contracts import message_producer, provider_state

LOOPS = []  # the running loop of every call
EVENTS = []


@provider_state("an order exists", provider="shop")
async def order(topology, params):
    LOOPS.append(asyncio.get_running_loop())
    await asyncio.sleep(0)
    return {"id": params["id"]}


@provider_state("a cart is open", provider="shop")
async def cart(topology, params):
    LOOPS.append(asyncio.get_running_loop())
    EVENTS.append("opened")
    yield {"cart": params["cart"]}
    await asyncio.sleep(0)
    EVENTS.append("closed")


@message_producer("an order created event", provider="shop")
async def created(topology, params):
    LOOPS.append(asyncio.get_running_loop())
    return {"id": params["id"]}


@message_producer("a stock query", provider="shop")
async def stock(topology, params, request):
    return {"item": request.body["item"]}
'''


def test_async_handlers_and_producers_run_on_one_loop_of_the_run(tmp_path: Path) -> None:
    from harness.contracts.states import Message, StateRun, produce

    file = tmp_path / "states.py"
    file.write_text(ASYNC_MODULE)
    registry = load_states([file])
    try:
        assert StateRun(registry.state("shop", "an order exists"), None, {"id": 7}, registry.loop).values == {"id": 7}
        run = StateRun(registry.state("shop", "a cart is open"), None, {"cart": 3}, registry.loop)
        assert run.values == {"cart": 3}
        events = registry.state("shop", "a cart is open").__globals__["EVENTS"]
        assert events == ["opened"]  # the teardown waits for teardown()
        run.teardown()
        assert events == ["opened", "closed"]
        assert produce(registry.message("shop", "an order created event"), None, {"id": 7}, registry.loop) == {"id": 7}
        request = Message({"item": "teapot"})
        assert produce(registry.message("shop", "a stock query"), None, {}, registry.loop, request) == {"item": "teapot"}
        loops = registry.state("shop", "an order exists").__globals__["LOOPS"]
        assert len(loops) == 3 and len(set(map(id, loops))) == 1  # one loop for every call, not one per call
        assert not loops[0].is_closed()
    finally:
        registry.close()
    assert loops[0].is_closed()  # ended with the run


GENERATOR_PRODUCERS = '''
from harness.contracts import message_producer

EVENTS = []


@message_producer("a sync one", provider="shop")
def made(topology, params):
    EVENTS.append("made")
    yield {"id": params["id"]}
    EVENTS.append("cleaned")


@message_producer("an async one", provider="shop")
async def made_async(topology, params):
    EVENTS.append("made async")
    yield {"id": params["id"]}
    EVENTS.append("cleaned async")
'''


def test_a_generator_producers_message_is_what_it_yields_and_its_teardown_runs_after(tmp_path: Path) -> None:
    from harness.contracts.states import produce

    file = tmp_path / "states.py"
    file.write_text(GENERATOR_PRODUCERS)
    registry = load_states([file])
    try:
        events = registry.message("shop", "a sync one").__globals__["EVENTS"]
        assert produce(registry.message("shop", "a sync one"), None, {"id": 1}, registry.loop) == {"id": 1}
        assert produce(registry.message("shop", "an async one"), None, {"id": 2}, registry.loop) == {"id": 2}
        assert events == ["made", "cleaned", "made async", "cleaned async"]
    finally:
        registry.close()


def test_an_async_handlers_exception_reaches_the_caller(tmp_path: Path) -> None:
    from harness.contracts.states import StateRun

    file = tmp_path / "states.py"
    file.write_text("from harness.contracts import provider_state\n\n"
                    "@provider_state('broken', provider='shop')\n"
                    "async def broken(topology, params):\n    raise LookupError('no such order')\n")
    registry = load_states([file])
    try:
        with pytest.raises(LookupError, match="no such order"):
            StateRun(registry.state("shop", "broken"), None, {}, registry.loop)
    finally:
        registry.close()


@pytest.mark.parametrize(("produced", "expected"), [
    ({"contents": b'{"id": 7}', "metadata": {"topic": "orders"}, "content_type": "application/json"},
     (b'{"id": 7}', "application/json", {"topic": "orders", "contentType": "application/json"})),
    ({"contents": b"order 7 shipped", "metadata": None, "content_type": "text/plain"},
     (b"order 7 shipped", "text/plain", {"contentType": "text/plain"})),
    ({"contents": b"\x00\x01", "metadata": {"contentType": "image/png"}, "content_type": "application/octet-stream"},
     (b"\x00\x01", "application/octet-stream", {"contentType": "image/png"})),  # the metadata's own is kept
    ({"contents": b"raw"}, (b"raw", None, {})),  # no content type: none is sent, as pact-python does
    ({"contents": "a text field", "kind": "note"},  # a JSON body that has a `contents` field: JSON, as before
     (b'{"contents": "a text field", "kind": "note"}', "application/json", {"contentType": "application/json"})),
])
def test_pact_pythons_message_dict_is_passed_on_as_pact_python_does(produced: dict, expected: tuple) -> None:
    from harness.contracts.messages import encode_message

    assert encode_message(produced) == expected


def test_pact_pythons_message_dict_with_text_contents_is_refused_as_pact_python_refuses_it() -> None:
    from harness.contracts.messages import encode_message

    with pytest.raises(TypeError) as info:
        encode_message({"contents": '{"id": 7}', "metadata": None, "content_type": "application/json"})
    assert ("the producer returned pact-python's message shape ({'contents', 'metadata', 'content_type'}) with "
            "contents of type str; pact-python's Verifier needs bytes there (e.g. json.dumps(body).encode())"
            ) in str(info.value)


def test_every_states_module_that_does_not_load_is_said_when_asked_for_all(tmp_path: Path) -> None:
    good, broken, missing = tmp_path / "good.py", tmp_path / "broken.py", tmp_path / "missing.py"
    good.write_text(MODULE.format(version=1, extra=""))
    broken.write_text("import no_such_module_here\n")
    problems: list[StatesModuleError] = []
    registry = load_states([broken, missing, good], problems)
    assert [str(p) for p in problems] == [
        f"states module {broken} failed to import: ModuleNotFoundError: No module named 'no_such_module_here'",
        f"states module {missing} does not exist (named under contracts.states in the topology file, relative to it)"]
    assert registry.state("shop", "an order exists") is not None  # the module that loads is loaded
    with pytest.raises(StatesModuleError):  # without a list: the first error is raised
        load_states([broken, good])


HELPED = '''
from harness.contracts import provider_state

from {module} import NAME


@provider_state("an order exists", provider="shop")
def order(topology, params):
    from {module} import late  # imported while the handler runs, as a handler may
    return {{"name": NAME, "late": late()}}
'''


@pytest.mark.parametrize("package", [False, True])
def test_a_states_module_imports_project_modules_as_pytest_imports_a_conftest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: bool) -> None:
    """Its folder (for a module in a package: the folder above the top package) goes first on sys.path and stays, as
    pytest's default import mode does for a conftest.py: a helper beside it is found without PYTHONPATH, also by a
    handler that imports it while it runs."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    module, top = f"helpers_{int(package)}", f"scenarios_{tmp_path.name}"
    folder = tmp_path / top if package else tmp_path
    folder.mkdir(exist_ok=True)
    if package:
        (folder / "__init__.py").write_text("")
    (folder / f"{module}.py").write_text("NAME = 'teapot'\n\ndef late():\n    return 'late'\n")
    name = f"{top}.{module}" if package else module
    (folder / "states.py").write_text(HELPED.format(module=name))
    try:
        registry = load_states([folder / "states.py"])
        assert str(tmp_path) == sys.path[0]
        assert registry.state("shop", "an order exists")(None, {}) == {"name": "teapot", "late": "late"}
    finally:
        for loaded in (name, top):
            sys.modules.pop(loaded, None)
