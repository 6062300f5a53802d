"""fuzz: schemathesis against the services of a running Topology (auth from the topology, checks, exclusions).
Returns results; never prints.

May import: harness.errors, harness.spec, harness.runtime, harness.fuzz, schemathesis, requests, the standard library.
"""
