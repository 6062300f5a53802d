"""Which modules pytest's assert rewriting leaves alone: the library modules that --fuzz and --pact-drift import.

pytest rewrites the asserts of every module of every installed distribution with a pytest plugin (it marks them at its
start, whether the plugin is loaded or blocked with `-p no:`). The harness's fuzzing and drift import schemathesis and
Hypothesis into the pytest process (about 330 modules with anyio), and the harness's own runtime, contracts and fuzz
modules: each is then parsed and rewritten in every run where pytest cannot keep its rewritten copy
(PYTHONDONTWRITEBYTECODE, a fresh CI checkout), about 2.5 s of CPU, where Python alone reads their compiled files.
No test can tell the difference: the asserts there are the libraries' own internal checks. Their pytest plugin
modules (fixtures and hooks that run in the user's tests) stay rewritten, and so do the user's test modules, conftest
files and every other plugin.
"""

from __future__ import annotations

from typing import Any

# top-level package -> its modules that stay rewritten (the pytest plugin the distribution installs)
LIBRARIES = {
    "schemathesis": ("schemathesis.pytest",),
    "hypothesis": (),  # its plugin is the top-level module _hypothesis_pytestplugin, which stays marked
    "anyio": ("anyio.pytest_plugin",),
    "harness": ("harness.pytest",),
}


def leave_libraries_unrewritten(hook: Any) -> list[str]:  # noqa: ANN401 - pytest's rewrite hook, or its dummy
    """Unmark LIBRARIES in pytest's assert rewriting hook (`PytestPluginManager.rewrite_hook`), keeping their
    plugin modules marked. Modules imported already stay as they are. Does nothing with `--assert=plain` (a dummy
    hook) or a pytest that keeps its marks differently (its private `_must_rewrite` set and cache): everything is
    then rewritten as before. Returns the packages unmarked."""
    marked = getattr(hook, "_must_rewrite", None)
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if not isinstance(marked, set) or not isinstance(cache, dict):
        return []
    unmarked = [name for name in LIBRARIES if name in marked]
    for name in unmarked:
        marked.discard(name)
        marked.update(LIBRARIES[name])
    for name in [module for module in cache if module.partition(".")[0] in unmarked]:
        del cache[name]
    return unmarked
