"""Where a topology's pacts come from when a Pact Broker keeps them: `contracts.broker` of a topology file, and the
consumer version selectors as the broker documents them (`POST /pacts/provider/{provider}/for-verification`)."""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import Field, field_validator

from harness.model.base import _Strict
from harness.model.selectors import SELECTOR_KEYS, checked_selector, parse_date, parse_selector

__all__ = ["SELECTOR_KEYS", "BrokerSpec", "checked_selector", "parse_date", "parse_selector"]


class BrokerSpec(_Strict):
    """The Pact Broker a topology's pacts are taken from (besides the folder's): which pacts it selects for each
    provider service, whether pending and work-in-progress pacts are included. Credentials are never written here:
    PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD."""

    url: str | None = Field(default=None, description="the broker's base URL (default: PACT_BROKER_BASE_URL)")
    selectors: list[dict[str, Any]] = Field(
        default_factory=list, description="consumer version selectors, as the broker's (`{mainBranch: true}`, "
                                          "`{deployedOrReleased: true}`, `{branch: feat-x}`, ...); none: the "
                                          "broker's default")
    pending: bool = Field(default=False, description="include pending pacts: their failures do not fail the run")
    wip_since: str | None = Field(default=None, description="include work-in-progress pacts published since this "
                                                            "date (YYYY-MM-DD); needs `pending: true`")
    provider_branch: str | None = Field(default=None, description="the providers' branch (default: the git "
                                                                  "checkout's)")

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [checked_selector(selector) for selector in value]

    @field_validator("wip_since", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if isinstance(value, datetime.date):  # YAML reads 2024-01-31 as a date
            return value.isoformat()
        return parse_date(value) if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            shown = value.rsplit("@", 1)[-1]  # never a password written into the URL
            raise ValueError(f"the broker's URL starts with http:// or https://, not {shown!r}")
        return value
