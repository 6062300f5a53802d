"""fuzz: schemathesis against the services of a running Topology (auth from the topology, checks, exclusions).
Returns results (harness.fuzz.results); never prints.

Modules: session (runs services, loads specs, base paths), engine (the adapter: the only importer of
schemathesis.engine), auth (client_credentials, headers, hook), results (the harness's own data), logs (a finding's
own lines in the service's log).

May import: harness.errors, harness.spec, harness.runtime, harness.fuzz, schemathesis, hypothesis, requests, yaml,
the standard library.
"""
