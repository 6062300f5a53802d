"""How a container ended and how a run stands, as the harness says them (pure logic over Docker's inspect and list
data)."""

from __future__ import annotations

from harness.runtime.readiness import exit_summary


def test_an_exit_is_said_with_its_code_and_an_oom_kill_as_one() -> None:
    assert exit_summary({"Status": "exited", "ExitCode": 3, "OOMKilled": False, "Error": ""}) == "exited with code 3"
    assert exit_summary({"Status": "exited", "ExitCode": 137, "OOMKilled": True, "Error": ""}) == (
        "exited with code 137 (killed by the kernel: out of memory)")
    assert exit_summary({"Status": "dead", "ExitCode": 137, "OOMKilled": True, "Error": "driver failed"}) == (
        "is dead with exit code 137 (killed by the kernel: out of memory; driver failed)")


def test_each_way_a_run_stands_is_said_by_harness_ps() -> None:
    import os
    import socket

    from harness.cli.topologies import _run_state
    from harness.runtime import labels as L

    alive, here = L.owner_id(), socket.gethostname()
    gone = f"{here}:{os.getpid()}:not-its-start-time"  # the pid of a process that ended, now another's
    elsewhere = f"ci-runner-7:{os.getpid()}:123"

    def run(owner: str, kept: bool = False, started: bool = True) -> L.Run:
        return L.Run("3fa2b1c9d0", "shop", "/x/topology.yaml", kept, owner, started=started)

    remove = "remove it: harness down --run 3fa2b1c9d0"
    assert _run_state(run(gone)) == f"orphaned: owner process {os.getpid()} is gone; {remove}"
    assert _run_state(run(gone, started=False)) == (
        f"orphaned: owner process {os.getpid()} is gone, its start never finished; {remove}")
    assert _run_state(run(gone, kept=True)) == "started, kept"
    assert _run_state(run(gone, kept=True, started=False)) == (
        f"start never finished: owner process {os.getpid()} is gone; {remove}")
    assert _run_state(run(alive, kept=True, started=False)) == f"starting (owner process {os.getpid()})"
    assert _run_state(run(alive)) == f"started (owner process {os.getpid()})"
    assert _run_state(run(alive, started=False)) == f"starting (owner process {os.getpid()})"
    assert _run_state(run(elsewhere)) == f"started (owner process {os.getpid()} on host ci-runner-7)"  # not judged
    assert _run_state(run("")) == "started (owner unknown)"
    # found on another engine than this shell's (harness ps across engines): the command selects that one
    assert _run_state(run(gone), engine="tcp://10.0.0.11:2375") == (
        f"orphaned: owner process {os.getpid()} is gone; remove it: DOCKER_HOST=tcp://10.0.0.11:2375 harness down "
        "--run 3fa2b1c9d0")


def test_an_owner_that_ended_but_was_not_reaped_yet_is_gone() -> None:
    import subprocess
    import time
    from pathlib import Path

    from harness.runtime.labels import owner_gone, owner_id

    child = subprocess.Popen(["cat"], stdin=subprocess.PIPE)  # noqa: S607 - runs until its input ends
    owner = owner_id(child.pid)
    assert owner_gone(owner) is False
    child.stdin.close()
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 60
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # ended; not waited for, so still listed
            assert time.monotonic() < deadline, "the child never ended"
            time.sleep(0.01)
        assert owner_gone(owner) is True  # as `harness ps` must say right after a kill -9, before the reaping
    finally:
        child.wait()
    assert owner_gone(owner) is True
    assert owner_gone(owner_id()) is False


def test_a_table_shows_an_exit_code_and_every_binding_from_inspect_and_list_data() -> None:
    from types import SimpleNamespace

    from harness.runtime import labels as L

    inspected = SimpleNamespace(attrs={"State": {"Status": "exited", "ExitCode": 0}, "NetworkSettings": {"Ports": {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41000"}, {"HostIp": "::", "HostPort": "41000"},
                   {"HostIp": "127.0.0.1", "HostPort": "41001"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "41002"}]}}})
    listed = SimpleNamespace(attrs={"State": "exited", "Status": "Exited (3) 2 minutes ago", "Ports": [
        {"PrivatePort": 80, "PublicPort": 41001, "Type": "tcp"}, {"PrivatePort": 80, "PublicPort": 41000, "Type": "tcp"}]})
    assert (L.shown_status(inspected), L.shown_status(listed)) == ("exited (0)", "exited (3)")
    assert L.further_bindings(inspected) == {"80/tcp": [41000, 41001]}  # the IPv6 twin is the same binding
    assert L.further_bindings(listed) == {"80/tcp": [41001, 41000]}
    # the run's own port first (its label), each other binding once
    assert L.ports_text({80: 41000}, {53: 41002}, {}, again=L.further_bindings(listed)) == (
        "80 -> 41000, 80 -> 41001, 53/udp -> 41002")


def test_an_exec_form_is_said_as_a_shell_line() -> None:
    from harness.model.parts import ReadyProbe

    assert ReadyProbe(command=["python", "-c", "print(1)"]).describe() == "command `python -c 'print(1)'` exits 0"
    # a single quote inside: shown as is (quoting would split a secret that the masking must still find whole)
    assert ReadyProbe(command=["sh", "-c", "echo 'x'"]).describe() == "command `sh -c echo 'x'` exits 0"
