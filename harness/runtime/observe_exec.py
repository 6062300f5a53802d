"""Asking an observation helper (observe.py) through `docker exec` of its agent (observe_agent.py): ready yet, what
it saw (`snapshot`), forget it (`reset`: a new session on a kept run)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import docker.errors

from harness.errors import ObserveError
from harness.runtime.fault_helper import remove_container

if TYPE_CHECKING:
    from docker.models.containers import Container

AGENT_PATH = "/usr/local/lib/pytest-topology/observe_agent.py"
READY_LINE = "observe agent ready"
START_TIMEOUT = 20.0  # seconds


def snapshot(helper: Container) -> dict[str, Any]:
    """What a helper saw so far (its agent's `snapshot`), or {"error": why it could not be read}."""
    try:
        result = helper.exec_run(["python3", AGENT_PATH, "snapshot"])
        data: dict[str, Any] = json.loads(result.output.decode("utf-8", "replace").strip().splitlines()[-1])
        return data
    except (docker.errors.APIError, ValueError, IndexError) as error:
        return {"error": str(error)}


def reset(helper: Container) -> bool:
    """What `helper` saw forgotten (its agent's `reset`, asked again while the capture is busy); False: it did not
    answer (it is replaced)."""
    for _ in range(20):
        try:
            output = helper.exec_run(["python3", AGENT_PATH, "reset"]).output.decode("utf-8", "replace")
            said = json.loads(output.strip().splitlines()[-1])
        except (docker.errors.APIError, ValueError, IndexError):
            return False
        if said.get("ok"):
            return True
        if "busy" not in str(said.get("error", "")):
            return False
    return False


def wait_ready(name: str, helper: Container) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if READY_LINE in helper.logs().decode("utf-8", "replace"):
            return
        helper.reload()  # (only when not ready yet: one request per look once it is)
        if helper.status in ("exited", "dead"):
            break
        time.sleep(0.05)
    logs = helper.logs(tail=20).decode("utf-8", "replace").strip() or "(empty)"
    remove_container(helper)
    raise ObserveError(f"service '{name}': the observation helper did not become ready in {START_TIMEOUT:g} s "
                       f"(status {helper.status}). Its log:\n{logs}")
