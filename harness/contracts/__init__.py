"""Pact contracts: consumer-side recording (the `pact` fixture), provider states, and provider verification
against the services of a running topology."""

import os

# No usage tracking by the Pact core: CI machines often have no internet, and a test tool should not phone home.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

from harness.contracts.consumer import bearer_token  # noqa: E402 - after the environment is set
from harness.contracts.states import message_producer, provider_state  # noqa: E402

__all__ = ["bearer_token", "message_producer", "provider_state"]
