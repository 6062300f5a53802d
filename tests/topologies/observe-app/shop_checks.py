"""The tests a team would run against the shop: three orders and one missing item (run by
tests/integration/observe/test_observe.py with --observe)."""

import requests


def test_orders(topology):
    for item in (1, 2, 1):
        assert requests.get(topology["shop"].url + f"/order/{item}", timeout=10).json()["price"]["price"] == 3 * item


def test_missing(topology):
    assert requests.get(topology["shop"].url + "/missing", timeout=10).json() == {"stock said": 404}
