"""contracts: Pact against a running Topology: consumer-side recording (for the `pact` fixture), pact files, provider
states and message producers, verification, the edge matrix as data. Returns results; never prints.

May import: harness.errors, harness.model, harness.runtime, harness.contracts, pact-python, openapi-core
(drift/adapter.py only), the standard library.
"""

import os

# No usage tracking by the Pact core: CI machines often have no internet, and a test tool should not phone home.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from harness.contracts.consumer import bearer_token  # noqa: E402 - after the environment is set
from harness.contracts.states import (  # noqa: E402
    Message,
    Registry,
    in_container,
    load_states,
    message_producer,
    provider_state,
)

__all__ = ["Message", "Registry", "bearer_token", "in_container", "load_states", "message_producer",
           "provider_state"]
