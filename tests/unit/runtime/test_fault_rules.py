"""Faults per edge, the pure parts: the netfilter rules the helper's agent writes, how faults read, bad arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidFault
from harness.runtime.fault_agent import CHAIN, FIRST_QUEUE, queue_numbers, refused_counts, rules
from harness.runtime.faults import Edge, Fault
from harness.runtime.helper_image import build_failed_text

ADDRESSES = {"dataservice": "172.20.0.4", "redis": "172.20.0.2"}
EDGE = f"-A {CHAIN} ! -o lo -d 172.20.0.4/32 -m conntrack --ctdir ORIGINAL"


def agent(*faults: Fault) -> list[dict]:
    return [f.for_agent() for f in faults]


def test_a_delay_queues_the_packets_of_the_consumers_connections_to_that_address_only() -> None:
    lines = rules(agent(Fault("gateway", "dataservice", delay_ms=1500, jitter_ms=100)), ADDRESSES)
    assert lines == ["*filter", f":{CHAIN} - [0:0]",
                     f"{EDGE} -j NFQUEUE --queue-num {FIRST_QUEUE} --queue-bypass", "COMMIT"]


def test_loss_is_a_random_drop_and_a_cut_rejects_tcp_with_a_reset_or_drops() -> None:
    lines = rules(agent(Fault("gateway", "dataservice", loss_percent=30),
                        Fault("gateway", "dataservice", cut="reject"),
                        Fault("gateway", "redis", cut="drop")), ADDRESSES)
    redis = f"-A {CHAIN} ! -o lo -d 172.20.0.2/32 -m conntrack --ctdir ORIGINAL"
    assert lines[2:-1] == [  # cuts first (each after a rule that counts its TCP packets), then loss, then delays
        f"{EDGE} -p tcp -m comment --comment harness-cut:172.20.0.4",
        f"{EDGE} -p tcp -j REJECT --reject-with tcp-reset",
        f"{EDGE} -j REJECT --reject-with icmp-port-unreachable",
        f"{redis} -p tcp -m comment --comment harness-cut:drop/172.20.0.2",
        f"{redis} -j DROP",
        f"{EDGE} -m statistic --mode random --probability 0.3000 -m comment --comment harness-cut:loss/172.20.0.4 "
        "-j DROP",  # (its own counter: the packets it dropped)
    ]


def test_an_edge_delay_comes_before_the_consumers_service_wide_delay_and_each_has_its_queue() -> None:
    lines = rules(agent(Fault("gateway", None, delay_ms=200), Fault("gateway", "dataservice", delay_ms=900)), ADDRESSES)
    assert lines[2:-1] == [f"{EDGE} -j NFQUEUE --queue-num {FIRST_QUEUE + 1} --queue-bypass",
                           f"-A {CHAIN} ! -o lo -m conntrack --ctdir ORIGINAL -j NFQUEUE --queue-num {FIRST_QUEUE} "
                           "--queue-bypass"]


def test_a_delay_keeps_its_queue_when_another_fault_of_the_consumer_is_removed() -> None:
    first, second = Fault("gateway", None, delay_ms=200), Fault("gateway", "dataservice", delay_ms=900)
    both = queue_numbers(agent(first, second), {})
    assert both == {first.id: FIRST_QUEUE, second.id: FIRST_QUEUE + 1}
    left = queue_numbers(agent(second), both)  # the first removed: the second stays on its queue
    assert left == {second.id: FIRST_QUEUE + 1}
    assert rules(agent(second), ADDRESSES, left)[2:-1] == [f"{EDGE} -j NFQUEUE --queue-num {FIRST_QUEUE + 1} "
                                                           "--queue-bypass"]
    third = Fault("gateway", "redis", delay_ms=50, loss_percent=5)
    assert queue_numbers(agent(second, third), left) == {second.id: FIRST_QUEUE + 1, third.id: FIRST_QUEUE}


def test_a_provider_without_an_address_yet_has_no_rule_and_no_faults_empty_the_chain() -> None:
    assert rules(agent(Fault("gateway", "strava", delay_ms=100)), ADDRESSES) == ["*filter", f":{CHAIN} - [0:0]",
                                                                                 "COMMIT"]
    assert rules([], ADDRESSES) == ["*filter", f":{CHAIN} - [0:0]", "COMMIT"]


def test_faults_read_as_their_edge_and_what_they_do() -> None:
    assert Fault("gateway", "dataservice", delay_ms=1500, jitter_ms=100).describe() == \
        "gateway -> dataservice: delay 1500 ms ± 100 ms"
    assert Fault("worker", "strava", loss_percent=30).describe() == "worker -> strava: loss 30%"
    assert Fault("gateway", "redis", cut="reject").describe() == "gateway -> redis: cut (connections refused)"
    assert Fault("gateway", None, cut="drop").describe() == "gateway -> (everything it calls): cut (packets dropped)"
    fault = Fault("gateway", "dataservice", delay_ms=5, loss_percent=1.5)
    assert Fault.from_agent("gateway", fault.for_agent()) == fault


@pytest.mark.parametrize(("call", "message"), [
    (lambda e: e.delay(ms=0), "fault on gateway -> dataservice: delay(ms=0, jitter_ms=0): ms must be a positive "
                              "number of milliseconds and jitter_ms zero or more"),
    (lambda e: e.delay(ms=100, jitter_ms=-1), "fault on gateway -> dataservice: delay(ms=100, jitter_ms=-1): ms must "
                                              "be a positive number of milliseconds and jitter_ms zero or more"),
    (lambda e: e.loss(percent=150), "fault on gateway -> dataservice: loss(percent=150): percent must be more than 0 "
                                    "and at most 100"),
    (lambda e: e.cut(mode="refuse"), "fault on gateway -> dataservice: cut(mode='refuse'): mode must be 'reject' "
                                     "(refused at once) or 'drop' (calls hang)"),
])
def test_bad_fault_arguments_are_one_clear_error_before_anything_is_touched(call, message: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFault) as error:
        call(Edge(None, "gateway", "dataservice"))  # type: ignore[arg-type]  # never reached: checked first
    assert str(error.value) == message
    assert error.value.exit_code == 2 and error.value.consumer == "gateway"


def test_a_helper_image_that_did_not_build_names_the_engine_and_no_script_outside_this_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a user's project: no fixtures/images/ensure-base-images.sh
    text = build_failed_text("the fault helper image", "iptables and libnetfilter-queue1",
                             ["Step 2/4 : RUN apt-get update", "\x1b[91mE: could not resolve deb.example\x1b[0m"],
                             "engine 'e1' (tcp://10.0.0.2:2375)")
    assert text == (
        "the fault helper image (FROM python:3.11-slim, with Debian's iptables and libnetfilter-queue1) did not build "
        "on engine 'e1' (tcp://10.0.0.2:2375). Last lines of the build log:\n"
        "  | Step 2/4 : RUN apt-get update\n  | E: could not resolve deb.example\n"
        "The build needs python:3.11-slim on engine 'e1' (tcp://10.0.0.2:2375) (`docker pull python:3.11-slim` or "
        "`docker load` it there) and a Debian mirror reachable from its containers.")


def test_inside_this_repository_the_message_names_its_base_image_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[3])
    text = build_failed_text("the fault helper image", "iptables", ["E: failed"], "this machine's engine")
    assert "; in this repository `bash fixtures/images/ensure-base-images.sh` makes it)" in text


def test_the_packets_a_cut_stopped_are_read_from_the_counters_of_its_counting_rules() -> None:
    saved = "\n".join([  # as iptables-save -c writes them (iptables-nft 1.8.9, Debian bookworm)
        "*filter",
        ":OUTPUT ACCEPT [40:2400]",
        f":{CHAIN} - [0:0]",
        f"[12:720] -A OUTPUT -j {CHAIN}",
        f"[3:180] -A {CHAIN} ! -o lo -d 172.20.0.4/32 -m conntrack --ctdir ORIGINAL -p tcp -m comment "
        "--comment harness-cut:172.20.0.4",
        f"[3:180] -A {CHAIN} ! -o lo -d 172.20.0.4/32 -m conntrack --ctdir ORIGINAL -p tcp -j REJECT "
        "--reject-with tcp-reset",
        f'[2:120] -A {CHAIN} ! -o lo -m conntrack --ctdir ORIGINAL -p tcp -m comment --comment "harness-cut:*"',
        f"[4:240] -A {CHAIN} ! -o lo -d 172.20.0.5/32 -m conntrack --ctdir ORIGINAL -p tcp -m comment "
        "--comment harness-cut:drop/172.20.0.5",  # a dropping cut: its packets, each retry
        f"[6:360] -A {CHAIN} ! -o lo -d 172.20.0.4/32 -m conntrack --ctdir ORIGINAL -m statistic --mode random "
        "--probability 0.30000000009 -m comment --comment harness-cut:loss/172.20.0.4 -j DROP",  # a loss: its drops
        "[5:300] -A OTHER -m comment --comment harness-cut:10.0.0.9",  # not the harness's chain
        "COMMIT"])
    assert refused_counts(saved) == {"172.20.0.4": 3, "*": 2, "drop/172.20.0.5": 4, "loss/172.20.0.4": 6}
    assert refused_counts("") == {}
