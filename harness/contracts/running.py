"""What a verification verified: the running containers, which may not be what the files hold now. A service whose
mounted code or config files changed since its container was created (a kept run reused after `git checkout` or an
edit: harness.runtime.mounted) still runs what they held then. Its verdicts say so in one line, are not kept in the
verdict cache (whose key holds what the files hold now) and are not published to a Pact Broker (whose provider version
names the checkout): a verdict is kept and published only under what the running providers were started from. The
files are compared right before each verdict is kept or published (harness.contracts.run), not once per run: a file
edited during a long pytest session counts for every verdict reached after it.

The container is not restarted here: a kept run is the user's (`harness up --detach`), used as it is, as Docker
Compose uses it; the note says how to verify the files as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from harness.contracts.broker_config import BrokerConfig
from harness.contracts.results import PactResult
from harness.errors import OptionError
from harness.model.topology import down_hint
from harness.runtime.mounted import changed_mounted_files
from harness.runtime.topology import Topology

SHOWN = 3  # files named per service


def mounts_note(topology: Topology) -> tuple[str, str]:
    """What a verdict reached now carries when a service's mounted files changed since its container was
    created: (the change in a clause, the note's line: the change, what it means, how to verify the files as they
    are); ("", "") when none did."""
    changed = changed_mounted_files(topology)
    if not changed:
        return "", ""
    names = list(changed)
    whose = f"{names[0]}'s" if len(names) == 1 else ", ".join(names) + "'s"
    files = "; ".join(", ".join(paths[:SHOWN]) + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")
                      for paths in changed.values())
    them = "its container" if len(names) == 1 else "their containers"
    short = f"{whose} mounted files changed since {them} started ({files})"
    return short, (f"{short}: the running container was verified, not the files as they are now, so its verdicts are "
                   "neither kept in the verdict cache nor published to a Pact Broker; restart the topology to verify "
                   f"them: {down_hint(topology.spec)}, then run again")


def with_mounts_note(result: PactResult, note: tuple[str, str], broker: BrokerConfig | None,
                     from_broker: bool) -> PactResult:
    """`result` with the `note` of mounts_note (none: as it is). A broker pact's result to be published
    (`broker.publish`) becomes an error: the run was asked to publish it for the checkout's version, and CI must not
    believe the broker has it."""
    short, line = note
    if not line:
        return result
    result = dataclasses.replace(result, stale=line)
    if broker is None or not broker.publish or not from_broker or result.verdict not in ("verified", "failed"):
        return result
    return dataclasses.replace(result, verdict="error", error=OptionError(line), pending=False, not_published=short,
                               reason=f"{result.verdict}, but its verification result was not published: {short}")


def running_notes(results: Iterable[PactResult]) -> list[str]:
    """The notes of the verdicts of a run, each once (`note: ...` lines for a front-end)."""
    return list(dict.fromkeys(result.stale for result in results if result.stale))
