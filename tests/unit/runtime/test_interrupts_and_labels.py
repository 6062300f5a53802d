"""Removal is not cut short by Ctrl-C; ports and topology files are read from labels alone."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.runtime import labels as L
from harness.runtime.interrupts import InterruptsDeferred


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal, also when the runner started the tests with it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_inside_removal_is_raised_once_it_is_done() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt), InterruptsDeferred():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        steps.append("removal finished")
    assert steps == ["removal finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("ctrl_c")
def test_a_ctrl_c_inside_removal_forces_it_and_says_so_once(capfd: pytest.CaptureFixture[str]) -> None:
    """As Compose's second Ctrl-C: what waits for a graceful end (`forced`) stops waiting; one line, however often."""
    with pytest.raises(KeyboardInterrupt), InterruptsDeferred("removing topology shop") as deferred:
        with deferred.waiting_for("pre_stop hooks") as forced:
            assert not forced.is_set()
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            assert forced.is_set()
    assert capfd.readouterr().err == ("\ninterrupted: still removing topology shop, no longer waiting for "
                                      "pre_stop hooks; it finishes in a moment\n")


@pytest.mark.usefixtures("ctrl_c")
def test_a_removal_inside_another_defers_to_it() -> None:
    """A run's removal inside a session's removal of several: the interrupt is raised after the last one."""
    steps = []
    with pytest.raises(KeyboardInterrupt), InterruptsDeferred() as outer:
        with InterruptsDeferred() as inner:
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.forced is outer.forced and outer.forced.is_set()
        steps.append("first run removed")
        steps.append("second run removed")
    assert steps == ["first run removed", "second run removed"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("ctrl_c")
def test_an_error_inside_removal_is_not_replaced_by_the_interrupt() -> None:
    with pytest.raises(RuntimeError), InterruptsDeferred():
        os.kill(os.getpid(), signal.SIGINT)
        raise RuntimeError("the engine refused")


def test_a_sigint_inherited_ignored_stays_ignored_inside_removal() -> None:
    """A background job (`cmd &` in a script) starts with SIGINT ignored: removal does not start honouring it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with InterruptsDeferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ports_come_from_the_label_of_a_sparse_container() -> None:
    sparse = SimpleNamespace(attrs={"Labels": {L.PORTS: '{"8000": 41000, "9000": 41001}'}, "Ports": []})
    assert L.published_ports(sparse) == {8000: 41000, 9000: 41001}
    older = SimpleNamespace(attrs={"Labels": {}, "Ports": [{"PrivatePort": 6379, "PublicPort": 40000, "IP": "127.0.0.1"},
                                                         {"PrivatePort": 80}]})
    assert L.published_ports(older) == {6379: 40000}


def test_a_topology_file_is_under_a_folder_by_its_resolved_path(tmp_path: Path) -> None:
    assert L.is_under(str(tmp_path / "a" / "topology.yaml"), tmp_path)
    assert not L.is_under(str(tmp_path.parent / "other" / "topology.yaml"), tmp_path)
    assert not L.is_under("", tmp_path)
