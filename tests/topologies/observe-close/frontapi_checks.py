"""The team's test: the front API calls the backend five times (run by
tests/integration/observe/test_close_delimited.py with --observe)."""

import requests


def test_calls(topology):
    assert requests.get(topology["frontapi"].url + "/calls/5", timeout=60).json() == {"made": 5}
