"""Publishing a service's ports: host ports chosen once per run (a service keeps its URL across stop/start), a port
taken meanwhile told from other refusals, and the hint for a container Docker would not create or start."""

from __future__ import annotations

import random
import socket

import docker.errors

from harness.errors import DockerError
from harness.model.engine_needs import device_request_keys
from harness.model.service import ServiceSpec
from harness.model.topology import TopologySpec
from harness.runtime.engine import explain
from harness.runtime.runc_refusals import is_runc_refusal, local_engine_limits, runc_hint

PORT_ATTEMPTS = 3  # a free port may be taken by another process between choosing it and publishing it


def device_refusal(spec: TopologySpec, name: str, error: docker.errors.APIError) -> DockerError | None:
    """The engine's refusal of service `name`'s device reservation (a GPU: "could not select device driver"), at
    the keys that ask for it (file:line), with what to do; None for another refusal. Docker Compose fails at the same
    point, with the engine's words alone."""
    text = explain(error)
    if "could not select device driver" not in text:
        return None
    keys = device_request_keys(spec.files, name, spec.name)
    where = "; ".join(f"{at}: {key}" for at, key in keys)
    return DockerError(
        f"{keys[0][0]}: service '{name}': {keys[0][1]}: this Docker engine has no driver for the devices it "
        f"reserves ({text}); `docker compose up` fails the same way" + (f" (keys: {where})" if len(keys) > 1 else ""),
        service=name, operation="create",
        hint="Run it on an engine that has the device's driver (GPUs: the NVIDIA Container Toolkit), or leave the "
             "reservation out of the test run: move it to an override file the test run does not read (`-f "
             "compose.yaml -f compose.gpu.yaml` in production, `--topology compose.yaml` for the tests), or put the "
             "service in a profile the test run does not enable.")


def start_hint(error: docker.errors.APIError, name: str = "", spec: ServiceSpec | None = None,
               local: bool = False) -> str:
    """What to do about Docker's refusal to create or start service `name`'s container (`spec`: its settings, for
    runc's refusals that name none; `local`: the run's one engine, whose dockerd's hard ulimits may be readable)."""
    text = explain(error).lower()
    if "port is already allocated" in text:
        return "Other processes keep taking the free ports chosen for it; run again."
    if "invalid reference format" in text or "repository name must be lowercase" in text:
        return "Fix the service's `image:` in the topology file (a Docker image reference is lower-case)."
    if "protocol not supported" in text:  # the kernel of the engine's machine has no SCTP: Compose fails so too
        return ("The engine's machine cannot publish an SCTP port (its kernel has no SCTP; `docker compose up` fails "
                "the same way): publish it on an engine that has SCTP, or take the port out of `ports:`.")
    if "no such image" in text:
        return "Build or load the image first, or use `build:` instead of `image:`."
    if any(t in text for t in ("ipc mode", "pid mode", "uts mode", "no such container", "non-shareable",
                               "cannot join", "joining network namespace")):
        return ("A namespace or volumes it shares is not there: check `network_mode`, `ipc`, `pid` and `volumes_from` "
                "of the service (`service:NAME` names a service of the file, `container:NAME` a running container).")
    if "mount" in text or "bind source" in text:
        return "Check the service's mounts (`volumes`, `tmpfs`) in the topology file."
    if "exec" in text or "executable file not found" in text:
        return "Check the service's image, entrypoint and command in the topology file."
    if spec is not None and is_runc_refusal(text):
        return runc_hint(text, name, spec, local_engine_limits() if local else None)
    return "Docker's message says what it refused: fix that setting of the service in the topology file."


REMOTE_PORT_ATTEMPTS = 5  # a remote engine's machine: ports tried before its refusal is reported
REMOTE_PORTS = (20000, 32767)  # below Linux's ephemeral range, where Docker and outgoing connections take ports


def ports_to_publish(published: list[tuple[int, str]], remote: bool) -> dict[tuple[int, str], int]:
    """(container port, protocol) -> host port, chosen once per run so that a service keeps its URL across stop/start
    (a port Docker chooses changes at every start). Local engine: free on 127.0.0.1 here. Remote engine: a random
    port of REMOTE_PORTS, which the engine accepts or refuses as taken on its machine (the caller tries again)."""
    if not remote:
        return {(port, protocol): free_port(protocol) for port, protocol in published}
    chosen = random.sample(range(REMOTE_PORTS[0], REMOTE_PORTS[1] + 1), len(published))
    return dict(zip(published, chosen, strict=True))


def ports_bound_again(again: list[tuple[int, str]], remote: bool) -> dict[tuple[int, str], list[int]]:
    """(container port, protocol) -> the host ports of its further bindings (one per entry of `again`, a port bound
    more than once by a compose file), chosen as ports_to_publish chooses; a port taken meanwhile is tried again."""
    chosen = random.sample(range(REMOTE_PORTS[0], REMOTE_PORTS[1] + 1), len(again)) if remote else []
    found: dict[tuple[int, str], list[int]] = {}
    for index, (port, protocol) in enumerate(again):
        found.setdefault((port, protocol), []).append(chosen[index] if remote else free_port(protocol))
    return found


def port_taken(error: docker.errors.APIError) -> bool:
    text = explain(error)
    return "port is already allocated" in text or "address already in use" in text


def start_again(error: docker.errors.APIError) -> bool:
    """Whether a container that Docker created but could not start is worth creating again: its free port was taken
    meanwhile, or a swarm manager did not hand out an attachment to an overlay network in time (moby's "attaching to
    network failed ... context deadline exceeded": a transient of Swarm's control plane, moby#41841)."""
    text = explain(error)
    return port_taken(error) or ("attaching to network failed" in text and "context deadline exceeded" in text)


def free_port(protocol: str = "tcp") -> int:
    """A free port on 127.0.0.1, chosen once per run so that a service keeps its URL across stop/start (SCTP: one
    free for TCP; this machine's kernel may have no SCTP sockets to ask, and the engine refuses a taken one)."""
    with socket.socket(type=socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
