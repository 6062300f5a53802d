"""runtime: a TopologySpec -> a running Topology (engine, images, containers, readiness, logs, labels, teardown).

Knows nothing of pytest or of what people read. May import: harness.errors, harness.model, harness.runtime, docker,
testcontainers (in containers.py only), the standard library.
"""
