"""The log lines under a fuzz finding are those of its own request (harness.fuzz.logs): its access line with its
status and the traceback the server wrote for it, in the formats of uvicorn, gunicorn, werkzeug and http.server;
where the log cannot tell the request apart, a note says so and nothing is guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.fuzz import logs
from harness.fuzz.logs import LogLine, LogMatch, attach_log, match, parse_docker_log, status_of, tracebacks
from harness.fuzz.results import Exchange, Finding, ServiceResult
from harness.report.fuzz import findings_text

T0 = 1_700_000_000.0


def line(at: float, text: str, stream: str = "stdout") -> LogLine:
    return LogLine(T0 + at, stream, text)


def exchange(at: float, status: int | None, method: str = "POST", target: str = "/orders") -> Exchange:
    """A request sent at T0+at and answered 5 ms later."""
    return Exchange(method, target, status, T0 + at, T0 + at + 0.005)


def finding(request: Exchange | None) -> Finding:
    return Finding("POST /orders", "not_a_server_error", "Server error", exchange=request,
                   request=f"{request.method} {request.target}" if request else "")


def uvicorn_access(at: float, status: int, phrase: str) -> LogLine:
    return line(at, f'INFO:     172.18.0.1:40000 - "POST /orders HTTP/1.1" {status} {phrase}')


def uvicorn_traceback(at: float, quantity: int) -> list[LogLine]:
    return [line(at, text, "stderr") for text in (
        "ERROR:    Exception in ASGI application",
        "Traceback (most recent call last):",
        '  File "/app/orders.py", line 51, in add_order',
        "    raise ValueError(f\"quantity {body['quantity']} overflows the stock table\")",
        f"ValueError: quantity {quantity} overflows the stock table")]


def flask_traceback(at: float, quantity: int) -> list[LogLine]:
    return [line(at, text, "stderr") for text in (
        "[2024-05-01 10:00:00,000] ERROR in app: Exception on /orders [POST]",
        "Traceback (most recent call last):",
        '  File "/app/orders.py", line 51, in add_order',
        f"ValueError: quantity {quantity} overflows the stock table")]


def gunicorn_access(at: float, status: int, size: int = 265) -> LogLine:
    return line(at, f'172.18.0.1 - - [01/May/2024:10:00:00 +0000] "POST /orders HTTP/1.1" {status} {size} "-" '
                    '"schemathesis/4.32.5"')


# A run: 201 and 409 answers around three 500s, each with its traceback, requests one at a time.
REQUESTS = [exchange(0.00, 201), exchange(0.01, 500), exchange(0.02, 409), exchange(0.03, 500),
            exchange(0.04, 201), exchange(0.05, 500), exchange(0.06, 409)]
QUANTITIES = {1: 91, 3: 92, 5: 93}  # index of a 500 -> the quantity its traceback names


def uvicorn_log() -> tuple[list[LogLine], list[LogLine]]:
    """uvicorn: the access line on stdout, then the traceback on stderr; Docker's times of the two streams out of
    order by a little (the traceback received before the access line written first)."""
    phrases = {201: "Created", 409: "Conflict", 500: "Internal Server Error"}
    stdout = [uvicorn_access(r.sent - T0 + 0.002, r.status, phrases[r.status]) for r in REQUESTS]
    stderr = [ln for i, q in QUANTITIES.items() for ln in uvicorn_traceback(REQUESTS[i].sent - T0 + 0.0015, q)]
    return stdout, stderr


def test_uvicorn_the_500s_access_line_then_its_traceback_and_nothing_else() -> None:
    stdout, stderr = uvicorn_log()
    found = match(finding(REQUESTS[3]), REQUESTS, stdout, stderr)
    assert found.note == ""
    assert found.lines == [
        'INFO:     172.18.0.1:40000 - "POST /orders HTTP/1.1" 500 Internal Server Error',
        "ERROR:    Exception in ASGI application",
        "Traceback (most recent call last):",
        '  File "/app/orders.py", line 51, in add_order',
        "    raise ValueError(f\"quantity {body['quantity']} overflows the stock table\")",
        "ValueError: quantity 92 overflows the stock table"]


def test_gunicorn_flask_the_traceback_naming_the_request_then_the_access_line() -> None:
    stdout = [gunicorn_access(r.sent - T0 + 0.003, r.status, size=500 if r.status == 201 else 265)
              for r in REQUESTS]  # a body of 500 bytes is not a status
    stderr = [ln for i, q in QUANTITIES.items() for ln in flask_traceback(REQUESTS[i].sent - T0 + 0.0031, q)]
    found = match(finding(REQUESTS[5]), REQUESTS, stdout, stderr)
    assert found.note == ""
    assert found.lines == ["[2024-05-01 10:00:00,000] ERROR in app: Exception on /orders [POST]",
                           "Traceback (most recent call last):", '  File "/app/orders.py", line 51, in add_order',
                           "ValueError: quantity 93 overflows the stock table",
                           '172.18.0.1 - - [01/May/2024:10:00:00 +0000] "POST /orders HTTP/1.1" 500 265 "-" '
                           '"schemathesis/4.32.5"']


def test_werkzeug_one_stream_in_its_own_order() -> None:
    stderr: list[LogLine] = []
    for i, request in enumerate(REQUESTS):
        if i in QUANTITIES:
            stderr += flask_traceback(request.sent - T0 + 0.001, QUANTITIES[i])
        stderr.append(line(request.sent - T0 + 0.002, f'172.18.0.1 - - [01/May/2024 10:00:00] "POST /orders HTTP/1.1" '
                                                      f"{request.status} -", "stderr"))
    found = match(finding(REQUESTS[1]), REQUESTS, [], stderr)
    assert found.lines[0].endswith("Exception on /orders [POST]")
    assert found.lines[-2:] == ["ValueError: quantity 91 overflows the stock table",
                                '172.18.0.1 - - [01/May/2024 10:00:00] "POST /orders HTTP/1.1" 500 -']


def test_an_extra_identical_line_falls_back_to_the_requests_time() -> None:
    requests = [exchange(0.0, 500), exchange(2.0, 500), exchange(4.0, 500)]  # seconds apart (other phases between)
    stdout = [uvicorn_access(at, 500, "Internal Server Error") for at in (0.001, 2.001, 4.001, 6.5)]  # 6.5: another
    stderr = [ln for at, q in ((0.002, 91), (2.002, 92), (4.002, 93), (6.5, 99)) for ln in uvicorn_traceback(at, q)]
    found = match(finding(requests[1]), requests, stdout, stderr)
    assert found.note == ""
    assert found.lines[0].endswith('"POST /orders HTTP/1.1" 500 Internal Server Error')
    assert found.lines[-1] == "ValueError: quantity 92 overflows the stock table"


def test_identical_requests_at_the_same_time_are_said_not_guessed() -> None:
    stdout, stderr = uvicorn_log()
    stdout.append(line(0.031, 'INFO:     172.18.0.9:50000 - "POST /orders HTTP/1.1" 500 Internal Server Error'))
    stderr += uvicorn_traceback(0.0312, 99)  # another client, at the same time
    found = match(finding(REQUESTS[3]), REQUESTS, stdout, stderr)
    assert found.lines == []
    # the run's three and the other client's, all within a second of the request
    assert found.note == ("4 lines of POST /orders answered 500 were logged at about the time of this request: they "
                          "cannot be told apart, so none is shown; 4 tracebacks were logged at about the time of this "
                          "request: they cannot be told apart, so none is shown")


def test_a_log_without_statuses() -> None:
    stdout = [line(r.sent - T0 + 0.002, "request POST /orders") for r in REQUESTS]
    assert match(finding(REQUESTS[3]), REQUESTS, stdout, []).lines == ["request POST /orders"]  # by its rank
    stdout.append(line(0.0301, "request POST /orders"))  # one more: the counts disagree
    found = match(finding(REQUESTS[3]), REQUESTS, stdout, [])
    assert found.lines == []
    assert found.note == ("its lines show no status, and 8 lines of POST /orders were logged at about the time of "
                          "this request: they cannot be told apart, so none is shown")


def test_a_log_that_names_no_request_or_not_its_status() -> None:
    found = match(finding(REQUESTS[3]), REQUESTS, [line(0.0, "Application startup complete.")], [])
    assert found.note == "no line names POST /orders (the service logs no access line with method and path?)"
    lines = [uvicorn_access(r.sent - T0, r.status, "-") for r in REQUESTS if r.status != 500]
    found = match(finding(REQUESTS[3]), REQUESTS, lines, [])
    assert found.note == "no line of POST /orders shows status 500 (its lines show 201, 409)"


def test_a_longer_path_or_a_query_is_another_request() -> None:
    stdout = [line(0.0305, '"POST /orders/1 HTTP/1.1" 500'), line(0.0306, '"POST /orders?x=1 HTTP/1.1" 500'),
              line(0.0307, '"GET /orders HTTP/1.1" 500')]
    assert match(finding(REQUESTS[3]), REQUESTS, stdout, []).note.startswith("no line names POST /orders")


def test_a_request_without_an_answer_gets_its_traceback() -> None:
    crash = exchange(0.02, None, "GET", "/items/0")
    requests = [exchange(0.0, 200, "GET", "/items/1"), crash, exchange(0.03, 404, "GET", "/items/7")]
    stdout = [line(0.001, "items: GET /items/1 -> 200"), line(0.031, "items: GET /items/7 -> 404")]
    stderr = [line(0.021, text, "stderr") for text in (
        "----------------------------------------",
        "Exception occurred during processing of request from ('172.18.0.1', 40000)",
        "Traceback (most recent call last):",
        '  File "/app/app.py", line 120, in do_GET',
        "RuntimeError: item 0 crashes the handler",
        "----------------------------------------")]
    found = match(finding(crash), requests, stdout, stderr)
    assert found.lines == [ln.text for ln in stderr[1:5]] and found.note == ""
    found = match(finding(crash), requests, stdout, [])
    assert found.note == "it got no answer, and no traceback was logged at its time (GET /items/0)"


def test_tracebacks_that_read_the_same_are_shown_once_with_a_note() -> None:
    # the request crashed twice (sent again, unrecorded) between the answer before it and its error
    crash = exchange(0.5, None, "GET", "/items/0")
    requests = [exchange(0.0, 200, "GET", "/items/1"), crash]
    stderr = [line(at, text.format(port=port), "stderr") for at, port in ((0.1, 40001), (0.4, 40002)) for text in (
        "Exception occurred during processing of request from ('172.18.0.1', {port})",
        "Traceback (most recent call last):", "RuntimeError: item 0 crashes the handler")]
    found = match(finding(crash), requests, [line(0.001, "items: GET /items/1 -> 200")], stderr)
    assert found.lines == [ln.text for ln in stderr[:3]]
    assert found.note == ("2 tracebacks that read the same (but for their heading) were logged at about the time of "
                          "this request; the first is shown")
    # one before the answer before it is another request's
    found = match(finding(crash), requests, [], [line(-1.0, ln.text, "stderr") for ln in stderr[:3]] + stderr[3:])
    assert found.lines == [ln.text for ln in stderr[3:]] and found.note == ""


def test_access_lines_that_read_the_same_are_shown_once_with_a_note() -> None:
    stdout, stderr = uvicorn_log()
    stdout.append(uvicorn_access(0.031, 500, "Internal Server Error"))  # another client, at the same time
    found = match(finding(REQUESTS[3]), REQUESTS, stdout, [])
    assert found.lines == ['INFO:     172.18.0.1:40000 - "POST /orders HTTP/1.1" 500 Internal Server Error']
    assert found.note == ("4 lines of POST /orders answered 500 that read the same were logged at about the time of "
                          "this request; the first is shown")


def test_a_finding_without_a_recorded_request() -> None:
    assert match(finding(None), REQUESTS, [], []) == LogMatch()  # about the service as a whole: nothing to say
    unrecorded = Finding("GET /items/{id}", "network_error", "Network Error", kind="error", request="GET /items/0")
    assert match(unrecorded, REQUESTS, [], []).note == ("the engine recorded no request GET /items/0, so its lines "
                                                        "cannot be told apart")


def test_a_long_traceback_keeps_its_start_and_its_last_frames() -> None:
    frames = [f'  File "/lib/x.py", line {n}, in f{n}\n    call{n}()'.split("\n") for n in range(30)]
    block = [line(0.011, "Traceback (most recent call last):", "stderr")]
    block += [line(0.011, text, "stderr") for frame in frames for text in frame]
    block.append(line(0.011, "ValueError: deep", "stderr"))
    found = match(finding(REQUESTS[1]), REQUESTS[:2], [uvicorn_access(0.012, 201, "Created"),
                                                       uvicorn_access(0.013, 500, "Internal Server Error")], block)
    assert found.lines[1:4] == ["Traceback (most recent call last):", '  File "/lib/x.py", line 0, in f0', "  ..."]
    assert found.lines[4].startswith('  File "/lib/x.py"') and found.lines[-1] == "ValueError: deep"
    assert len(found.lines) <= logs.TRACEBACK_LINES + 1


def test_tracebacks_chained_and_grouped_are_one_block_each() -> None:
    texts = ["ERROR:    Exception in ASGI application", "  + Exception Group Traceback (most recent call last):",
             "  |   File \"/x.py\", line 1, in f", "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
             "  +-+---------------- 1 ----------------", "    | Traceback (most recent call last):",
             "    | ValueError: boom", "    +------------------------------------", "",
             "During handling of the above exception, another exception occurred:", "",
             "Traceback (most recent call last):", "  File \"/y.py\", line 2, in g", "ValueError: boom",
             "INFO:     172.18.0.1:40000 - \"GET /next HTTP/1.1\" 200 OK",
             "[x] ERROR in app: Exception on /orders/7 [GET]", "Traceback (most recent call last):",
             "  File \"/z.py\", line 3, in h", "KeyError: 'title'", "pydantic_core.ValidationError: 1 error",
             "  field required"]
    blocks = tracebacks([line(0.0, text, "stderr") for text in texts])
    assert [[ln.text for ln in b.lines][::len(b.lines) - 1] for b in blocks] == [
        ["ERROR:    Exception in ASGI application", "ValueError: boom"],
        ["[x] ERROR in app: Exception on /orders/7 [GET]", "KeyError: 'title'"]]
    assert (blocks[0].method, blocks[0].path, blocks[1].method, blocks[1].path) == (None, None, "GET", "/orders/7")
    # a bare traceback after another request's access line: that line is not its heading
    bare = tracebacks([line(0.0, text, "stderr") for text in ('"GET /x HTTP/1.1" 500 Internal Server Error',
                                                              "Traceback (most recent call last):", "OSError: disk")])
    assert [ln.text for ln in bare[0].lines] == ["Traceback (most recent call last):", "OSError: disk"]
    assert bare[0].path is None


@pytest.mark.parametrize(("text", "status"), [
    ('INFO:     172.18.0.1:1 - "POST /orders HTTP/1.1" 500 Internal Server Error', 500),
    ('172.18.0.1 - - [01/May/2024:10:00:00 +0000] "POST /orders HTTP/1.1" 404 207 "-" "x"', 404),
    ('172.18.0.1:1 - - [01/May/2024:10:00:00 +0000] "POST /orders 1.1" 201 12 "-" "x"', 201),  # hypercorn
    ("buggy: POST /orders -> 409", 409),
    ('{"method": "POST", "status": 502, "path": "/orders"}', 502),
    ("POST /orders took 0.123 s", None),
    ("POST /orders in 500ms", None),
])
def test_the_status_an_access_line_shows(text: str, status: int | None) -> None:
    assert status_of(text, "/orders") == status


def test_docker_timestamps_are_read_to_the_microsecond() -> None:
    lines = parse_docker_log("2024-05-01T10:00:00.123456789Z \x1b[32mINFO\x1b[0m: up\r\n"
                             "2024-05-01T10:00:01Z second\n", "stderr")
    start = datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp()
    assert [(round(ln.at - start, 6), ln.stream, ln.text) for ln in lines] == [(0.123457, "stderr", "INFO: up"),
                                                                              (1.0, "stderr", "second")]


def docker_text(lines: list[LogLine]) -> str:
    return "".join(datetime.fromtimestamp(ln.at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ") + ln.text + "\n"
                   for ln in lines)


def test_attach_log_reads_again_until_the_requests_lines_are_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs.time, "sleep", lambda seconds: None)
    stdout, stderr = uvicorn_log()
    reads = {"stdout": 0, "stderr": 0}

    def read(stream: str) -> str:  # the last access line and traceback arrive at the third read
        reads[stream] += 1
        whole = stdout if stream == "stdout" else stderr
        return docker_text(whole if reads[stream] >= 3 else whole[:-2])

    failing = finding(REQUESTS[5])
    result = ServiceResult("orders", "http://127.0.0.1:1", 1, findings=[failing], exchanges=list(REQUESTS))
    attach_log(result, read, lambda text: text.replace("stock", "[hidden]"))
    assert reads["stdout"] >= 4  # complete at the third, the same at the fourth
    assert failing.log[0].endswith('"POST /orders HTTP/1.1" 500 Internal Server Error')
    assert failing.log[-1] == "ValueError: quantity 93 overflows the [hidden] table"
    assert result.exchanges == [] and "Application" not in result.log and result.log.count("POST /orders") == 7
    report = findings_text(result, result.findings)
    assert "    the service's log for it:\n      | INFO:     172.18.0.1:40000 - \"POST /orders HTTP/1.1\" 500" in report


def test_attach_log_says_when_the_log_cannot_be_read() -> None:
    def read(stream: str) -> str:
        raise ConnectionError("engine gone")

    failing = finding(REQUESTS[5])
    result = ServiceResult("orders", "http://127.0.0.1:1", 1, findings=[failing], exchanges=list(REQUESTS))
    attach_log(result, read)
    assert result.log == "(log of orders unavailable: ConnectionError: engine gone)"
    assert "    the service's log for it: the service's log cannot be read (ConnectionError)" in \
        findings_text(result, result.findings)


def test_a_note_is_printed_under_the_lines_it_concerns() -> None:
    failing = finding(REQUESTS[1])
    failing.log, failing.log_note = ["INFO: x 500"], "2 tracebacks were logged at about the time of this request"
    text = findings_text(ServiceResult("orders", "u", 1, findings=[failing]), [failing])
    assert "    the service's log for it:\n      | INFO: x 500\n      (2 tracebacks were logged at about" in text


def test_two_checks_failing_on_one_request_share_its_response_curl_and_log_printed_once() -> None:
    from harness.fuzz.results import Finding

    response = "[500] Internal Server Error:\n\n    `boom`"
    curl = "curl -X GET 'http://127.0.0.1:1/products?limit=0'"
    server = Finding("GET /products", "not_a_server_error", "Server error", detail=response, curl=curl,
                     phases=["fuzzing"], code="ST101", log=["Traceback (most recent call last):", "ZeroDivisionError"])
    status = Finding("GET /products", "status_code_conformance", "Undocumented status code",
                     detail=f"Received: 500\nDocumented: 200, 400\n\n{response}", curl=curl, phases=["fuzzing"],
                     code="ST103", log=list(server.log))
    other = Finding("GET /products/{sku}", "not_a_server_error", "Server error", detail=response,
                    curl="curl -X GET http://127.0.0.1:1/products/x", code="ST101")
    text = findings_text(ServiceResult("shop", "u", 1, findings=[server, status, other]), [server, status, other])
    lines = text.splitlines()
    assert lines[:3] == ["  GET /products: Server error (not_a_server_error [ST101], fuzzing phase)",
                         "  GET /products: Undocumented status code (status_code_conformance [ST103], fuzzing phase)",
                         "      Received: 500"]  # both checks named, then what they say
    assert text.count(curl) == 1 and text.count("ZeroDivisionError") == 1  # the request once, as `st run` prints it
    assert text.count("`boom`") == 2  # once for the request of both checks, once for the other operation's
    assert "  GET /products/{sku}: Server error (not_a_server_error [ST101])\n      [500] Internal Server Error:" in text
