"""A finding's own lines in its service's log: the access line of the failing request (method, target and status)
and the traceback the service wrote while handling it, never lines of other requests (pure logic; session reads).

How a request is told apart from the others in the log:
- Its access line: the lines naming its method and target (the query included) with its status. The engine sent its
  requests one at a time, so the k-th request of that method, target and status is the k-th such line in the log
  when the counts agree; else the one such line Docker received between the request's sending and shortly after
  its answer. Several there, or none: the finding says so instead of showing a guess.
- Its traceback ("Traceback (most recent call last):" to the exception line, with the line before that names it):
  servers write it before their access line (Flask under gunicorn or werkzeug: "Exception on /orders [POST]";
  Quart, Django) or after it (uvicorn: "Exception in ASGI application"), on another stream than the access lines
  or the same one. A traceback whose heading names a path belongs to a request of that path; one that names none
  to any request answered 5xx or not at all. Again the k-th such request owns the k-th such traceback when the
  counts agree, else the one logged in the request's time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from harness.fuzz.results import Exchange, Finding, ServiceResult

BEFORE, AFTER = 0.05, 1.0  # seconds around a request's time in which its lines may be received (see _in_time)
TRACEBACK_LINES = 16  # a longer traceback keeps its heading and first line, and its last lines (the app's frames)
LINE_CHARS = 300
QUIET_WAIT = 5.0  # seconds to wait at most for the log of a run to be complete (see attach_log)
_T = TypeVar("_T")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ?")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT")
_METHOD = re.compile(rf"\b({'|'.join(_METHODS)})\b")
_PATH = re.compile(r"(?<![\w.~%/:-])/[^\s\[\]\"'(),]*")
_STATUS_KEY = re.compile(r"\bstatus(?:_code)?\W{1,3}([1-5]\d\d)\b", re.IGNORECASE)
_STATUS = re.compile(r"(?<![\w.:/-])([1-5]\d\d)(?![\w:/-]|\.\d)")
_VERSION = re.compile(r"^\s*(?:HTTP/)?\d(?:\.\d)?(?=[\s\"'])")
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")
_HEADING = re.compile(r"error|exception|traceback|fail", re.IGNORECASE)
_REQUEST_LINE = re.compile(r"\bHTTP/\d")  # an access line ("POST /orders HTTP/1.1" 500 ...) is no heading


@dataclass(frozen=True)
class LogLine:
    """One line of a container's log: when Docker received it (`time.time()` seconds), its stream, its text."""

    at: float
    stream: str  # "stdout" or "stderr"
    text: str


@dataclass
class Traceback:
    """A traceback in one stream: its lines (the heading first, if any) and the request its heading names."""

    lines: list[LogLine]
    method: str | None = None  # "POST" when the heading names one
    path: str | None = None  # "/orders" when the heading names one

    @property
    def at(self) -> float:
        return self.lines[0].at

    @property
    def body(self) -> tuple[str, ...]:
        """Its lines from "Traceback ..." on (a heading may differ by its time or client address)."""
        start = 0 if _starts_traceback(self.lines[0].text) else 1
        return tuple(line.text for line in self.lines[start:])


@dataclass
class LogMatch:
    """A finding's lines, oldest first, and what could not be told apart or found ("" when nothing)."""

    lines: list[str] = field(default_factory=list)
    note: str = ""


