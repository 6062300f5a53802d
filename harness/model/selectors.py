"""Consumer version selectors as the Pact Broker documents them (`POST /pacts/provider/{provider}/for-verification`),
and the broker's dates: parsed and checked without pydantic, so the option table (read by `import harness.pytest`)
stays light."""

from __future__ import annotations

import datetime
import difflib
import json
from typing import Any

# the broker's consumer version selector keys; True: a key that only takes `true`
SELECTOR_KEYS: dict[str, bool] = {
    "mainBranch": True, "branch": False, "matchingBranch": True, "fallbackBranch": False, "deployedOrReleased": True,
    "deployed": True, "released": True, "environment": False, "latest": False, "consumer": False, "tag": False,
    "fallbackTag": False, "fallbackToMainBranch": True}


def checked_selector(selector: Any) -> dict[str, Any]:
    """A consumer version selector as the broker takes it. Raises ValueError naming the bad key or value."""
    if not isinstance(selector, dict) or not selector:
        raise ValueError(f"a selector is a mapping of the broker's keys ({', '.join(SELECTOR_KEYS)}), not "
                         f"{json.dumps(selector)}")
    for key, value in selector.items():
        if key not in SELECTOR_KEYS:
            near = difflib.get_close_matches(key, SELECTOR_KEYS, n=1)
            raise ValueError(f"unknown selector key {key!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                             + f"; the broker's keys: {', '.join(SELECTOR_KEYS)}")
        if SELECTOR_KEYS[key] and value is not True:
            raise ValueError(f"selector key {key!r} takes only true, not {json.dumps(value)}")
        if key == "latest" and not isinstance(value, bool):
            raise ValueError(f"selector key 'latest' takes true or false, not {json.dumps(value)}")
        if not SELECTOR_KEYS[key] and key != "latest" and (not isinstance(value, str) or not value):
            raise ValueError(f"selector key {key!r} takes a name, not {json.dumps(value)}")
    return dict(selector)


def parse_selector(text: str) -> dict[str, Any]:
    """A selector as written on a command line: JSON (`{"branch": "main"}`) or `key=value` pairs and bare keys for
    true, comma-separated (`mainBranch`, `deployed,environment=production`, `branch=feat-x,consumer=web`)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return checked_selector(json.loads(text))
        except json.JSONDecodeError as error:
            raise ValueError(f"a selector in JSON, but {error.msg} at character {error.pos}: {text}") from None
    selector: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not _:
            selector[key] = True
        else:
            selector[key] = {"true": True, "false": False}.get(value, value) if key == "latest" else value
    return checked_selector(selector)


def parse_date(text: str) -> str:
    """A date as `YYYY-MM-DD` (the broker's `includeWipPactsSince`). ValueError says what was expected."""
    try:
        return datetime.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"a date as YYYY-MM-DD, not {text!r}") from None
