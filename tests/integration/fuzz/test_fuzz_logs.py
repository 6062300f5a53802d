"""Under a fuzz finding, the service's log lines of that request and no other: the 500's access line and the traceback
its server wrote, for a FastAPI app under uvicorn and a Flask app under gunicorn and under werkzeug's development
server (tests/topologies/fuzz-logs.yaml), while the run sends many other POST /orders answered 201 or 409 and
several identical POST /orders answered 500. The same from `harness fuzz` and from the pytest plugin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import FUZZ_CALM, FUZZ_CALM_PYTEST, TOPOLOGIES, write_topology

HARNESS = str(Path(sys.executable).parent / "harness")
ACCESS = re.compile(r'"(GET|POST|PUT|DELETE|PATCH) /\S* HTTP/1\.1" \d{3}')
FIRST = {"uvicorn": "ERROR:    Exception in ASGI application", "gunicorn": "ERROR in app: Exception on /orders [POST]",
         "werkzeug": "ERROR in app: Exception on /orders [POST]"}
ACCESS_500 = {"uvicorn": '"POST /orders HTTP/1.1" 500 Internal Server Error',
              "gunicorn": '"POST /orders HTTP/1.1" 500 ', "werkzeug": '"POST /orders HTTP/1.1" 500 -'}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The topology under a name of this process's own (other sessions may run these tests at the same time)."""
    return write_topology(tmp_path_factory.mktemp("fuzz-logs"), (TOPOLOGIES / "fuzz-logs.yaml").read_text()
                          .replace("name: fuzz-logs", f"name: fuzz-logs-{os.getpid()}")
                          .replace("build: ./logs-app", f"build: {TOPOLOGIES / 'logs-app'}"))


def server_error(report: str, service: str) -> tuple[dict, list[str]]:
    """The body the finding "POST /orders: Server error" of `service` sent, and the log lines shown under it."""
    section = report.split(f"FAILED {service} at http://127.0.0.1:", 1)[1]
    finding = section.split("POST /orders: Server error (not_a_server_error", 1)[1]
    # the checks the same request failed (ST103 for the 500) are named under it, then its curl and log once
    head, _, rest = finding.partition("\n    reproduce: ")
    finding = head + "\n    reproduce: " + re.split(r"\n  \S", rest, maxsplit=1)[0]  # to the next finding
    body = json.loads(re.search(r"-d '(\{.*?\})'", finding)[1])
    assert "    the service's log for it:\n" in finding, finding
    logged = finding.split("    the service's log for it:\n", 1)[1]
    return body, [line.removeprefix("      | ") for line in logged.splitlines() if line.startswith("      | ")]


def assert_the_requests_own_lines(report: str, service: str) -> None:
    body, logged = server_error(report, service)
    access = [line for line in logged if ACCESS.search(line)]
    assert len(access) == 1 and ACCESS_500[service] in access[0], logged  # its access line, no other request's
    assert "Traceback (most recent call last):" in logged, logged
    # the traceback of this request, not of another 500 of the run (each names its own quantity)
    assert logged[logged.index(access[0]) - 1 if service != "uvicorn" else -1] == \
        f"ValueError: quantity {body['quantity']} overflows the stock table", logged
    assert FIRST[service] in logged[0 if service != "uvicorn" else 1], logged  # before or after its access line
    assert logged[0 if service == "uvicorn" else -1] == access[0]
    assert any('File "/app/orders.py"' in line for line in logged)  # the app's own frame, after a cut


@pytest.mark.parametrize("seed", ["1", "7"])
def test_harness_fuzz_shows_the_500s_access_line_and_traceback_only(topology: Path, seed: str) -> None:
    result = subprocess.run([HARNESS, "fuzz", "--topology", str(topology), "--seed", seed, *FUZZ_CALM],
                            capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 1, result.stderr
    for service in ("uvicorn", "gunicorn", "werkzeug"):
        assert_the_requests_own_lines(result.stderr, service)


def test_the_pytest_plugin_shows_the_same_lines(topology: Path, pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--fuzz-seed", "1", *FUZZ_CALM_PYTEST,
                                           "-k", "POST", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    output = result.stdout.str()
    for service in ("uvicorn", "gunicorn", "werkzeug"):
        item = output.split(f" fuzz {service} POST /orders _", 1)[1]
        own = item.split("rerun with", 1)[0]
        # the 500 fails ST101 and ST103: both named, its curl and traceback once (as `st run` groups a test case)
        assert "(status_code_conformance [ST103]" in own and own.count("reproduce: ") == 1, own
        assert own.count("Traceback (most recent call last):") == 1, own
        # the item's report is findings_text's: the same finding, the same lines
        assert_the_requests_own_lines(f"FAILED {service} at http://127.0.0.1:\n" + item.split("rerun with", 1)[0], service)
