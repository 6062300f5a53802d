"""Pact files on disk: reading them with clear errors (V2, V3 and V4, HTTP and message pacts), and writing them
byte-for-byte deterministically."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import MalformedPact


@dataclass(frozen=True)
class ProviderState:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


def is_message(interaction: dict[str, Any]) -> bool:
    """A message interaction: V3 `messages` entries (they have `contents`), V4 asynchronous and synchronous ones."""
    kind = str(interaction.get("type", ""))
    return kind.startswith(("Asynchronous/", "Synchronous/Messages")) or "contents" in interaction


def is_sync_message(interaction: dict[str, Any]) -> bool:
    """A V4 synchronous message: a `request` message and the `response` messages that answer it."""
    return str(interaction.get("type", "")) == "Synchronous/Messages"


def interaction_states(interaction: dict[str, Any]) -> list[ProviderState]:
    """V3/V4 `providerStates` (with params), or V2's single `providerState` name."""
    states = interaction.get("providerStates")
    if states is None and interaction.get("providerState"):
        states = [{"name": interaction["providerState"]}]
    return [ProviderState(s["name"], s.get("params") or {}) for s in states or []]


@dataclass(frozen=True)
class PactFile:
    path: Path
    consumer: str  # the names as the pact writes them
    provider: str
    interactions: list[dict[str, Any]]
    specification: str = ""  # metadata.pactSpecification.version, e.g. "2.0.0"

    @property
    def edge(self) -> str:
        return f"{self.consumer}->{self.provider}"

    @property
    def has_messages(self) -> bool:
        return any(is_message(i) for i in self.interactions)

    @property
    def has_http(self) -> bool:
        return any(not is_message(i) for i in self.interactions)

    def interaction(self, description: str) -> dict[str, Any] | None:
        return next((i for i in self.interactions if i.get("description") == description), None)

    def states(self) -> list[ProviderState]:
        return [state for interaction in self.interactions for state in interaction_states(interaction)]

    def labels(self) -> list[tuple[str, str]]:
        """(label, description) of every interaction, in the pact's order. The label is the description, and where
        two interactions share it, their provider states too (` [given a, b]`, ` [no state]`), then `#2`, `#3` for
        what is still the same: one name per interaction, for pytest items and JUnit cases alike."""
        def with_states(interaction: dict[str, Any]) -> str:
            states = interaction_states(interaction)
            given = ", ".join(s.name + (f" {json.dumps(s.params, sort_keys=True)}" if s.params else "") for s in states)
            return f"{interaction['description']} [{'given ' + given if states else 'no state'}]"

        descriptions = [i["description"] for i in self.interactions]
        labels = [d if descriptions.count(d) == 1 else with_states(i) for d, i in zip(descriptions, self.interactions,
                                                                                       strict=True)]
        unique: list[tuple[str, str]] = []
        seen: dict[str, int] = {}
        for label, description in zip(labels, descriptions, strict=True):
            seen[label] = seen.get(label, 0) + 1
            unique.append((f"{label} #{seen[label]}" if seen[label] > 1 else label, description))
        return unique


@dataclass(frozen=True)
class UnreadablePact:
    """A file of the pact folder that is not a pact that can be verified: it gets an error verdict."""

    path: Path
    error: MalformedPact


def scan_pacts(folder: Path) -> list[PactFile | UnreadablePact]:
    """Every `*.json` file in `folder`: readable pacts sorted by consumer and provider, then unreadable files.

    Raises:
        MalformedPact: the folder does not exist.
    """
    if not folder.is_dir():
        raise MalformedPact(f"no pact folder at {folder}: run the consumer tests first (they write pacts there), "
                            "or point --pacts at the folder that holds them")
    found: list[PactFile | UnreadablePact] = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(read_pact(path))
        except MalformedPact as error:
            found.append(UnreadablePact(path, error))
    return sorted(found, key=lambda p: (isinstance(p, UnreadablePact),
                                        (p.consumer, p.provider, p.path.name) if isinstance(p, PactFile)
                                        else ("", "", p.path.name)))


def read_pact(path: Path) -> PactFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MalformedPact(f"{path}: cannot read the pact file ({error})", location=str(path)) from None
    except json.JSONDecodeError as error:
        raise MalformedPact(f"{path}:{error.lineno}: not valid JSON ({error.msg}); regenerate it by running the "
                            "consumer tests", location=f"{path}:{error.lineno}") from None
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
                            "interactions (or messages), each with a description; regenerate it by running the "
                            "consumer tests", location=str(path)) from None
    version = ((data.get("metadata") or {}).get("pactSpecification") or {}).get("version", "")
    return PactFile(path, consumer, provider, interactions, str(version))


def write_deterministic(source: Path, folder: Path, kept: Sequence[dict[str, Any]] = ()) -> Path:
    """Rewrite a pact written by pact-python so that the same interactions always give the same bytes; `kept`: more
    interactions to write with them (a partial session's merge keeps the file's others)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["interactions"] = sorted(
        [*kept, *data.get("interactions", [])],
        key=lambda i: (i.get("description", ""), json.dumps(i.get("providerStates", []), sort_keys=True)))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
