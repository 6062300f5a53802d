"""Provider states and message producers, marked by decorators in the states modules a topology names and
collected per load into a Registry (no process-wide registry: two topologies' modules never merge, and an edited
module is imported again on the next load).

    @provider_state("user 1 exists", provider="dataservice")
    def user_exists(topology, params):
        ...                      # set the data up (API, database container, ...)
        yield {"id": 1}          # values for provider-state generators (optional)
        ...                      # teardown (optional: a plain function that returns is fine too)

    @message_producer("a fetch job", provider="gateway")
    def fetch_job(topology, params):               # params: those of the interaction's provider states
        return gateway.jobs.fetch_job_message(1)   # the real producer function; or Message(body, metadata={...})

    @message_producer("a stock query", provider="gateway")      # a V4 synchronous message: the producer answers
    def stock(topology, params, request):                       # the pact's request (a Message)
        return gateway.stock.answer(request.body)

Handlers and producers may be `async def` (an async generator for a setup with teardown); they run on one event
loop of the run (Registry.loop), in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.machinery
import importlib.util
import inspect
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ProviderStateFailed, StatesModuleError

if TYPE_CHECKING:
    from harness.runtime.service import ExecResult

Handler = Callable[..., Any]
MARK = "__harness_contracts__"  # on a decorated function: [(kind, provider, name), ...]
# While load_states() imports a module, the decorators also report here (handlers made by a factory function or
# kept in a container are not module attributes); bound only during that import, so loads never merge.
_loading: contextvars.ContextVar[list[tuple[str, str, str, Handler]] | None] = contextvars.ContextVar(
    "harness_states_loading", default=None)


class HandlerLoop:
    """The event loop that `async def` state handlers and message producers run on: one for a run (a client a
    handler keeps, bound to the loop it was made on, works in the next call too), in a daemon thread of its own,
    started on first use. Handlers are called from the threads of the state and message server; each waits here
    for its coroutine."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """Await `awaitable` on the loop and return its result (or raise its exception) in the calling thread."""
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), self._started()).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="harness-handler-loop",
                                                daemon=True)
                self._thread.start()
            return self._loop

    def close(self) -> None:
        """End the loop (its async generators finalised); a later `run` starts a new one."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@dataclass
class Registry:
    """The handlers of one load: (provider service, state name) -> handler, (provider, description) -> producer;
    and the event loop their `async def` ones run on (closed by `close()` at the end of the run)."""

    states: dict[tuple[str, str], Handler] = field(default_factory=dict)
    messages: dict[tuple[str, str], Handler] = field(default_factory=dict)
    loop: HandlerLoop = field(default_factory=HandlerLoop, repr=False, compare=False)

    def state(self, provider: str, name: str) -> Handler | None:
        return self.states.get((provider, name))

    def message(self, provider: str, description: str) -> Handler | None:
        return self.messages.get((provider, description))

    def close(self) -> None:
        self.loop.close()


@dataclass(frozen=True)
class Message:
    """What a message producer may return instead of a bare body: the body (dict/list -> JSON, str -> text,
    bytes -> binary), the message's metadata (checked against the pact's `metadata`/`metaData`, e.g. a topic or a
    schema version) and its content type (default: from the body's type, or the metadata's `contentType`).
    A `(body, metadata)` tuple means the same as `Message(body, metadata)`."""

    body: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None


def _mark(kind: str, provider: str, name: str) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        marks = list(getattr(handler, MARK, []))
        marks.append((kind, provider, name))
        try:
            setattr(handler, MARK, marks)
        except AttributeError:  # a bound method or builtin: wrap it so that it can carry the mark
            @functools.wraps(handler)  # keeps its signature (produce() reads it)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return handler(*args, **kwargs)
            setattr(wrapper, MARK, marks)
            handler = wrapper
        collected = _loading.get()
        if collected is not None:
            collected.append((kind, provider, name, handler))
        return handler

    return mark


def provider_state(name: str, *, provider: str) -> Callable[[Handler], Handler]:
    """Mark `handler(topology, params)` as the setup of provider state `name` of service `provider`.

    The handler gets the running Topology and the state's params from the pact (a dict, `{}` when none). It may
    return (or yield once) a dict of values for provider-state generators (e.g. `bearer_token()`'s `token`); code
    after a `yield` is the state's teardown. It may be `async def` (also an async generator, with the same teardown):
    it runs on one event loop the harness keeps for the run. An exception fails the interactions that use the state,
    with its message. Registered per load of the states module (`contracts.states` of the topology file): nothing
    global.
    """
    return _mark("state", provider, name)


def message_producer(description: str, *, provider: str) -> Callable[[Handler], Handler]:
    """Mark `producer(topology, params)` as the producer of message `description` of service `provider`.

    The producer gets the running Topology and the state's params; it returns the message body (dict/list: JSON,
    str: text, bytes: binary), `(body, metadata)`, `Message(body, metadata, content_type)`, or pact-python's own
    message dict `{"contents": bytes, "metadata": {...}, "content_type": "..."}` (the bytes sent as they are, as
    pact-python's Verifier does). It may be `async def` (awaited on the event loop of the run), or a generator or
    async generator that yields the message once (its code after the yield runs once the message is made). Metadata
    is checked as the pact says. For a V4 synchronous message (`Synchronous/Messages`) the reply is what is checked,
    and a producer that takes a third argument gets the pact's request as a Message (body decoded as for replies:
    JSON -> dict/list, text -> str, base64 -> bytes). A message interaction without a producer raises
    MissingMessageProducer before verifying.
    """
    return _mark("message", provider, description)


