"""The headers that tell the requests the harness makes (or has made) to the services from the tests' own: all come
from the same address (the host, through a published port), so --observe tells them apart by what they carry.
Standard library only: the capture agent imports it in the helper image."""

from __future__ import annotations

from collections.abc import Iterable

MARK = "X-Pytest-Topology"
DOCUMENT_FETCH = (MARK, "openapi-document")  # the harness's fetch of a served OpenAPI document
PACT_VERIFIER = (MARK, "pact-verifier")  # pact-python's Verifier under --observe (its add_custom_header)
FUZZ_AUTH = (MARK, "fuzz-auth")  # the token the fuzzing asks for (a service's `auth: client_credentials`)
SCHEMATHESIS_CASE = "X-Schemathesis-TestCaseId"  # schemathesis sends it with every test case's request
SCHEMATHESIS_AGENT = "schemathesis/"  # ... and its User-Agent with every request, its probes of the API too

DOCUMENT, VERIFIER, FUZZ = "document", "verifier", "fuzz"


def caller(headers: Iterable[tuple[str, str]], method: str = "", target: str = "") -> str:
    """Which of the harness's requests `method target` with `headers` (as sent) is: DOCUMENT, VERIFIER or FUZZ;
    "": none (the tests'). Read by the capture agent in the helper (standard library only), which keeps no body of
    such a call."""
    headers = list(headers)
    if not headers and (method, target) == ("HEAD", "/"):
        return FUZZ  # schemathesis' check that a server which reset a connection is alive: `HEAD / HTTP/1.0` and
        # no header at all, on a raw socket (engine/outage.py); an HTTP client sends Host at least
    for name, value in headers:
        lowered = name.lower()
        if lowered == SCHEMATHESIS_CASE.lower() or \
                lowered == "user-agent" and value.strip().lower().startswith(SCHEMATHESIS_AGENT):
            return FUZZ
        if lowered == MARK.lower():
            return {DOCUMENT_FETCH[1]: DOCUMENT, PACT_VERIFIER[1]: VERIFIER, FUZZ_AUTH[1]: FUZZ}.get(value.strip(), "")
    return ""
