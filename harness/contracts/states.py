"""Provider states and message producers, registered by decorators in a states module the topology names.

    @provider_state("user 1 exists", provider="dataservice")
    def user_exists(topology, params):
        ...                      # set the data up (API, database container, ...)
        yield {"id": 1}          # values for provider-state generators (optional)
        ...                      # teardown (optional: a plain function that returns is fine too)

    @message_producer("a fetch job", provider="gateway")
    def fetch_job(topology, params):
        return gateway.jobs.fetch_job_message(1)   # the real producer function
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import StatesModuleError

Handler = Callable[..., Any]



@dataclass
class Registry:
    states: dict[tuple[str, str], Handler] = field(default_factory=dict)
    messages: dict[tuple[str, str], Handler] = field(default_factory=dict)

    def state(self, provider: str, name: str) -> Handler | None:
        return self.states.get((provider, name))

    def message(self, provider: str, description: str) -> Handler | None:
        return self.messages.get((provider, description))


# Decorators register here; load_states() hands out what a module registered.
_registered = Registry()


def provider_state(name: str, *, provider: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _registered.states[(provider, name)] = handler
        return handler

    return register


def message_producer(description: str, *, provider: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _registered.messages[(provider, description)] = handler
        return handler

    return register


def load_states(files: list[Path]) -> Registry:
    """Import each states module (by path) and return everything they registered."""
    for file in files:
        if not file.is_file():
            raise StatesModuleError(f"states module {file} does not exist (named under contracts.states in the "
                                    "topology file, relative to it)")
        name = f"_harness_states_{abs(hash(file.resolve()))}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # noqa: BLE001 - any import failure is the module's, reported as such
            del sys.modules[name]
            raise StatesModuleError(f"states module {file} failed to import: {type(error).__name__}: {error}"
                                    ) from error
    return _registered


class StateRun:
    """One setup of a state: its values, and its teardown when the handler is a generator."""

    def __init__(self, handler: Handler, topology: Any, params: dict[str, Any]) -> None:
        result = handler(topology, params)
        self._generator: Generator | None = result if inspect.isgenerator(result) else None
        self.values = next(self._generator, None) if self._generator else result

    def teardown(self) -> None:
        if self._generator:
            next(self._generator, None)
