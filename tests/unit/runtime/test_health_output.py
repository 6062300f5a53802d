"""The unhealthy error quotes the end of a health check's output: a Python or curl check's reason comes last."""

from __future__ import annotations

from harness.runtime.readiness import _tail


def test_a_long_output_keeps_its_last_line() -> None:
    output = "Traceback (most recent call last): " + "File x, line 1, in <module> " * 20 + \
        "ConnectionRefusedError: [Errno 111] Connection refused"
    said = _tail(output)
    assert said.startswith("...") and said.endswith("Connection refused") and len(said) == 203


def test_a_short_output_is_quoted_whole() -> None:
    assert _tail("PING failed") == "PING failed"
