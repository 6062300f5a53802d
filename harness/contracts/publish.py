"""Publishing pacts to a Pact Broker as the `pact broker publish` CLI does: one `POST` to the index's
`pb:publish-contracts` (`/contracts/publish`) per pact file, with the consumer's version, branch and tags and the pact
(base64 JSON as the file has it, `onConflict: overwrite`). The consumer version and branch default to the git
checkout's."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contracts.broker import BrokerClient
from harness.contracts.broker_config import BrokerConfig, checkout_branch, git_commit, no_branch_note
from harness.contracts.pactfiles import read_pact
from harness.errors import MalformedPact, OptionError


@dataclass(frozen=True)
class ConsumerVersion:
    """The consumer version pacts are published for: its number, branch (None: none) and tags."""

    number: str
    branch: str | None = None
    tags: tuple[str, ...] = ()


def consumer_version(folder: Path, number: str | None = None, branch: str | None = None,
                     tags: tuple[str, ...] = (), flag: str = "--consumer-version") -> ConsumerVersion:
    """The consumer version given, else the git checkout's of `folder` (`git rev-parse HEAD`); the branch given,
    else the CI job's or the checkout's (broker.checkout_branch; none on a detached HEAD without a CI variable).
    `flag`: the option a user gives the version with.

    Raises:
        OptionError: no version given and `folder` is not in a git checkout.
    """
    number = number or git_commit(folder)
    if not number:
        raise OptionError(f"publishing pacts needs the consumer version: give {flag} (the git checkout's "
                          f"commit is taken when there is one; {folder} is not in a git checkout)")
    return ConsumerVersion(number, branch or checkout_branch(folder), tags)


@dataclass(frozen=True)
class PublishedPact:
    """One pact the broker took: its consumer and provider, the file, and the broker's URL of it (None: the broker
    did not say)."""

    consumer: str
    provider: str
    path: Path
    url: str | None


@dataclass
class Publication:
    """What a publication did: the version, the pacts the broker took, its notices (`type: text`) and our
    notes."""

    version: ConsumerVersion
    pacts: list[PublishedPact] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # ours: e.g. published without a branch


def pact_files(folder: Path) -> list[Path]:
    """The `*.json` files of a pact folder, sorted.

    Raises:
        MalformedPact: the folder does not exist or holds no pact file.
    """
    if not folder.is_dir():
        raise MalformedPact(f"no pact folder at {folder}: run the consumer tests first (they write pacts there), or "
                            "point --pacts at the folder that holds them")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise MalformedPact(f"no pact files (*.json) in {folder}: nothing to publish; run the consumer tests first, "
                            "or point --pacts at the folder that holds them")
    return files


def publish_pacts(config: BrokerConfig, files: list[Path], version: ConsumerVersion,
                  branch_flag: str = "--consumer-branch") -> Publication:
    """Publish `files` (pact files) for `version` of their consumers. Every file is read before anything is sent:
    one that is not a pact publishes nothing. `branch_flag`: the option that gives the branch (for a note when
    there is none).

    Raises:
        MalformedPact: a file that cannot be read or is not a pact (the file and what to do).
        BrokerUnavailable, BrokerRefused: as BrokerClient (401/403 name the credential used, never its value).
    """
    pacts = [(path, read_pact(path), json.loads(path.read_text(encoding="utf-8"))) for path in files]
    client = BrokerClient(config)
    publication = Publication(version)
    if version.branch is None:
        publication.notes.append(no_branch_note(f"consumer version {version.number} is published", branch_flag))
    for path, pact, data in pacts:  # one request per pact, as the `pact` CLI publishes
        body: dict[str, Any] = {"pacticipantName": pact.consumer, "pacticipantVersionNumber": version.number,
                                "contracts": [_contract(pact.consumer, pact.provider, data)]}
        if version.branch:
            body["branch"] = version.branch
        if version.tags:
            body["tags"] = list(version.tags)
        answer = client.request("POST", client.link("pb:publish-contracts"), body) or {}
        urls = [c.get("href") for c in (answer.get("_links") or {}).get("pb:contracts") or [] if isinstance(c, dict)]
        publication.pacts.append(PublishedPact(pact.consumer, pact.provider, path, urls[0] if urls else None))
        publication.notices += [f"{n.get('type', 'info')}: {n.get('text', '')}" for n in answer.get("notices") or []
                                if isinstance(n, dict)]
    return publication


def _contract(consumer: str, provider: str, data: dict[str, Any]) -> dict[str, Any]:
    content = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return {"consumerName": consumer, "providerName": provider, "specification": "pact",
            "contentType": "application/json", "content": base64.b64encode(content).decode(),
            "onConflict": "overwrite"}


def publication_wanted(asked: bool, version_given: bool, env: Mapping[str, str] = os.environ) -> bool:
    """Whether a pytest session publishes the pacts it wrote: when asked (--pact-publish), or in CI (CI=true) when a
    consumer version is given, as the Pact docs advise (never by default from a laptop)."""
    return asked or (env.get("CI") == "true" and version_given)
