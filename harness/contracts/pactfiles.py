"""Pact files on disk: reading them with clear errors, and writing them byte-for-byte deterministically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import MalformedPact


@dataclass(frozen=True)
class ProviderState:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PactFile:
    path: Path
    consumer: str
    provider: str
    interactions: list[dict[str, Any]]

    @property
    def edge(self) -> str:
        return f"{self.consumer}->{self.provider}"

    @property
    def has_messages(self) -> bool:
        return any(i.get("type", "").startswith("Asynchronous") or "contents" in i for i in self.interactions)

    @property
    def has_http(self) -> bool:
        return any(i.get("type", "Synchronous/HTTP") == "Synchronous/HTTP" and "request" in i
                   for i in self.interactions)

    def states(self) -> list[ProviderState]:
        found: list[ProviderState] = []
        for interaction in self.interactions:
            states = interaction.get("providerStates") or (
                [{"name": interaction["providerState"]}] if interaction.get("providerState") else [])
            for state in states:
                found.append(ProviderState(state["name"], state.get("params") or {}))
        return found


def load_pacts(folder: Path) -> list[PactFile]:
    """Every `*.json` pact in `folder`, sorted by consumer and provider."""
    if not folder.is_dir():
        raise MalformedPact(f"no pact folder at {folder}: run the consumer tests first (they write pacts there), "
                            "or point --pacts at the folder that holds them")
    return sorted((read_pact(path) for path in folder.glob("*.json")), key=lambda p: (p.consumer, p.provider))


def read_pact(path: Path) -> PactFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MalformedPact(f"{path}: cannot read the pact file ({error})") from None
    except json.JSONDecodeError as error:
        raise MalformedPact(f"{path}:{error.lineno}: not valid JSON ({error.msg}); regenerate it by running the "
                            "consumer tests") from None
    try:
        consumer = data["consumer"]["name"]
        provider = data["provider"]["name"]
        interactions = data.get("interactions", data.get("messages"))
        if not isinstance(consumer, str) or not isinstance(provider, str) or not isinstance(interactions, list):
            raise TypeError
        if not all(isinstance(i, dict) and isinstance(i.get("description"), str) for i in interactions):
            raise TypeError
    except (KeyError, TypeError):
        raise MalformedPact(f"{path}: not a pact file: it needs consumer.name, provider.name and a list of "
                            "interactions, each with a description; regenerate it by running the consumer tests"
                            ) from None
    return PactFile(path, consumer, provider, interactions)


def write_deterministic(source: Path, folder: Path) -> Path:
    """Rewrite a pact written by pact-python so that the same interactions always give the same bytes."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["interactions"] = sorted(
        data.get("interactions", []),
        key=lambda i: (i.get("description", ""), json.dumps(i.get("providerStates", []), sort_keys=True)))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
