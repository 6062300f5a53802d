"""observe: contract coverage from observed traffic. The calls the services of a running topology really made to each
other (runtime/observe.py captures them) matched to their providers' OpenAPI operations and to the pact interactions
of each edge: calls covered, calls no interaction covers, interactions never exercised, calls that break the
provider's document, connections not inspected (TLS, HTTP/2, PostgreSQL, Redis, ...); the gates on it (gates:
--observe-fail-under, --observe-strict). Returns results; never prints.

May import: harness.errors, harness.model, harness.runtime, harness.contracts (pact files, names, the drift checks),
the standard library.
"""

from harness.observe.coverage import EdgeCoverage, OperationCount, edge_coverage
from harness.observe.gates import GateVerdict, gate_verdicts
from harness.observe.run import ObserveResult, ObserveRun, merge_observations, observe_result

__all__ = ["EdgeCoverage", "GateVerdict", "ObserveResult", "ObserveRun", "OperationCount", "edge_coverage",
           "gate_verdicts", "merge_observations", "observe_result"]
