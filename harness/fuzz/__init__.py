"""fuzz: schemathesis against the services of a running Topology (auth from the topology, checks, exclusions).
Returns results (harness.fuzz.results); never prints.

Modules: session (FuzzRun, the one fuzz run both front-ends use: services one after another, in processes of their
own), options (what a run is asked to do, and each service's checks, mode and phases), service (one service's run,
base paths), schema (a service's document loaded, its operations), engine (the adapter: the only importer of
schemathesis.engine), auth (client_credentials, headers, hook), results (the harness's own data), logs (a finding's
own lines in the service's log).

May import: harness.errors, harness.model, harness.runtime, harness.fuzz, schemathesis, hypothesis, requests, yaml,
the standard library.
"""
