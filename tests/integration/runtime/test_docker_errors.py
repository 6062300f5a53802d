"""What Docker refuses becomes a clear error naming the service and what to do, or is worked around."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.errors import DockerError
from harness.runtime import publish
from harness.runtime.topology import docker_name

from ..conftest import harness_resources, write_topology

WEB = """
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {{http: {{port: 8000, path: /}}}}
"""


def test_a_topology_name_docker_would_refuse_still_starts(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    folder = tmp_path / "My Project (v2) ü"
    folder.mkdir()
    file = folder / "topology.yaml"
    file.write_text(WEB.format(name="'Shop: staging/β'"))
    spec = load_topology(file)
    with Topology.start(spec) as topology:
        assert topology["web"].exec(["true"]).exit_code == 0
        assert topology.network == f"harness-{docker_name(spec.name)}-{topology.run_id}"
    assert harness_resources(docker_client, spec.name) == []


def test_exec_into_a_paused_or_stopped_service_says_what_to_do(tmp_path: Path) -> None:
    file = write_topology(tmp_path, WEB.format(name="exec-paused"))
    with Topology.start(load_topology(file)) as topology:
        web = topology["web"]
        web.pause()
        with pytest.raises(DockerError) as paused:
            web.exec(["true"])
        assert str(paused.value).startswith("service 'web': cannot run ['true'] in it: ")
        assert str(paused.value).endswith("It is paused: call topology['web'].unpause() first.")
        web.unpause()
        web.stop()
        with pytest.raises(DockerError) as stopped:
            web.exec(["true"])
        assert str(stopped.value).endswith("It is not running: call topology['web'].start() first.")


def test_a_port_taken_between_choosing_and_publishing_is_chosen_again(tmp_path: Path, docker_client,  # noqa: ANN001
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_topology(tmp_path, WEB.format(name="port-first"), name="first.yaml")
    second = write_topology(tmp_path, WEB.format(name="port-second"), name="second.yaml")
    with Topology.start(load_topology(first)) as holder:
        taken = holder["web"].port(8000)
        chosen = [taken]  # the first choice for the second topology is the port the first one publishes

        def free_port(protocol: str = "tcp") -> int:
            if chosen and protocol == "tcp":
                return chosen.pop()
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                return probe.getsockname()[1]

        monkeypatch.setattr(publish, "free_port", free_port)
        with Topology.start(load_topology(second)) as topology:
            assert topology["web"].port(8000) != taken
            assert topology["web"].exec(["true"]).exit_code == 0
    assert harness_resources(docker_client, "port-second") == []


def test_state_changes_docker_refuses_say_why(tmp_path: Path) -> None:
    """pause/unpause/kill/connect/disconnect at the wrong moment, and a start whose host port another process took
    while the service was stopped: one DockerError naming the service, with what to do (no docker-py traceback)."""
    with Topology.start(load_topology(write_topology(tmp_path, WEB.format(name="docker-refusals")))) as topology:
        web = topology["web"]
        with pytest.raises(DockerError, match="service 'web': cannot unpause it") as raised:
            web.unpause()
        assert raised.value.hint == "It is not paused: nothing to undo."
        with pytest.raises(DockerError, match="service 'web': cannot connect it") as raised:
            web.connect()
        assert raised.value.hint == "It is on its networks already."
        port = web.port(8000)
        web.stop()
        with pytest.raises(DockerError, match="service 'web': cannot pause it") as raised:
            web.pause()
        assert "It is not running: call topology['web'].start() first." == raised.value.hint
        with pytest.raises(DockerError, match="service 'web': cannot kill it"):
            web.kill()
        with socket.socket() as taken:  # another process takes its host port while it is stopped
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            taken.bind(("127.0.0.1", port))
            taken.listen()
            with pytest.raises(DockerError, match="service 'web': cannot start it") as raised:
                web.start()
            assert "was taken by another process while it was stopped" in str(raised.value)
        web.start()  # the port is free again
        assert web.exec(["true"]).exit_code == 0


def test_values_a_service_method_does_not_take_are_one_clear_error(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    from harness import InvalidCall, PortNotPublished, ready, topology

    with topology("bad-calls", base_dir=tmp_path).service("r", image="redis:7", ports=[6379],
                                                          ready=ready.tcp(6379)).start() as running:
        r = running["r"]
        with pytest.raises(PortNotPublished) as udp:
            r.port(6379, "udp")
        assert str(udp.value) == "service 'r' does not publish port 6379/udp (published: 6379/tcp)"
        with pytest.raises(PortNotPublished) as sctp:  # a protocol a topology publishes (compose `ports:`)
            r.port(6379, "sctp")
        assert str(sctp.value) == "service 'r' does not publish port 6379/sctp (published: 6379/tcp)"
        calls = {
            lambda: r.port(6379, "icmp"): "service 'r': port(6379, 'icmp'): the protocol is 'tcp', 'udp' or 'sctp' "
                                          "(the ones a topology publishes)",
            lambda: r.port("6379"): "service 'r': port('6379'): a container port is a number, e.g. port(6379) or "
                                    "port(53, 'udp')",
            lambda: r.logs(stream="stdin"): "service 'r': logs(stream='stdin'): stream is 'stdout' or 'stderr' (or "
                                            "None: both)",
            lambda: r.logs(tail=-1): "service 'r': logs(tail=-1): tail is a number of lines, 0 or more (or None: "
                                     "all)",
            lambda: r.kill("SIGFOO"): "service 'r': kill('SIGFOO'): not a signal; give a name such as 'SIGTERM' or "
                                      "'SIGKILL', or a number",
        }
        for call, message in calls.items():
            with pytest.raises(InvalidCall) as info:
                call()
            assert str(info.value) == message
            assert info.value.exit_code == 2 and isinstance(info.value, ValueError)
        assert r.status == "running"  # nothing was done

        r.disconnect()
        with pytest.raises(InvalidCall) as disconnected:  # at once: its probe cannot reach it, waiting cannot help
            r.restart()
        assert str(disconnected.value) == (
            "service 'r' was started but cannot be waited for: it is disconnected from the topology's network "
            "(.disconnect()), so its probe tcp :6379 cannot reach its published port\n"
            "Call topology['r'].connect() before start(), or start(wait=False) and connect() it later.")
        r.connect()
        r.restart()  # connected again: waited for as usual
        assert r.exec(["redis-cli", "ping"]).output.strip() == "PONG"
    assert harness_resources(docker_client, "bad-calls") == []
