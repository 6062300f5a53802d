"""Pact contracts: consumer-side recording (the `pact` fixture), provider states, and provider verification
against the services of a running topology."""

from harness.contracts.consumer import bearer_token
from harness.contracts.states import message_producer, provider_state

__all__ = ["bearer_token", "message_producer", "provider_state"]
