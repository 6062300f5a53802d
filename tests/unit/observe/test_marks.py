"""The marks of faults shared by the fault agent and the capture of one namespace (both agents are standard library
only, so their pure parts run here)."""

from __future__ import annotations

import time

from harness.runtime import fault_agent, observe_control


def test_the_marks_are_the_addresses_of_the_rules_or_every_destination() -> None:
    faults = [{"id": "a", "target": "stock", "delay_ms": 50}, {"id": "b", "target": "gone", "cut": "drop"}]
    assert fault_agent.marks_of(faults, {"stock": "10.0.0.3"}) == ["10.0.0.3"]  # no address: no rule, no mark
    assert fault_agent.marks_of([*faults, {"id": "c", "target": None, "loss_percent": 5}], {}) == ["*"]
    assert fault_agent.marks_of([], {"stock": "10.0.0.3"}) == []


def test_a_change_of_marks_counts_for_packets_from_when_it_was_taken() -> None:
    marks = observe_control.Marks()
    marks.pending = [(10.0, {"10.0.0.3"}), (20.0, set())]  # put in place at 10 s, removed at 20 s
    assert marks.until(5.0) == set()  # a packet that passed before, read later from the buffer: not marked
    assert marks.until(15.0) == {"10.0.0.3"}
    assert marks.until(25.0) == set()
    assert marks.pending == []
    before = time.time()
    marks.change(["*"])
    assert marks.until(before - 1) == set() and marks.until(time.time()) == {"*"}


def test_the_refused_connections_count_from_the_capture_s_start_and_across_fault_agents() -> None:
    refused = observe_control.Refused()
    refused.start("a", {"10.0.0.3": 4})  # a cut stopped 4 before this capture started: not its
    assert refused.now() == {}
    refused.take("a", {"10.0.0.3": 6, "*": 1})
    refused.take("a", {"10.0.0.3": 5})  # an older answer read later: changes nothing
    assert refused.now() == {"*": 1, "10.0.0.3": 2}
    refused.take("b", {"10.0.0.3": 3})  # a new agent (a new helper, its faults removed and put again): from 0
    assert refused.now() == {"*": 1, "10.0.0.3": 5}
    assert observe_control.refused_flow("10.0.0.3", 5) == {
        "client": "", "server": "10.0.0.3", "port": 0, "protocol": "refused by cut()", "outgoing": True,
        "connections": 5, "bytes": 0, "broken": 0, "unanswered": 0}
    assert observe_control.refused_flow("drop/10.0.0.3", 7) == {  # (a dropping cut: packets, each retry)
        "client": "", "server": "10.0.0.3", "port": 0, "protocol": "dropped by cut()", "outgoing": True,
        "connections": 7, "bytes": 0, "broken": 0, "unanswered": 0}
    assert observe_control.refused_flow("loss/*", 2) == {  # (a loss on every destination: the packets it took)
        "client": "", "server": "*", "port": 0, "protocol": "dropped by loss()", "outgoing": True,
        "connections": 2, "bytes": 0, "broken": 0, "unanswered": 0}
