"""The swarm's manager refuses to remove a run's overlay network while it still lists a task of a container just
removed from a worker ("network ... is in use by task ..."): seen after an engine that had gone away answered again
(trial t27b: `harness down` then crashed with Docker's raw error and left the network). Pure logic: the manager's
answers are faked; the engines themselves are tests/integration/engines'."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from harness.errors import DockerError
from harness.runtime import engines
from harness.runtime import labels as L

IN_USE = docker.errors.APIError('400 Client Error: Bad Request ("rpc error: code = FailedPrecondition desc = network '
                                'z6kw is in use by task j2l6")')


class Manager:
    """A manager whose run lists `containers` containers."""

    def __init__(self, containers: int) -> None:
        self.containers = self
        self.listed = [object()] * containers

    def list(self, **_: Any) -> list[object]:
        return self.listed


def removing(monkeypatch: pytest.MonkeyPatch, answers: list[Exception | None]) -> list[str]:
    calls: list[str] = []

    def remove_run(client: Any, run_id: str) -> int:
        calls.append(run_id)
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return 0

    monkeypatch.setattr(L, "remove_run", remove_run)
    monkeypatch.setattr(engines.time, "sleep", lambda seconds: None)
    return calls


def test_a_task_still_listed_is_waited_for_when_every_engine_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = removing(monkeypatch, [IN_USE, IN_USE, None])
    assert engines.remove_on_manager(Manager(2), "r1", patient=True) == 2  # the containers it had, counted once
    assert calls == ["r1"] * 3


def test_with_an_engine_gone_the_refusal_is_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = removing(monkeypatch, [IN_USE, None])
    with pytest.raises(docker.errors.APIError):
        engines.remove_on_manager(Manager(0), "r1", patient=False)
    assert calls == ["r1"]


def test_another_refusal_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = removing(monkeypatch, [docker.errors.APIError("403 Forbidden ('This node is not a swarm manager')"), None])
    with pytest.raises(docker.errors.APIError):
        engines.remove_on_manager(Manager(0), "r1", patient=True)
    assert calls == ["r1"]


def test_still_listed_after_the_bound_is_said_in_words_with_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "GONE_SECONDS", 0)
    removing(monkeypatch, [IN_USE, IN_USE])
    with pytest.raises(docker.errors.APIError) as raised:
        engines.remove_on_manager(Manager(0), "r1", patient=True)
    error = engines.network_kept("engine 'alpha' (tcp://10.0.0.1:2375)", "r1", raised.value, "harness down --run r1")
    assert isinstance(error, DockerError)
    said = str(error)
    assert "run r1: engine 'alpha' (tcp://10.0.0.1:2375) did not remove the run's overlay network" in said, said
    assert "the swarm still listed a task of a container attached to it" in said, said
    assert "Run `harness down --run r1` again in a minute" in said, said
