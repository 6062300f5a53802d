"""pytest's assert rewriting with the plugin installed: the libraries --fuzz and --pact-drift import (schemathesis,
Hypothesis, the harness's own runtime) are imported as Python imports them; the user's tests, and the pytest plugin
modules of those distributions, are rewritten as before (no Docker: pytest runs in a subprocess)."""

from __future__ import annotations

import ast

import pytest

TESTS = """
    import importlib.metadata
    import sys

    def rewritten(name):
        __import__(name)
        return type(sys.modules[name].__loader__).__name__ == "AssertionRewritingHook"

    def test_loaders():
        names = ["schemathesis.specs.openapi.checks", "hypothesis.strategies", "harness.runtime.topology",
                 "harness.pytest.collection", "schemathesis.pytest.plugin", "_hypothesis_pytestplugin", __name__]
        print("REWRITTEN", {name: rewritten(name) for name in names})
        # pytest marks a distribution's modules for rewriting by the files it installed: an editable install (`pip
        # install -e`, as `make setup` makes) lists none of harness/, so pytest never rewrites the plugin's modules
        files = importlib.metadata.files("pytest-topology") or []
        print("PLUGIN_MARKED", any(str(file).startswith("harness/") for file in files))

    def test_own_assert():
        found = [1, 2]
        assert found == [1, 3]
"""


def plugin_marked(result: pytest.RunResult) -> bool:
    """Whether pytest marked the harness's own modules for rewriting in that run (not in an editable install)."""
    return next(line for line in result.outlines if "PLUGIN_MARKED " in line).partition("PLUGIN_MARKED ")[2].startswith("True")


def loaders(result: pytest.RunResult) -> dict[str, bool]:
    printed = next(line for line in result.outlines if "REWRITTEN " in line)  # after the test file's name
    return ast.literal_eval(printed.partition("REWRITTEN ")[2])


def test_the_libraries_the_plugin_imports_are_not_rewritten_and_the_users_asserts_are(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-s", "-p", "no:schemathesis", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1, failed=1)
    assert loaders(result) == {
        "schemathesis.specs.openapi.checks": False, "hypothesis.strategies": False, "harness.runtime.topology": False,
        "harness.pytest.collection": plugin_marked(result), "schemathesis.pytest.plugin": True, "_hypothesis_pytestplugin": True,
        "test_the_libraries_the_plugin_imports_are_not_rewritten_and_the_users_asserts_are": True}
    result.stdout.fnmatch_lines(["E       assert [1, 2] == [1, 3]", "E*At index 1 diff: 2 != 3*"])


def test_the_plugins_of_schemathesis_and_hypothesis_stay_rewritten_when_loaded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1, failed=1)
    found = loaders(result)
    assert (found["schemathesis.pytest.plugin"], found["_hypothesis_pytestplugin"], found["harness.pytest.collection"],
            found["harness.runtime.topology"]) == (True, True, plugin_marked(result), False)
    result.stdout.fnmatch_lines(["E*At index 1 diff: 2 != 3*"])


def test_plain_asserts_run_as_before(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess("-s", "--assert=plain")
    result.assert_outcomes(passed=1, failed=1)
    assert not any(loaders(result).values())
    result.stdout.no_fnmatch_line("*At index 1 diff*")