def produce(producer: Handler, topology: Any, params: dict[str, Any], loop: HandlerLoop,
            request: Message | None = None) -> Any:
    """Call a message producer: `(topology, params)`, or `(topology, params, request)` for a synchronous message
    when the producer takes a third positional argument; an `async def` one is awaited on `loop`. A generator (or
    async generator) producer's message is what it yields first; its code after that yield runs right after."""
    if request is not None and _takes_three(producer):
        produced = producer(topology, params, request)
    else:
        produced = producer(topology, params)
    if inspect.isgenerator(produced):  # the message is what it yields; its code after the yield runs once it is made
        message = next(produced, None)
        for _ in produced:
            pass
        return message
    if inspect.isasyncgen(produced):
        message = loop.run(anext(produced, None))
        loop.run(_exhausted(produced))
        return message
    return loop.run(produced) if inspect.isawaitable(produced) else produced


async def _exhausted(generator: AsyncIterator[object]) -> None:
    async for _ in generator:
        pass


def _takes_three(function: Handler) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the two-argument form
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def load_states(files: list[Path], problems: list[StatesModuleError] | None = None) -> Registry:
    """Import each states module (by path, afresh on every call) and collect the handlers it marks.

    Args:
        problems: when given, each module's error is added to it and the other modules are still loaded (to say
            every problem at once); else the first error is raised.
    Raises:
        StatesModuleError: a file is missing, fails to import, or two handlers claim the same state or message.
    """
    registry = Registry()
    for file in files:
        try:
            _load_module(file, registry)
        except StatesModuleError as error:
            if problems is None:
                raise
            problems.append(error)
    return registry


def _load_module(file: Path, registry: Registry) -> None:
    if not file.is_file():
        raise StatesModuleError(f"states module {file} does not exist (named under contracts.states in the "
                                "topology file, relative to it)")
    collected: list[tuple[str, str, str, Handler]] = []
    token = _loading.set(collected)
    try:
        module = _import_fresh(file)
    finally:
        _loading.reset(token)
    for value in list(vars(module).values()):  # also handlers imported from elsewhere, marked earlier
        for kind, provider, name in getattr(value, MARK, []) if callable(value) else []:
            collected.append((kind, provider, name, value))
    for kind, provider, name, value in collected:
        table = registry.states if kind == "state" else registry.messages
        known = table.get((provider, name))
        if known is not None and known is not value:
            what = "provider state" if kind == "state" else "message producer"
            raise StatesModuleError(f"{file}: two handlers for {what} {name!r} of {provider}: "
                                    f"{known.__name__} and {value.__name__}")
        table[(provider, name)] = value


class _SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the module from its source on every load. The standard loader would run a cached .pyc whenever the
    source's mtime (whole seconds) and size match it: an edit within the same second that keeps the size (a 1
    changed to a 2) would go unseen."""

    def get_code(self, fullname: str) -> Any:
        return self.source_to_code(self.get_data(self.path), self.path)


def _import_fresh(file: Path) -> Any:
    """The module of `file`, compiled from its source and executed now (not taken from an earlier import or a .pyc),
    kept in sys.modules under a name of its own while it runs (dataclasses, pickling and relative lookups need
    that)."""
    name = f"_harness_states_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file, loader=_SourceLoader(name, str(file)))
    if spec is None or spec.loader is None:
        raise StatesModuleError(f"states module {file} cannot be imported (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    _on_path(file)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - any import failure is the module's, reported as such
        if previous is not None:
            sys.modules[name] = previous
        else:
            del sys.modules[name]
        raise StatesModuleError(f"states module {file} failed to import: {type(error).__name__}: {error}"
                                ) from error
    return module


def _on_path(file: Path) -> None:
    """Put the folder a states module's imports start from first on sys.path (and leave it there), as pytest's
    default import mode does for a conftest.py: the module's folder, or for a module in a package (a folder with
    `__init__.py`) the folder above its top package. So `from helpers import X` finds helpers.py beside it, also
    when a handler imports it while it runs."""
    folder = file.resolve().parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def in_container(topology: Any, service: str, command: str | list[str]) -> str:
    """Run `command` inside `service`'s container (for states that live there: a database, a cache, a file) and
    return its output.

    Raises:
        ProviderStateFailed: the command exits non-zero (its output is in the message).
    """
    result: ExecResult = topology[service].exec(command)
    if result.exit_code != 0:
        shown = command if isinstance(command, str) else " ".join(command)
        raise ProviderStateFailed(f"`{shown}` in {service} exited {result.exit_code}: {result.output.strip()[-500:]}",
                                  service=service, command=command, command_exit=result.exit_code)
    return result.output


class StateRun:
    """One setup of a state: its values, and its teardown when the handler is a generator. An `async def` handler
    is awaited on `loop`; an async generator's code after its `yield` is the teardown, as for a generator."""

    def __init__(self, handler: Handler, topology: Any, params: dict[str, Any], loop: HandlerLoop) -> None:
        result = handler(topology, params)
        self._loop = loop
        self._generator: Iterator[object] | None = result if inspect.isgenerator(result) else None
        self._async_generator: AsyncIterator[object] | None = result if inspect.isasyncgen(result) else None
        self.values: Any  # what the handler returns or yields first: a dict of values, by the handler's contract
        if self._generator is not None:
            self.values = next(self._generator, None)
        elif self._async_generator is not None:
            self.values = loop.run(anext(self._async_generator, None))
        else:
            self.values = loop.run(result) if inspect.isawaitable(result) else result

    def teardown(self) -> None:
        if self._generator is not None:
            next(self._generator, None)
        elif self._async_generator is not None:
            self._loop.run(anext(self._async_generator, None))
