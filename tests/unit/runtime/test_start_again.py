"""Which refusals of a container's start make the harness create it again (a bounded number of times)."""

from __future__ import annotations

import docker.errors

from harness.runtime.publish import start_again


def refused(explanation: str) -> docker.errors.APIError:
    return docker.errors.APIError("500 Server Error", explanation=explanation)


def test_a_taken_port_and_a_swarm_attach_deadline_are_tried_again() -> None:
    assert start_again(refused("driver failed programming external connectivity: port is already allocated"))
    assert start_again(refused("attaching to network failed, make sure your network options are correct and check "
                               "manager logs: context deadline exceeded"))


def test_other_refusals_are_not() -> None:
    assert not start_again(refused("attaching to network failed: invalid address 10.1.0.0"))
    assert not start_again(refused("OCI runtime create failed: executable file not found in $PATH"))