def parse_docker_log(text: str, stream: str) -> list[LogLine]:
    """Lines of `docker logs --timestamps` output ("2024-05-01T10:00:00.123456789Z text") of one stream; a line
    without a timestamp gets its predecessor's. ANSI codes and carriage returns are taken out."""
    lines, at = [], 0.0
    for raw in text.splitlines():
        stamp = _STAMP.match(raw)
        if stamp:
            whole = datetime.strptime(stamp[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
            at = whole + float(f"0.{stamp[2] or 0}")
            raw = raw[stamp.end():]
        lines.append(LogLine(at, stream, _ANSI.sub("", raw).rstrip("\r")))
    return lines


def merged(*streams: list[LogLine]) -> list[LogLine]:
    """The lines of several streams in the order Docker received them (each stream's own order kept)."""
    return sorted((line for stream in streams for line in stream), key=lambda line: line.at)


def tracebacks(lines: list[LogLine]) -> list[Traceback]:
    """The Python tracebacks in `lines` (one stream, in order), each with the line before it when that line speaks of
    an error ("ERROR: Exception in ASGI application", "ERROR in app: Exception on /orders [POST]") and with the
    method and path that line names."""
    found: list[Traceback] = []
    taken = -1
    i = 0
    while i < len(lines):
        if not _starts_traceback(lines[i].text):
            i += 1
            continue
        before = lines[i - 1].text if i > taken + 1 else ""
        start = i - 1 if _HEADING.search(before) and not _REQUEST_LINE.search(before) and \
            not _starts_traceback(before) else i
        end = _traceback_end(lines, i)
        block = Traceback(lines[start:end])
        if start < i:
            heading = lines[start].text
            method, path = _METHOD.search(heading), _PATH.search(heading)
            block.method = method[1] if method else None
            block.path = path[0].split("?", 1)[0] if path else None
        found.append(block)
        taken, i = end - 1, end
    return found


def _starts_traceback(text: str) -> bool:
    stripped = text.strip().lstrip("+| ")
    return stripped.startswith(("Traceback (most recent call last):", "Exception Group Traceback"))


def _traceback_end(lines: list[LogLine], start: int) -> int:
    """The index after the last line of the traceback that starts at `start`: its frames, its exception line and
    that line's indented continuation, and chained tracebacks ("During handling of the above exception ...")."""
    seen_exception = False
    j = start + 1
    while j < len(lines):
        text = lines[j].text
        if text.startswith((" ", "\t")) or _starts_traceback(text):
            j += 1
        elif text.startswith(_CHAIN):
            seen_exception = False
            j += 1
        elif not text.strip():
            ahead = next((line.text for line in lines[j:] if line.text.strip()), "")
            if not (ahead.startswith(_CHAIN) or _starts_traceback(ahead)):
                break
            j += 1
        elif not seen_exception:
            seen_exception = True  # "ValueError: boom"
            j += 1
        else:
            break
    return j


def names(text: str, method: str, target: str) -> bool:
    """Whether the log line names the request `method target` ("POST /orders?x=1"): the target itself (not a longer
    path that contains it) and the method as a word."""
    return _names_target(text, target) is not None and re.search(rf"\b{method}\b", text) is not None


def status_of(text: str, target: str) -> int | None:
    """The HTTP status an access line of `target` shows (`status=500`, or the first status-like number after the
    target and its HTTP version: `"POST /orders HTTP/1.1" 500 265`); None when it shows none."""
    keyed = _STATUS_KEY.search(text)
    if keyed:
        return int(keyed[1])
    end = _names_target(text, target)
    if end is None:
        return None
    rest = text[end:]
    if version := _VERSION.match(rest):
        rest = rest[version.end():]
    found = _STATUS.search(rest)
    return int(found[1]) if found else None


def _names_target(text: str, target: str) -> int | None:
    """Where the mention of `target` in `text` ends, None when there is none."""
    found = re.search(rf"(?<![\w.~%/-]){re.escape(target)}(?![\w.~%/?=&-])", text)
    return found.end() if found else None


def match(finding: Finding, exchanges: list[Exchange], stdout: list[LogLine], stderr: list[LogLine]) -> LogMatch:
    """The log lines of the finding's request among the service's `stdout` and `stderr` lines of the run, with the
    run's `exchanges` (every request the engine sent, in order) to tell identical requests apart."""
    exchange = finding.exchange
    if exchange is None:  # a finding about the service or an operation as a whole names no request
        return LogMatch(note=f"the engine recorded no request {finding.request}, so its lines cannot be told apart"
                        if finding.request else "")
    request = f"{exchange.method} {exchange.target}"
    blocks = tracebacks(stdout) + tracebacks(stderr)
    in_blocks = {id(line) for block in blocks for line in block.lines}
    lines = [line for line in merged(stdout, stderr) if id(line) not in in_blocks]
    access: list[LogLine] = []
    notes: list[str] = []
    if exchange.status is not None:
        access, note = _access_line(exchange, exchanges, lines)
        notes += [note] if note else []
    block, note = _traceback(exchange, exchanges, blocks)
    notes += [note] if note else []
    if block is None and not access and not notes:
        notes.append(f"it got no answer, and no traceback was logged at its time ({request})")
    traceback = _shortened(block.lines) if block is not None else []
    ordered = traceback + access if block is not None and access and _before(block, access[0]) else access + traceback
    return LogMatch([_cut(line.text) for line in ordered if line.text.strip()], "; ".join(notes))


def _access_line(exchange: Exchange, exchanges: list[Exchange], lines: list[LogLine]) -> tuple[list[LogLine], str]:
    request = f"{exchange.method} {exchange.target}"
    naming = [line for line in lines if names(line.text, exchange.method, exchange.target)]
    if not naming:
        return [], f"no line names {request} (the service logs no access line with method and path?)"
    statuses = [status_of(line.text, exchange.target) for line in naming]
    shown = any(status is not None for status in statuses)
    same = [e for e in exchanges if (e.method, e.target) == (exchange.method, exchange.target) and e.status is not None
            and (e.status == exchange.status or not shown)]
    mine = [line for line, status in zip(naming, statuses, strict=True) if status == exchange.status or not shown]
    what = f"{request} answered {exchange.status}" if shown else request
    if not mine:
        others = ", ".join(str(s) for s in sorted({s for s in statuses if s is not None}))
        return [], f"no line of {request} shows status {exchange.status} (its lines show {others})"
    picked = _pick(exchange, same, mine)
    if picked is not None:
        return [picked], ""
    near = [line for line in mine if _in_time(exchange, exchanges, line.at)]
    if len(near) == 1:
        return near, ""
    without = "" if shown else "its lines show no status, and "
    if not near:
        return [], (f"{without}none of the {len(mine)} lines of {what} was logged at the time of this request "
                    f"({len(same)} such requests were sent)")
    if shown and len({line.text for line in near}) == 1:  # without a status, alike lines may be of other answers
        return near[:1], (f"{len(near)} lines of {what} that read the same were logged at about the time of this "
                          "request; the first is shown")
    return [], (f"{without}{len(near)} lines of {what} were logged at about the time of this request: they cannot "
                "be told apart, so none is shown")


def _traceback(exchange: Exchange, exchanges: list[Exchange], blocks: list[Traceback]) -> tuple[Traceback | None, str]:
    if exchange.status is not None and exchange.status < 500:
        return None, ""  # a handled request: a traceback at its time would be another request's
    path = exchange.target.split("?", 1)[0]
    failed = [e for e in exchanges if e.status is None or e.status >= 500]
    named = [b for b in blocks if b.path == path and b.method in (None, exchange.method)]
    pathless = [b for b in blocks if b.path is None]
    for kind, owners in ((named, [e for e in failed if e.target.split("?", 1)[0] == path and (
            e.method == exchange.method or not any(b.method for b in named))]), (pathless, failed)):
        if not kind:
            continue
        ordered = sorted(kind, key=lambda block: block.at)
        picked = _pick(exchange, owners, ordered)
        if picked is not None:
            return picked, ""
        near = [block for block in ordered if _in_time(exchange, exchanges, block.at)]
        if len(near) == 1:
            return near[0], ""
        if len({block.body for block in near}) == 1:  # from identical requests (a request sent again, ...)
            return near[0], (f"{len(near)} tracebacks that read the same (but for their heading) were logged at "
                             "about the time of this request; the first is shown")
        if len(near) > 1:
            return None, (f"{len(near)} tracebacks were logged at about the time of this request: they cannot be "
                          "told apart, so none is shown")
    return None, ""


def _before(block: Traceback, access: LogLine) -> bool:
    """Whether the server wrote the traceback before the access line: their order in one stream; across streams
    (Docker's times of two streams may be out of order by a little) a traceback whose heading names the request
    comes first (Flask, Quart, Django log it while handling the request), another after (uvicorn)."""
    if block.lines[0].stream == access.stream:
        return block.at <= access.at
    return block.path is not None


def _pick(exchange: Exchange, same: list[Exchange], candidates: list[_T]) -> _T | None:
    """The candidate of the same rank as `exchange` among `same` (requests sent one at a time, each with exactly one
    candidate: the counts agree), else the only candidate when there is one request; None when it cannot be told."""
    if exchange not in same or len(same) != len(candidates) or not _one_at_a_time(same):
        return None
    return candidates[same.index(exchange)]


def _one_at_a_time(exchanges: list[Exchange]) -> bool:
    """Whether each request was answered before the next was sent (so the service logged them in that order)."""
    return all(a.answered <= b.sent for a, b in zip(exchanges, exchanges[1:], strict=False))


def _in_time(exchange: Exchange, exchanges: list[Exchange], at: float) -> bool:
    """Whether Docker received a line at `at` while the request was under way or soon after its answer (a server
    may log after answering; Docker receives a line a little after it was written). A request that got no answer
    has no known sending time: it was sent after the answer before it."""
    sent = exchange.sent
    if exchange.status is None:
        sent = max((e.answered for e in exchanges if e.answered < exchange.answered), default=sent)
    return sent - BEFORE <= at <= exchange.answered + AFTER


def _shortened(lines: list[LogLine]) -> list[LogLine]:
    """A long traceback: its first lines (heading, "Traceback ..."), "  ...", then its last frames from a frame's
    first line on, and the exception."""
    if len(lines) <= TRACEBACK_LINES:
        return lines
    head, tail = lines[:2], lines[-(TRACEBACK_LINES - 3):]
    frame = next((i for i, line in enumerate(tail) if line.text.lstrip(" |").startswith("File ")), 0)
    tail = tail[frame:]
    gap = LogLine(head[-1].at, head[-1].stream, "  ...")
    return [*head, gap, *tail]


def _cut(text: str) -> str:
    return text if len(text) <= LINE_CHARS else text[:LINE_CHARS] + " ..."


def attach_log(result: ServiceResult, read: Callable[[str], str], mask: Callable[[str], str] = str) -> None:
    """Give each finding of `result` its log lines (Finding.log, Finding.log_note) and the result the whole log
    (ServiceResult.log, without timestamps), then drop `result.exchanges`.

    `read(stream)` is the service's log of the run in one stream ("stdout", "stderr") with Docker's timestamps. It
    is read again until every request of a finding has its access lines there and the log stops growing (a server
    may write a line after its answer, and Docker receives it a little later), for at most QUIET_WAIT seconds.
    `mask` hides secrets in the text. A log that cannot be read is said in `result.log` and under each finding."""
    if not result.findings:
        result.exchanges = []
        return
    started, texts = time.monotonic(), None
    try:
        while True:
            latest = {stream: mask(read(stream)) for stream in ("stdout", "stderr")}
            lines = {stream: parse_docker_log(text, stream) for stream, text in latest.items()}
            quiet = latest == texts
            texts = latest
            waited = time.monotonic() - started
            if (quiet and _complete(result, lines["stdout"] + lines["stderr"])) or waited > QUIET_WAIT or \
                    (quiet and waited > QUIET_WAIT / 2):
                break
            time.sleep(0.25)
    except Exception as error:  # noqa: BLE001 - a report must not fail because a log is unreadable
        result.log = f"(log of {result.service} unavailable: {type(error).__name__}: {error})"
        for finding in result.findings:
            finding.log_note = f"the service's log cannot be read ({type(error).__name__})"
        result.exchanges = []
        return
    result.log = "\n".join(line.text for line in merged(lines["stdout"], lines["stderr"])) + "\n"
    for finding in result.findings:
        found = match(finding, result.exchanges, lines["stdout"], lines["stderr"])
        finding.log, finding.log_note = found.lines, found.note
    result.exchanges = []


def _complete(result: ServiceResult, lines: list[LogLine]) -> bool:
    """Whether every finding's request with an answer has as many lines naming its method and target as the engine
    sent such requests (the last of them may still be on its way to the log)."""
    for finding in result.findings:
        exchange = finding.exchange
        if exchange is None or exchange.status is None:
            continue
        sent = sum(1 for e in result.exchanges if (e.method, e.target) == (exchange.method, exchange.target)
                   and e.status is not None)
        if sum(1 for line in lines if names(line.text, exchange.method, exchange.target)) < sent:
            return False
    return True
