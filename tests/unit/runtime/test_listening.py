"""Whether a container listens on a port, from its kernel's tables (/proc/net/tcp, tcp6) as `cat` prints them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import docker.errors

from harness.runtime.probes import listening

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
HEADER6 = ("  sl  local_address                         remote_address                        st tx_queue rx_queue "
           "tr tm->when retrnsmt   uid  timeout inode\n")


class Container:
    def __init__(self, output: bytes | None = None, error: Exception | None = None, code: int = 0) -> None:
        self.output, self.error, self.code = output, error, code

    def exec_run(self, command: list[str]) -> Any:
        assert command == ["cat", "/proc/net/tcp", "/proc/net/tcp6"]
        if self.error:
            raise self.error
        return SimpleNamespace(exit_code=self.code, output=self.output)


def row(address: str, port: int, state: str) -> str:
    return f"   0: {address}:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000  0  0 1 1\n"


def test_a_listener_on_any_address_counts() -> None:
    tables = HEADER + row("00000000", 8000, "0A") + row("0B00000A", 5432, "01")
    assert listening(Container(tables.encode()), 8000) is True  # type: ignore[arg-type]
    assert listening(Container(tables.encode()), 5432) is False  # type: ignore[arg-type]  # a connection, not a listener


def test_ipv6_any_counts_and_loopback_does_not() -> None:
    tables = (HEADER + row("0100007F", 9000, "0A") + row("0B00007F", 43111, "0A") + HEADER6
              + row("00000000000000000000000000000000", 8080, "0A") + row("00000000000000000000000001000000", 9001, "0A"))
    found = {port: listening(Container(tables.encode()), port) for port in (9000, 43111, 8080, 9001)}  # type: ignore[arg-type]
    assert found == {9000: False, 43111: False, 8080: True, 9001: False}


def test_what_cannot_be_told_is_none() -> None:
    no_cat = b'OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file ' \
             b'not found in $PATH: unknown\r\n'
    assert listening(Container(no_cat), 8000) is None  # type: ignore[arg-type]
    two_lines = b"OCI runtime exec failed: exec failed:\nunable to start: exec: \"cat\": not found: unknown\n"
    assert listening(Container(two_lines, code=126), 8000) is None  # type: ignore[arg-type]
    assert listening(Container(error=docker.errors.APIError("409 Conflict: container is not running")), 8000) is None  # type: ignore[arg-type]
