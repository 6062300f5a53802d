"""Pact <-> OpenAPI drift, statically: every HTTP interaction of a pact checked against its provider's OpenAPI document,
without starting anything (PactFlow calls this bi-directional contract testing).

For each interaction, openapi-core (on the document, $refs resolved) checks that the operation exists (templated paths,
the spec's base path), that the path, query and header parameters are present and valid, that the request body
validates against the schema of its content type, that the response status is documented (or a `2XX` / `default`
response), and that the response body validates against its schema. The pact's example values are what is checked:
V2 JSONPath and V3/V4 matching rules keep the example in the body, so the body is the example.

A consumer may read fewer fields than the provider sends (Postel's law, as Pact itself verifies): a property the spec
requires but the pact's response leaves out is no drift; a property the pact expects and the spec does not describe is
one (undeclared `additionalProperties` count as forbidden in responses). Security requirements are not checked: a
pact may record a request without credentials on purpose (a 401 interaction).

Verdicts per pact: clean, drift (with findings), error (a reason: unreadable pact, provider not in the topology, no
document to be had), not applicable (a reason: message pact, provider without `openapi:`). Returns results; never
prints.

The package, by concern: sources (where a provider's document comes from), documents (Swagger 2 / OpenAPI 3.0 / 3.1
made checkable), interactions (a pact interaction as a request and a response), checks (one interaction against a
document), adapter (the one module that imports openapi-core), pacts (a pact file's verdict), run (the check of a
topology's pacts, for both front-ends), results.
"""

from harness.contracts.drift.pacts import check_files, check_pact, check_topology, pact_files
from harness.contracts.drift.results import CLEAN, DRIFT, ERROR, NOT_APPLICABLE, PactDrift
from harness.contracts.drift.run import DriftOptions, DriftRun
from harness.contracts.drift.sources import running_fetcher

__all__ = ["CLEAN", "DRIFT", "ERROR", "NOT_APPLICABLE", "DriftOptions", "DriftRun", "PactDrift", "check_files",
           "check_pact", "check_topology",
           "pact_files", "running_fetcher"]
