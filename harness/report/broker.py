"""What the Pact Broker commands print: a publication, the topology's can-i-deploy (its edge matrix and the broker's
answer per service), the deployments recorded."""

from __future__ import annotations

from rich.console import Console

from harness.contracts.deploy import DeployCheck, Recorded
from harness.contracts.publish import Publication


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_publication(publication: Publication, broker: str, console: Console) -> None:
    version = publication.version
    _say(console, f"published {len(publication.pacts)} pact(s) to the Pact Broker {broker} for consumer version "
                  f"{version.number}" + (f" on branch {version.branch}" if version.branch else " (no branch)")
         + (f" with tag(s) {', '.join(version.tags)}" if version.tags else ""))
    for pact in publication.pacts:
        _say(console, f"  {pact.consumer}->{pact.provider} ({pact.path.name})" + (f": {pact.url}" if pact.url else ""))
    for notice in publication.notices:
        _say(console, f"  broker: {notice}")
    for note in publication.notes:
        _say(console, f"note: {note}")


def deploy_matrix(check: DeployCheck) -> str:
    """The edge matrix of a can-i-deploy, one row per edge, and the broker's answer per service."""
    rows = [("CONSUMER", "C.VERSION", "PROVIDER", "P.VERSION", "RESULT", "BROKER'S REASON")]
    for answer in [*check.answers, *check.together]:
        for edge in answer.edges:
            rows.append((edge.consumer, edge.consumer_version, edge.provider, edge.provider_version or "none",
                         edge.result, edge.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)).rstrip()
             for row in dict.fromkeys(rows)]  # an edge of two services of the topology is asked from both sides
    lines.append("")
    for answer in check.answers:
        if answer.excluded is not None:
            lines.append(f"excluded {answer.service}: {answer.excluded}")
            continue
        word = "yes" if answer.deployable else "NO"
        lines.append(f"{word:3} {answer.service} ({answer.pacticipant} {answer.version}) to {check.environment}: "
                     f"{answer.reason}")
    for answer in check.together:
        lines.append(f"{'yes' if answer.deployable else 'NO':3} {answer.service} together ({answer.pacticipant}, "
                     f"{answer.version}): {answer.reason}")
    doubted = [f"{a.service}{' together' if a in check.together else ''}" for a in check.doubted]
    for provider in dict.fromkeys(p for a in check.doubted for p in a.unnamed):
        why, version = check.unnamed[provider], check.versions[provider]
        resting = [name for name, a in zip(doubted, check.doubted, strict=True) if provider in a.unnamed]
        lines.append(f"not counted: the broker's verification results of {provider} under version {version} (the "
                     f"git checkout's commit), which names no code of it: {why.reason}; the yes for "
                     f"{', '.join(resting)} rests on them. {why.remedy[:1].upper()}{why.remedy[1:]}, or give "
                     f"--version {provider}={version} for a version you vouch for")
    asked = [a for a in check.answers if a.excluded is None]
    if not asked:
        lines.append(f"can-i-deploy to {check.environment}: NO, the broker was asked about no service of the "
                     "topology")
    else:
        no = [a.service for a in asked if not a.deployable]
        apart = [f"{a.service} together" for a in check.together if not a.deployable]
        counted = f"; the broker's yes for {', '.join(doubted)} is not counted" if doubted else ""
        lines.append(f"can-i-deploy to {check.environment}: " + (
            f"yes, all {len(asked)} service(s)" if not no and not apart and not doubted else
            f"NO, the broker says yes for all {len(asked)} service(s){counted}" if not no and not apart else
            f"NO for {', '.join(no + apart)} ({len(asked) - len(no)} of {len(asked)} yes"
            + (f"; {len(apart)} pair(s) of them not deployable together" if apart else "") + f"){counted}"))
    return "\n".join(lines) + "\n"


def print_recorded(recorded: list[Recorded], environment: str, console: Console) -> None:
    for each in recorded:
        if each.excluded is not None:
            _say(console, f"excluded {each.service}: {each.excluded}")
        else:
            _say(console, f"recorded deployment of {each.pacticipant} version {each.version} to {environment}")
