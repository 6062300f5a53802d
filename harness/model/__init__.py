"""spec: a topology file (our YAML or docker-compose) or Python -> a validated, typed TopologySpec and its StartPlan.

Knows nothing of Docker. May import: harness.errors, harness.model, pydantic, yaml, the standard library.
"""
