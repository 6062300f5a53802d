"""The fault helper of one consumer: a container in the consumer's network namespace (`network_mode:
container:<id>`, NET_ADMIN) running `fault_agent.py`, which holds the consumer's faults as netfilter rules; and its
image, built once from python:3.11-slim, tagged by the hash of its Dockerfile and agent. See faults.py for what a fault
is and how the faults of a topology follow restarts.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import docker
import docker.errors
from docker.models.containers import Container

from harness.errors import FaultError
from harness.runtime import labels as L
from harness.runtime.engine import explain
from harness.runtime.helper_image import BASE_IMAGE, HelperBuildFailed, build_failed_text
from harness.runtime.helper_image import helper_image as build_helper
from harness.runtime.transfer import copy_image

if TYPE_CHECKING:
    from harness.runtime.faults import Fault
    from harness.runtime.service import Service

HELPER_OF = f"{L.PREFIX}.faults-of"  # on a helper container: the consumer's service name
CONSUMER_STARTED = f"{L.PREFIX}.consumer-started"  # the consumer's StartedAt when the helper joined it
AGENT_SOURCE = Path(__file__).with_name("fault_agent.py")
AGENT_PATH = "/usr/local/lib/pytest-topology/fault_agent.py"
HELPER_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update -qq \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
       iproute2 iptables libnetfilter-queue1 \\
    && rm -rf /var/lib/apt/lists/*
COPY fault_agent.py {AGENT_PATH}
CMD ["python3", "{AGENT_PATH}", "serve"]
"""
READY_LINE = "fault agent ready"
HELPER_START_TIMEOUT = 20.0  # seconds


class FaultHelper:
    """The helper container of one consumer and the faults its agent holds."""

    def __init__(self, consumer: Service, container: Container) -> None:
        self.consumer = consumer
        self.container = container
        self.faults: list[Fault] = []

    @classmethod
    def start(cls, consumer: Service, image: str) -> FaultHelper:
        target = consumer.container
        target.reload()
        if target.status != "running":
            raise FaultError(f"service '{consumer.name}' is {target.status}: a fault on the calls it makes needs it "
                             "running; start it first (topology[...].start())", consumer=consumer.name,
                             provider=None)
        labels = L.run_labels_of(target)  # every label of its run, its engines too: it is an object of the run
        labels.update({HELPER_OF: consumer.name, CONSUMER_STARTED: target.attrs["State"]["StartedAt"]})
        try:
            container = target.client.containers.run(
                image, detach=True, name=f"{target.name}-faults-{uuid.uuid4().hex[:4]}", labels=labels,
                network_mode=f"container:{target.id}", cap_add=["NET_ADMIN"])
        except docker.errors.APIError as error:
            raise FaultError(f"service '{consumer.name}': the fault helper container did not start: "
                             f"{explain(error)}", consumer=consumer.name, provider=None) from None
        helper = cls(consumer, container)
        helper._wait_ready()
        return helper

    def joined_current_namespace(self) -> bool:
        self.consumer.container.reload()
        return bool(self.consumer.container.status == "running"
                    and self.container.labels.get(CONSUMER_STARTED)
                    == self.consumer.container.attrs["State"]["StartedAt"])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + HELPER_START_TIMEOUT
        while time.monotonic() < deadline:
            self.container.reload()
            logs = self.container.logs().decode("utf-8", "replace")
            if READY_LINE in logs:
                return
            if self.container.status in ("exited", "dead"):
                break
            time.sleep(0.05)
        logs = self.container.logs(tail=20).decode("utf-8", "replace").strip() or "(empty)"
        remove_container(self.container)
        raise FaultError(f"service '{self.consumer.name}': the fault helper did not become ready in "
                         f"{HELPER_START_TIMEOUT:g} s (status {self.container.status}). Its log:\n{logs}",
                         consumer=self.consumer.name, provider=None)

    def apply(self, faults: list[Fault], addresses: dict[str, str] | None = None) -> None:
        """Make `faults` the consumer's faults (replacing the previous set at once); their rules are in place when
        this returns. `addresses`: provider name -> IPv4 address, used when the agent cannot look the name up."""
        payload = json.dumps({"faults": [f.for_agent() for f in faults], "addresses": addresses or {}})
        reply = self._agent(["apply", payload], faults)
        if not reply.get("ok"):
            described = "; ".join(f.describe() for f in faults) or "no faults"
            raise FaultError(f"service '{self.consumer.name}': the fault helper could not apply {described}: "
                             f"{reply.get('error')}", consumer=self.consumer.name,
                             provider=faults[-1].provider if faults else None)
        self.faults = list(faults)

    def read(self) -> list[dict[str, Any]]:
        """The faults the agent holds, as it gives them (`Fault.from_agent` reads one)."""
        reply = self._agent(["show"], [])
        return list(reply.get("faults", []))

    def _agent(self, arguments: list[str], faults: list[Fault]) -> dict[str, Any]:
        try:
            result = self.container.exec_run(["python3", AGENT_PATH, *arguments])
        except docker.errors.APIError as error:
            self._raise_died(f"{explain(error)}")
        output = result.output.decode("utf-8", "replace").strip()
        try:
            reply: dict[str, Any] = json.loads(output.splitlines()[-1])  # the agent prints one JSON object last
            return reply
        except (ValueError, IndexError):
            return {"ok": False, "error": output[-500:] or f"exit code {result.exit_code}"}

    def stop(self, clear: bool = True) -> None:
        """Remove the rules (when `clear`) and the helper. Raises FaultError if the helper had died meanwhile."""
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return  # removed with its topology: nothing left to undo
        died = self.container.status != "running"
        if clear and not died:
            self.apply([])
        remove_container(self.container)
        if died and self.faults:
            self._raise_died(f"status {self.container.status}")

    def _raise_died(self, detail: str) -> NoReturn:
        described = "; ".join(f.describe() for f in self.faults)
        raise FaultError(f"service '{self.consumer.name}': the fault helper stopped while faults were in place "
                         f"({detail}), so they may not have held: {described}", consumer=self.consumer.name,
                         provider=None)



