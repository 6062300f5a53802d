"""An exclusion's written reason: too short is one error that says the rule and what to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.model.loader import load_topology

HINT = ("an exclusion needs a written reason of at least 10 characters that says why, e.g. 'legacy kiosk, retired "
        "in Q3'")


@pytest.mark.parametrize(("keys", "where"), [
    ("contracts:\n  exclude:\n    - consumer: kiosk\n      reason: typo rule\n", "contracts.exclude[0].reason"),
    ("services:\n  api:\n    image: x\n    openapi: /openapi.json\n    fuzz:\n      exclude:\n"
     "        - check: not_a_server_error\n          reason: flaky\n", "services.api.fuzz.exclude[0].reason"),
])
def test_a_short_exclusion_reason_says_the_rule_and_what_to_do(keys: str, where: str, tmp_path: Path) -> None:
    file = tmp_path / "topology.yaml"
    services = "" if keys.startswith("services:") else "services:\n  api:\n    image: x\n"
    file.write_text("name: shop\n" + services + keys)
    with pytest.raises(HarnessError) as error:
        load_topology(file)
    assert f"{where}: String should have at least 10 characters" in str(error.value)
    assert str(error.value).rstrip().endswith(HINT)
