import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]

# what this project's ini file leaves out (pyproject.toml: addopts), for the pytest sessions the tests start
EXTRAS_PLUGINS_OFF = "-p no:schemathesis -p no:hypothesispytest"


@pytest.fixture(autouse=True)
def without_the_extras_pytest_plugins(request: pytest.FixtureRequest) -> Iterator[None]:
    """The pytest sessions a test starts (pytester, `python -m pytest`) leave schemathesis' and hypothesis' pytest
    plugins out ($PYTEST_ADDOPTS), as this project's own session does: their imports cost each session ~2 s of CPU,
    and the harness uses only their Python APIs (a session whose --topology is a file of this repository reads its
    pyproject.toml and leaves them out anyway). The harness beside those plugins, as a user's session with the [all]
    extra has them: test_one_fuzz_run_has_one_junit_shape_from_both_front_ends unsets $PYTEST_ADDOPTS."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears $PYTEST_ADDOPTS when it is set up: set it after that
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_ADDOPTS", " ".join(filter(None, [os.environ.get("PYTEST_ADDOPTS"), EXTRAS_PLUGINS_OFF])))
        yield