def helper_containers(client: docker.DockerClient, run_id: str) -> list[Container]:
    """The fault helpers of run `run_id`, also those of other processes (inspected: their labels and state)."""
    return L.inspected_containers(client, {"label": [f"{L.RUN}={run_id}", HELPER_OF]})


def helper_image(client: docker.DockerClient, builder: docker.DockerClient | None = None,
                 where: str = "the engine") -> str:
    """The helper image's tag, `pytest-topology/fault-helper:<hash of Dockerfile and agent>`, in `client`'s engine
    (`where`: that engine as messages name it): built there when missing, or, given the `builder` of a topology
    across engines (this machine's engine: its Dockerfile needs the Debian mirror, which another engine may not
    reach), built by `builder` and copied (transfer.py), as a service's image is.

    Raises:
        FaultError: the build failed (the engine and the last lines of its log in the message), or the copy was
            refused.
    """
    built_on = "this machine's engine" if builder is not None else where
    try:
        tag = build_helper(builder or client, "fault-helper", HELPER_DOCKERFILE,
                           {"fault_agent.py": AGENT_SOURCE.read_bytes()})
    except HelperBuildFailed as failed:
        raise FaultError(build_failed_text("the fault helper image", "iptables and libnetfilter-queue1", failed.log,
                                           built_on), consumer=None, provider=None) from None
    if builder is not None:
        try:
            copy_image(builder, client, tag)
        except docker.errors.APIError as error:
            raise FaultError(f"the fault helper image {tag} could not be copied from this machine's engine to "
                             f"{where}: {explain(error)}", consumer=None, provider=None) from None
    return tag


def remove_container(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if "already in progress" not in str(error):
            raise
