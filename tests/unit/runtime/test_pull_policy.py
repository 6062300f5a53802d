"""When a service's image is pulled, from its pull_policy, as Docker Compose's `mustPull` decides (pure logic: the
engine's image is given as its inspect data)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from docker.models.images import Image

from harness.runtime.pulls import must_pull, refresh_after

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def image(tagged: str) -> Image:
    return Image(attrs={"Id": "sha256:1", "Metadata": {"LastTagTime": tagged}})


@pytest.mark.parametrize(("policy", "seconds"), [("daily", 86400), ("weekly", 604800), ("every_12h", 43200),
                                                 ("every_1h30m", 5400), ("every_1w2d3h4m5s", 788645),
                                                 ("missing", None), ("always", None), (None, None)])
def test_the_refresh_window_of_each_policy(policy: str | None, seconds: float | None) -> None:
    assert refresh_after(policy) == seconds


@pytest.mark.parametrize(("policy", "present", "pulled"), [
    (None, False, True), (None, True, False), ("missing", False, True), ("missing", True, False),
    ("if_not_present", False, True), ("refresh", True, False), ("always", True, True), ("always", False, True),
    ("never", False, False), ("never", True, False), ("build", False, False), ("daily", False, True)])
def test_pull_as_compose_pulls(policy: str | None, present: bool, pulled: bool) -> None:
    assert must_pull(policy, image("2026-12-06T11:00:00.123456789Z") if present else None, NOW) is pulled


def test_a_refresh_policy_pulls_an_image_tagged_longer_ago_than_its_window() -> None:
    assert must_pull("every_2h", image("2026-12-06T09:59:59.5Z"), NOW) is True
    assert must_pull("every_2h", image("2026-12-06T10:00:01Z"), NOW) is False
    assert must_pull("daily", image("2026-12-06T13:00:00+02:00"), NOW) is False  # 11:00 UTC
    assert must_pull("weekly", image("2026-11-29T11:59:59Z"), NOW) is True
    # pulled and never tagged here: Docker gives Go's zero time, which Compose takes as long ago
    assert must_pull("weekly", image("0001-01-01T00:00:00Z"), NOW) is True
    assert must_pull("weekly", image(""), NOW) is True
