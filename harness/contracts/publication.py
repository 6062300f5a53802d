"""What a verification run says of the verification results it published to a Pact Broker (or why it did not): one
text for both front-ends."""

from __future__ import annotations

from harness.contracts.broker_config import BrokerConfig, no_branch_note
from harness.contracts.results import PactResult


def results_publication(config: BrokerConfig | None, results: list[PactResult]) -> str | None:
    """Whether this run published verification results to the broker (where, for which provider version and
    branch, how many) or why not; None without a broker or when no pact came from it."""
    ours = [r for r in results if r.source]  # by the verdicts (an xdist controller has its workers')
    if config is None or not ours:
        return None
    if not config.publish:
        return f"verification results not published to the Pact Broker {config.url}: {config.publish_reason}"
    kept = sum(bool(r.cached_by) for r in ours)
    published = sum(r.published for r in ours)
    refused = [r.not_published for r in ours if r.not_published]
    partial = sum(r.partial and not r.published and not r.cached_from and r.verdict in ("verified", "failed")
                  for r in ours)
    withheld = list(dict.fromkeys(r.withheld for r in ours if r.withheld))
    held = sum(bool(r.withheld) for r in ours)
    unpublished = len(ours) - published - kept - len(refused) - partial - held
    version = f"provider version {config.provider_version}" + (
        f" on branch {config.provider_branch}" if config.provider_branch else "")
    hints = dict.fromkeys(r.error.hint for r in ours if r.not_published and r.error is not None and r.error.hint)
    why = f"{'; '.join(dict.fromkeys(refused))} (the pact's verdict is an error for it)"
    told = "".join(f"\n{hint}" for hint in hints)  # what to do about the refusal, once
    in_part = ("verified in part only, not published: the others of their interactions were not selected (-k, "
               "-m, --lf, ...), and the broker records a result for the whole pact; run all of them to publish it")
    not_named = (f"not published: no version names what their provider runs, so the broker would hold the result "
                 f"as {config.provider_version}'s ({'; '.join(withheld)})" if config.version_given else
                 f"not published: the git checkout's commit {config.head} does not name what their provider "
                 f"runs, so a clean checkout of it would take the result as its own ({'; '.join(withheld)})")
    reverified = sum(bool(r.reverified) for r in ours)
    again = (f"{reverified} verified again before publishing: the verdict cache had them from another provider "
             f"version ({', '.join(dict.fromkeys(r.reverified for r in ours if r.reverified))}), and a result is "
             f"published only from a verification of {config.provider_version}")
    if (refused or partial or held) and not published:
        return (f"verification results not published to the Pact Broker {config.url} ({config.publish_reason}) "
                f"for {version}: " + "; ".join(
                    ([f"{len(refused)} of {len(ours)} broker pact(s) not published: {why}"] if refused else [])
                    + ([f"{partial} of {len(ours)} broker pact(s) {in_part}"] if partial else [])
                    + ([f"{held} of {len(ours)} broker pact(s) {not_named}"] if held else [])) + told)
    text = (f"verification results published to the Pact Broker {config.url} ({config.publish_reason}): "
            f"{published} of {len(ours)} broker pact(s), for {version}")
    extra = ([f"{kept} the broker had verified already"] if kept else []) + (
        [f"{partial} {in_part}"] if partial else []) + (
        [f"{unpublished} without a result to publish (error or excluded)"] if unpublished else []) + (
        [f"{held} {not_named}"] if held else []) + (
        [f"{len(refused)} not published: {why}"] if refused else []) + ([again] if reverified else [])
    text += (f" ({'; '.join(extra)})" if extra else "") + told
    if not config.provider_branch:
        text += "\nnote: " + no_branch_note("verification results are published", "--provider-branch")
    return text
