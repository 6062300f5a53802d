"""Publishing pacts to a Pact Broker as the `pact broker publish` CLI does: one `POST` to the index's
`pb:publish-contracts` (`/contracts/publish`) per pact file, with the consumer's version, branch and tags and the pact
(base64 JSON as the file has it, `onConflict: overwrite`). The consumer version and branch default to the git
checkout's; from a checkout with uncommitted changes the version is the commit marked as a snapshot, as the Pact
Foundation's absolute-version marks a dirty working tree (`+SNAPSHOT.<host>`): the commit's own version, which a clean
checkout publishes and can-i-deploy asks about, keeps its pacts."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contracts.broker import BrokerClient
from harness.contracts.broker_config import (
    DIRTY_MARK,
    BrokerConfig,
    checkout_branch,
    git_commit,
    git_top,
    named_commit,
    no_branch_note,
)
from harness.contracts.checkout import Change, changes
from harness.contracts.pactfiles import read_pact
from harness.contracts.written import NotTheCommits, not_the_commits
from harness.errors import MalformedPact, OptionError


@dataclass(frozen=True)
class ConsumerVersion:
    """The consumer version pacts are published for: its number, branch (None: none) and tags; `snapshot`: the note
    that says why it is published as it is, a snapshot of a checkout with uncommitted changes, or without a branch
    after a session that left tests out ("": as given, or the commit on the checkout's branch)."""

    number: str
    branch: str | None = None
    tags: tuple[str, ...] = ()
    snapshot: str = ""


def consumer_version(folder: Path, number: str | None = None, branch: str | None = None,
                     tags: tuple[str, ...] = (), flag: str = "--consumer-version",
                     outputs: Sequence[Path] = (), partial: str = "",
                     branch_flag: str = "--consumer-branch", written_here: bool = True,
                     pacts: Sequence[Path] = ()) -> ConsumerVersion:
    """The consumer version given, else the git checkout's of `folder` (`git rev-parse HEAD`), marked
    `COMMIT+SNAPSHOT.<host>` when files of the checkout differ from the commit (checkout.changes: any changed
    tracked file, as the consumer code that wrote the pacts may be anywhere, and any untracked one the consumer tests
    may read; not `folder`, the run's `outputs` and `__pycache__`); the branch given, else the CI job's or the
    checkout's (broker.checkout_branch; none on a detached HEAD without a CI variable). `partial`: why the session
    that wrote the pacts did not run every consumer test of the commit (e.g. "-k given"; "": it did): its pacts may
    lack interactions and keep older ones (it merges into the files), so they are a snapshot too, or, under a
    version given, published without a branch.
    A snapshot, and a `partial` session's pacts whatever their version, have no branch unless one is given: they must
    never become the latest version of the checkout's branch (the providers' `mainBranch` and `matchingBranch`
    selectors would verify them in place of the whole suite's). `flag`, `branch_flag`: the options a user gives the
    version and the branch with. `written_here`: this process wrote the pacts (a pytest session), so the pact folder
    does not count; else (`harness publish`) pacts tracked by git that differ from the commit's, or untracked ones,
    may be stale (written by code that is not the commit's) and count as changes, unless `pacts` (the files
    published) are known to be the commit's (harness.contracts.written: the commit's own file, or these bytes written
    by a whole, passing session from a clean checkout of the commit); any of `pacts` that is not makes the version a
    snapshot, ignored by git or not.

    Raises:
        OptionError: no version given and `folder` is not in a git checkout; a version given that names a commit
            of the checkout (broker_config.named_commit) the checkout or the session is not: another commit,
            changes, or a `partial` session (the broker would hold these pacts as that commit's). A label that is no
            commit (`3.0.0`, `COMMIT-partial`) or says the tree is changed (`-dirty`) is the user's word, as the
            `pact broker publish` CLI takes it.
    """
    commit, top = git_commit(folder), git_top(folder)
    strays = not_the_commits(pacts, top, commit) if commit and top and not written_here else []
    vouched = [] if written_here else [path for path in pacts if path.resolve() not in {s.file for s in strays}]
    if number:
        if commit and top:
            _claim_holds(top, commit, number, flag, [folder, *outputs] if written_here else [*outputs, *vouched],
                         [] if written_here else [folder], partial, branch_flag,
                         [str(s) for s in strays if s.recorded])
        if partial and branch is None:
            return ConsumerVersion(number, None, tags, snapshot=(
                f"published without a branch: this session did not run every consumer test ({partial}), so its pacts "
                "may lack interactions and keep older ones (merged into the files), and a branch's latest pacts are "
                f"what providers verify (mainBranch, matchingBranch); give {branch_flag} BRANCH to publish them on "
                "one (a branch of their own)"))
        return ConsumerVersion(number, branch or checkout_branch(folder), tags)
    if not commit or not top:
        raise OptionError(f"publishing pacts needs the consumer version: give {flag} (the git checkout's "
                          f"commit is taken when there is one; {folder} is not in a git checkout)")
    changed = changes(top, [folder, *outputs] if written_here else [*outputs, *vouched],
                      [] if written_here else [folder])
    if changed == [] and not partial and not strays:
        return ConsumerVersion(commit, branch or checkout_branch(folder), tags)
    marked = snapshot_version(commit)
    if changed == [] and strays and not partial:
        why = (f"{_strays(strays)}, so these pacts may not be the commit's; run the whole consumer suite on a clean "
               f"checkout of the commit (the harness's pytest plugin records the pacts it writes), or publish them "
               f"from the session that writes them (pytest --pact-publish), or give {flag} VERSION")
    elif changed == []:
        why = (f"this session did not run every consumer test ({partial}), so these pacts may lack interactions of "
               f"the commit's and keep older ones (merged into the files); run the whole session to publish under the "
               f"commit, or give {flag} VERSION (a version that is no commit of the checkout, e.g. "
               f"COMMIT{PARTIAL_MARK})")
    else:
        dirty = ("may have uncommitted changes (git status failed), so the commit may not name" if changed is None
                 else "has uncommitted changes" + (" outside the pact folder" if written_here else "") + " ("
                 + _listed(changed) + "), so the commit does not name")
        why = (f"the git checkout {top} {dirty} the code that wrote these pacts (the Pact convention for a dirty "
               f"working tree: +SNAPSHOT.<host>); commit the changes to publish under the commit, or give {flag} "
               "VERSION") + (f" (this session did not run every consumer test either: {partial})" if partial else "")
        pacts_in = folder.resolve().relative_to(top.resolve()).as_posix() + "/" if folder.resolve().is_relative_to(
            top.resolve()) else None
        if changed and pacts_in and any(c.path.startswith(pacts_in) for c in changed):  # harness publish only
            why += ("; pacts that differ from the commit's may be stale: publish them from the session that writes "
                    "them (pytest --pact-publish)")
        if strays:
            why += f"; {_strays(strays)}"
    note = f"published as consumer version {marked}, not as the commit {commit}: {why}"
    if branch is None:
        note += (f"; without a branch, so that it never becomes the latest version of the checkout's branch (give "
                 f"{branch_flag} BRANCH to publish it on one)")
    return ConsumerVersion(marked, branch, tags, snapshot=note)


def _claim_holds(top: Path, commit: str, number: str, flag: str, outputs: list[Path],
                 read: list[Path], partial: str = "", branch_flag: str = "--consumer-branch",
                 written_otherwise: Sequence[str] = ()) -> None:
    """Raise OptionError when `number` names a commit of the checkout at `top` (HEAD: `commit`) that the checkout
    or the session is not: another commit, or the same with changes that may change the pacts (checkout.changes, but
    `outputs`; `read`: folders whose untracked files count), or a session that did not run every consumer test
    (`partial`: why; its pacts may lack interactions and keep older ones, and `onConflict: overwrite` would replace
    the whole suite's), and no `-dirty` mark, as `git describe --dirty` gives."""
    named = named_commit(top, number)
    if named is None:
        return
    if named != commit:
        raise OptionError(f"publishing pacts as consumer version {number} ({flag}), a commit of the git checkout "
                          f"{top}, from a checkout at commit {commit[:12]}: the broker would hold them as the pacts "
                          f"of {number}; check out {number}, or give the checkout's own version")
    if number.endswith(DIRTY_MARK):
        return
    if written_otherwise:  # the plugin's record says how they were written: not as that commit's pacts
        raise OptionError(f"publishing pacts as consumer version {number} ({flag}), the commit of the git checkout "
                          f"{top}, but {'; '.join(written_otherwise)}: the broker would hold them as {number}'s; "
                          f"run the whole consumer suite on a clean checkout of the commit, or give {flag} "
                          f"{number}{DIRTY_MARK} (a version that says the pacts are not the commit's)")
    changed = changes(top, outputs, read)
    if changed == [] and partial:
        raise OptionError(f"publishing pacts as consumer version {number} ({flag}), the commit of the git checkout "
                          f"{top}, from a session that did not run every consumer test ({partial}): its pacts may "
                          f"lack interactions of the commit's and keep older ones (merged into the files), and the "
                          f"broker would hold them as {number}'s (replacing the whole suite's); run the whole "
                          "consumer suite to publish under the commit, "
                          f"or give {flag} {number}{PARTIAL_MARK} (a version that is no commit, published without a "
                          f"branch unless {branch_flag} gives one) if these pacts are wanted")
    if changed == []:
        return
    what = ("may have uncommitted changes (git status failed)" if changed is None else "has uncommitted changes ("
            + _listed(changed) + ")")
    untracked = (" (an untracked file the consumer tests may read: git add it; one a run writes that no test reads: "
                 "add it to .gitignore)") if changed and any(c.untracked for c in changed) else ""
    raise OptionError(f"publishing pacts as consumer version {number} ({flag}), the commit of the git checkout "
                      f"{top}, but the checkout {what}: the commit does not name the code that wrote them; commit "
                      f"the changes{untracked}, or leave out {flag} (they are published as COMMIT+SNAPSHOT.<host>), "
                      f"or give {flag} {number}{DIRTY_MARK} (a version that says the tree is changed, as git describe "
                      "--always --dirty writes it)" + (f" (this session did not run every consumer test either: "
                                                       f"{partial})" if partial else ""))


PARTIAL_MARK = "-partial"  # what the refusal of a partial session's commit version suggests: no commit's name


def _strays(strays: list[NotTheCommits]) -> str:
    """The first three pacts not known to be the commit's, each with why, and how many more."""
    return "; ".join(map(str, strays[:3])) + (f"; and {len(strays) - 3} more" if len(strays) > 3 else "")


def _listed(changed: list[Change]) -> str:
    """The first three changes (`untracked PATH` for a new file) and how many more."""
    return ", ".join(map(str, changed[:3])) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def snapshot_version(commit: str) -> str:
    """The version this machine publishes pacts of a checkout of `commit` under when the checkout differs from it
    (or the session left tests out): `COMMIT+SNAPSHOT.<host>`."""
    return f"{commit}+SNAPSHOT.{_host()}"


def _host() -> str:
    """This machine's name as semver build metadata allows it ([0-9A-Za-z-]; others dropped, as absolute-version
    does)."""
    return re.sub(r"[^0-9A-Za-z-]", "", socket.gethostname()) or "unknown"


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
    if version.snapshot:
        publication.notes.append(version.snapshot)
    if version.branch is None and not version.snapshot:  # a snapshot's note says why it has none
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


def check_publishing_pacts(config: BrokerConfig, stopped: str = "no test was run") -> None:
    """Before the consumer tests run, when their pacts are to be published: whether the broker lets the credentials
    publish pacts, asked with an empty publication POSTed to the index's `pb:publish-contracts`, which the broker
    rejects (400: `pacticipantName`, `pacticipantVersionNumber` and `contracts` are required, pact_broker's
    PublishContractsSchema) and keeps nothing of (BrokerClient.check_write). `stopped`: what a refusal stops.

    Raises:
        BrokerRefused: the credentials may not publish pacts (401 or 403 to it).
        BrokerUnavailable: the broker cannot be reached, has no `pb:publish-contracts`, or took the empty one.
    """
    client = BrokerClient(config)
    client.check_write(client.link("pb:publish-contracts"), "pacts", "publication", stopped)


def _contract(consumer: str, provider: str, data: dict[str, Any]) -> dict[str, Any]:
    content = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return {"consumerName": consumer, "providerName": provider, "specification": "pact",
            "contentType": "application/json", "content": base64.b64encode(content).decode(),
            "onConflict": "overwrite"}


def publication_wanted(asked: bool, version_given: bool, env: Mapping[str, str] = os.environ) -> bool:
    """Whether a pytest session publishes the pacts it wrote: when asked (--pact-publish), or in CI (CI=true) when a
    consumer version is given, as the Pact docs advise (never by default from a laptop)."""
    return asked or (env.get("CI") == "true" and version_given)
