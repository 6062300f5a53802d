"""How a container ended and how a run stands, as the harness says them (pure logic over Docker's inspect and list
data)."""

from __future__ import annotations

from harness.runtime.service import exit_summary


def test_an_exit_is_said_with_its_code_and_an_oom_kill_as_one() -> None:
    assert exit_summary({"Status": "exited", "ExitCode": 3, "OOMKilled": False, "Error": ""}) == "exited with code 3"
    assert exit_summary({"Status": "exited", "ExitCode": 137, "OOMKilled": True, "Error": ""}) == (
        "exited with code 137 (killed by the kernel: out of memory)")
    assert exit_summary({"Status": "dead", "ExitCode": 137, "OOMKilled": True, "Error": "driver failed"}) == (
        "is dead with exit code 137 (killed by the kernel: out of memory; driver failed)")
