"""Docker side of the harness: engine, images, containers, readiness, logs, teardown. Knows nothing of pytest."""
