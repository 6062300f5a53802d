"""When an image is pulled, as Docker Compose decides it from a service's `pull_policy` (its `mustPull`): `always`
pulls at each start, `never` and `build` never pull (a missing image is an error, as Compose's "No such image"),
`missing` (`if_not_present`, the default) pulls what is missing, and `daily`, `weekly`, `every_<duration>` also pull
one whose local tag is older than that (Docker's `Metadata.LastTagTime`, as Compose reads it)."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import docker
import docker.errors
import docker.models.images

NO_PULL = ("never", "build")
UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}  # Compose's every_<duration>: 1w2d3h4m5s


def refresh_after(policy: str | None) -> float | None:
    """The seconds after which `policy` pulls an image again (daily, weekly, every_1h30m); None for the others."""
    if policy in ("daily", "weekly"):
        return UNITS["d"] if policy == "daily" else UNITS["w"]
    if policy is None or not re.fullmatch(r"every_(\d+[wdhms])+", policy):
        return None
    return float(sum(int(number) * UNITS[unit] for number, unit in re.findall(r"(\d+)([wdhms])", policy)))


def must_pull(policy: str | None, image: docker.models.images.Image | None, now: datetime | None = None) -> bool:
    """Whether `policy` pulls the image (`image`: as the engine has it, None when it has none), at `now` (UTC)."""
    if policy == "always":
        return True
    if policy in NO_PULL:
        return False
    after = refresh_after(policy)
    if image is None or after is None:
        return image is None
    tagged = _tag_time(str((image.attrs.get("Metadata") or {}).get("LastTagTime") or ""))
    return (now or datetime.now(UTC)) > tagged + timedelta(seconds=after)


def present_or_pulled(client: docker.DockerClient, name: str, policies: Collection[str | None] = ()) -> str | None:
    """None when `name` is in the engine, pulled now if one of its services' `policies` (none: `missing`) pulls it;
    else why it is not (a pull that failed, or a policy that never pulls it)."""
    try:
        image: docker.models.images.Image | None = client.images.get(name)
    except docker.errors.ImageNotFound:
        image = None
    except docker.errors.APIError as exc:  # e.g. an invalid reference ("Python:3.11" has an upper-case letter)
        text = str(getattr(exc, "explanation", None) or exc).splitlines()[0]
        return text.removeprefix(f"no such image: {name}: ")[:200]
    if not any(must_pull(policy, image) for policy in policies or [None]):
        if image is not None:
            return None
        given = " or ".join(sorted({str(policy) for policy in policies}))
        return (f"its pull_policy ({given}) does not pull it; Docker Compose does not pull it either, and fails: "
                f"`No such image: {name}`")
    try:
        client.images.pull(name)
        return None
    except Exception as exc:  # noqa: BLE001 - any pull failure means the same thing to the user
        reason = str(getattr(exc, "explanation", None) or exc).strip().splitlines()
        return f"pulling it failed: {reason[0][:200] if reason else type(exc).__name__}"


def _tag_time(text: str) -> datetime:
    """Docker's LastTagTime (RFC 3339, nanoseconds) as a UTC datetime; long ago when it has none ("0001-01-01...",
    an image pulled and never tagged here): Compose then pulls it, as Go's zero time is long past."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if match is None:
        return datetime.min.replace(tzinfo=UTC)
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(f"{match[1]}.{(match[2] or '0')[:6]:0<6}{zone}").astimezone(UTC)
