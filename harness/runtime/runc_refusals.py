"""What to do when runc (the engine's OCI runtime) refuses to start a container with a message that names no setting
of the service: "error setting rlimit type 8: operation not permitted" (a `memlock` ulimit above what dockerd may
give), "can't get final child's PID from pipe: EOF" (a negative `oom_score_adj`, a `nofile` hard limit above
dockerd's own). The hint lists the service's settings runc applies, with their values, and the engine's own hard
limits where this machine can read them (a local engine's dockerd), so that one look finds the culprit."""

from __future__ import annotations

import re
from pathlib import Path

from harness.engine_source import engine_address
from harness.model.service import ServiceSpec

RUNC_WORDS = ("oci runtime", "runc create failed", "container init")
# Linux's RLIMIT_* numbers: runc names a limit it could not set by number ("rlimit type 8" is memlock)
RLIMITS = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks", "sigpending",
           "msgqueue", "nice", "rtprio", "rttime")
# /proc/PID/limits' row names, as Compose's ulimit names
PROC_ROWS = {"Max cpu time": "cpu", "Max file size": "fsize", "Max data size": "data", "Max stack size": "stack",
             "Max core file size": "core", "Max resident set": "rss", "Max processes": "nproc",
             "Max open files": "nofile", "Max locked memory": "memlock", "Max address space": "as",
             "Max file locks": "locks", "Max pending signals": "sigpending", "Max msgqueue size": "msgqueue",
             "Max nice priority": "nice", "Max realtime priority": "rtprio", "Max realtime timeout": "rttime"}
DOCKERD_PID = Path("/var/run/docker.pid")  # the default socket's daemon
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def is_runc_refusal(text: str) -> bool:
    """Whether Docker's message (lower-cased) is runc's refusal to create or start the container."""
    return any(word in text for word in RUNC_WORDS)


def runc_hint(text: str, name: str, spec: ServiceSpec, engine_limits: dict[str, str] | None = None) -> str:
    """The hint for runc's refusal `text` (lower-cased) of service `name`: the limit runc named by number, the
    service's settings runc applies (ulimits, oom_score_adj, sysctls, ...; "" when it has none of them), and
    `engine_limits` (ulimit name -> the engine's hard limit) for its ulimits when known."""
    limits = engine_limits or {}
    named = re.search(r"rlimit type (\d+)", text)
    said = []
    if named and int(named[1]) < len(RLIMITS):
        said.append(f"runc's \"rlimit type {named[1]}\" is the `{RLIMITS[int(named[1])]}` ulimit.")
    settings = []
    for key, value in spec.ulimits.items():
        soft, hard = (value, value) if isinstance(value, int) else (value.soft, value.hard)
        engine = f" ({_beside(hard, limits[key])} the engine's dockerd's hard {limits[key]})" if key in limits else ""
        settings.append(f"ulimits.{key} {soft}:{hard}{engine}")
    settings += [f"oom_score_adj {spec.oom_score_adj}"] if spec.oom_score_adj is not None else []
    settings += [f"sysctls {key}={value}" for key, value in spec.sysctls.items()]
    settings += [f"{key} {getattr(spec, key)}" for key in ("pids_limit", "cpuset", "cgroup_parent", "userns_mode")
                 if getattr(spec, key) is not None]
    settings += [f"{key} {', '.join(getattr(spec, key))}" for key in ("security_opt", "devices") if getattr(spec, key)]
    if not settings:
        said.append(f"runc's message names no setting, and service '{name}' has none of those it usually refuses "
                    "(ulimits, oom_score_adj, sysctls); check the engine's runtime and kernel.")
        return " ".join(said)
    said.append(f"runc's message names no setting; those of service '{name}' that runc applies and can refuse: "
                f"{'; '.join(settings)}. A hard ulimit above the engine's own (memlock -1, nofile), a negative "
                "oom_score_adj or a sysctl its kernel or a rootless or nested engine does not allow fails the same "
                "way under `docker compose up`: lower or remove them one at a time (in an override file for tests).")
    return " ".join(said)


def local_engine_limits() -> dict[str, str]:
    """The hard limits of this machine's dockerd (ulimit name -> value as /proc shows it), when the engine in use is
    the default socket's and its pid file and /proc entry can be read; {} otherwise (a remote engine, another one on
    this machine, another user's daemon)."""
    if engine_address() != DEFAULT_SOCKET:
        return {}
    try:
        rows = Path(f"/proc/{int(DOCKERD_PID.read_text().strip())}/limits").read_text().splitlines()[1:]
    except (OSError, ValueError):
        return {}
    found = {}
    for row in rows:
        head = next((label for label in PROC_ROWS if row.startswith(label)), None)
        if head is not None and len(fields := row[len(head):].split()) >= 2:
            found[PROC_ROWS[head]] = fields[1]
    return found


def _beside(hard: int, engines: str) -> str:
    """Whether a hard ulimit (-1: unlimited) is above the engine's ("unlimited" or a number, as /proc says it)."""
    if engines == "unlimited":
        return "within"
    return "above" if hard == -1 or (engines.isdigit() and hard > int(engines)) else "within"
