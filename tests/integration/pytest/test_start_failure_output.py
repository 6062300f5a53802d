"""How pytest's report reads when the session's topology does not start: the errored `topology NAME` item is one
item of its own (under its file, counted in the progress), not the next test's third of the session."""

from __future__ import annotations

import re
import uuid

import pytest

from ..conftest import harness_resources

TESTS = "def test_a(topology): pass\ndef test_b(topology): pass\ndef test_c(): pass\n"


def test_a_topology_that_exits_is_one_errored_item_counted_as_one_of_four(
        pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    name = f"bexit-exits-{uuid.uuid4().hex[:6]}"
    pytester.makefile(".yaml", bad=f"name: {name}\nservices:\n  redis:\n    image: redis:7\n"
                                   "    command: [sh, -c, 'echo boom; exit 3']\n")
    pytester.makepyfile(test_x=TESTS)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", "--topology", "bad.yaml")
    assert result.ret == 1
    output = result.stdout.str()
    # three tests and the topology's item: 1 of 4 reported when the session stops, not "1 of 3 tests"
    assert re.search(rf"^bad\.yaml::topology {name} ERROR +\[ 25%\]$", output, re.M), output
    assert "[ 33%]" not in output
    assert output.count("ERROR at setup of") == 1
    assert f"topology {name} did not start (the error above)" in output
    assert "Traceback" not in output + result.stderr.str()
    assert harness_resources(docker_client, name) == []

    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--topology", "bad.yaml").stdout.str()
    assert re.search(r"^bad\.yaml E$", quiet, re.M), quiet  # on its own file's line, not after test_x.py's


def test_no_engine_is_one_errored_item_before_any_test(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    pytester.makefile(".yaml", bad="name: bexit-no-engine\nservices:\n  redis:\n    image: redis:7\n")
    pytester.makepyfile(test_x=TESTS)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", "--topology", "bad.yaml")
    assert result.ret == 3
    output = result.stdout.str()
    assert re.search(r"^bad\.yaml::topology bexit-no-engine ERROR +\[ 25%\]$", output, re.M), output
    assert "[100%]" not in output  # it was said before the tests were counted
