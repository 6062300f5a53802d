"""What the contract tests share: the broker test server of tests/broker, with a read-write and a read-only token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.broker.server import BrokerServer

TOKEN = "s3cret-broker-token"
READ_TOKEN = "read-only-token"


@pytest.fixture
def broker() -> Iterator[BrokerServer]:
    """A fresh, empty broker on 127.0.0.1, stopped at the end of the test."""
    with BrokerServer(token=TOKEN, read_token=READ_TOKEN) as server:
        yield server
