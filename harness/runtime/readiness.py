"""Readiness of a service's container: wait until its probe passes (with no probe: until it has stayed running a
moment; a job: until it exits 0), and say why it stopped when it did (its exit code, an OOM kill, its last log lines).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import docker.errors
import urllib3.exceptions

from harness.errors import DockerError, HarnessError, ServiceExited, ServiceNotReady
from harness.model.engine_needs import START_INTERVAL, api_tuple
from harness.model.parts import Healthcheck, ReadyProbe
from harness.model.service import ready_limit
from harness.runtime.probes import Abandoned, probe_once, tcp_accepts, url_host

if TYPE_CHECKING:
    from harness.runtime.service import Service

LOG_TAIL = 50
HEALTH_LOG = 3  # Docker's last health log entries said when it calls a service unhealthy
SETTLE = 0.5  # seconds a service with no probe must stay running to count as ready
# ... and then, at most, for its published TCP ports to accept connections: Compose's `up --wait` takes running as
# ready, so a test's first call could race the server's start (a refusal through Docker's proxy); a port nothing
# ever listens on (a debugger's) delays the start by this much, and the service is then ready as Compose counts it
LISTEN_GRACE = 15.0
RAISE_TIMEOUT = ("raise the service's `timeout:` (in a topology file; in a compose file `x-topology: {timeout: N}` "
                 "under the service; `timeout=` of the builder)")
FULL_ID = re.compile(r"\b[0-9a-f]{64}\b")  # Docker's messages name containers by their full id


class StartCancelled(Exception):
    """A service did not start because another one failed or the start was interrupted."""


def wait_ready(service: Service, started: float, cancelled: threading.Event | None = None,
               log_since: float | None = None) -> str:
    """See `Service.wait_ready`. A container Docker checks the health of is ready only once Docker calls it healthy,
    as `docker compose up --wait` waits for it: a `ready:` probe that passes first is not enough (the probe and
    Docker's healthy must both hold); without `ready:`, Docker's healthy alone decides — the harness does not run the
    healthcheck's test itself, because a run between Docker's can pass in a state Docker never sees (postgres'
    `pg_isready` over the socket while the image's initialisation server runs: its dependents were refused where
    Compose started them). Docker's unhealthy refuses it at once."""
    probe = None if service.spec.job else service.probe
    check = docker_healthcheck(service)
    both = check is not None and service.spec.ready is not None  # `ready:` and Docker's healthy
    docker_only = check is not None and not both and probe is not None  # Docker's healthy alone, read every poll
    deadline = started + ready_limit(service.spec, check)
    health: str | None = None
    seen = "the container never reported running"
    passed = False  # `ready:` passed (once is enough); with `both`, Docker's healthy is awaited after it
    pause = 0.02  # poll fast at first (most services are ready within a second), then at the probe's interval
    status_read = 0.0
    running_since: float | None = None
    started_at: float | None = None
    while True:
        if cancelled is not None and cancelled.is_set():
            raise StartCancelled()
        if probe is None or docker_only or time.monotonic() - status_read > 0.5:  # an API call: not on every poll
            state = _container_state(service, cancelled)
            status_read = time.monotonic()
            if service.container.status in ("exited", "dead"):
                if state.get("ExitCode") == 0 and service.spec.job:
                    return "completed"  # any other service must keep running, as under `docker compose up --wait`
                raise _exited_error(service, state)
            if service.container.status == "running" and running_since is None:
                running_since = status_read  # seen running since (the settle time counts from here)
                started_at = _since_start(state, status_read)  # Docker's health timer counts from its start
            health = (state.get("Health") or {}).get("Status") if check is not None else None
            if health == "unhealthy" and probe is not None:
                raise _unhealthy_error(service, state, probe, time.monotonic() - started)  # as Compose: at once
            if health == "healthy" and service.container.status == "running" and (passed or not both):
                return "ready"  # Docker's verdict, as Compose takes it (the harness's own run may be slower)
            if passed:
                seen = f"the probe passed; Docker's healthcheck says {health or 'nothing yet'}, not healthy"
        if service.container.status == "running":
            if service.spec.job:
                seen = "still running"
            elif passed:
                pass  # Docker's healthy is awaited: read with the state, every 0.5 s
            elif docker_only and check is not None:
                seen = _docker_says(service, check, health, started_at)
            elif probe is not None:
                failed = _probe(service, probe, log_since, cancelled)
                if failed is None and not both:
                    return "ready"
                if failed is None:  # Docker's healthy is read with the state at once
                    passed, status_read = True, 0.0
                    continue
                seen = failed
            elif running_since is not None and time.monotonic() - running_since >= SETTLE:
                closed = _not_listening(service)
                if not closed or time.monotonic() - running_since >= SETTLE + LISTEN_GRACE:
                    service.unanswered = closed  # said by the starter: ready as Compose counts it, not reachable
                    return "ready"
                seen = f"nothing accepts connections on port {', '.join(map(str, closed))} yet"
            else:
                seen = "running for less than the settle time"
        if time.monotonic() > deadline:
            last = _container_state(service, cancelled)
            if last.get("Status") in ("exited", "dead"):  # it died since the last look: that is why
                raise _exited_error(service, last)
            if probe is None and not service.spec.job and running_since is not None \
                    and time.monotonic() - running_since >= SETTLE:
                service.unanswered = _not_listening(service)
                return "ready"  # running, as Compose counts it: its ports are waited for only within the limit
            waited = time.monotonic() - started
            if service.spec.job:
                raise ServiceNotReady(
                    f"job '{service.name}' did not finish within {waited:.1f} s (last: {seen}){_with_log(service)}",
                    service=service.name, waited=waited,
                    hint=f"Check the log, or {RAISE_TIMEOUT}.")
            described = probe.describe() if probe else f"running for {SETTLE} s"
            if docker_only:
                raise ServiceNotReady(
                    f"service '{service.shown}' was not ready after {waited:.1f} s: Docker's healthcheck ({described}) "
                    f"never called it healthy (last: {seen}), and `docker compose up --wait` waits for healthy"
                    f"{_with_log(service)}", service=service.name, probe=described,
                    waited=waited, hint=f"Check the log, fix the healthcheck (its test, interval, retries), or "
                                        f"{RAISE_TIMEOUT}.")
            if passed:
                raise ServiceNotReady(
                    f"service '{service.name}' was not ready after {waited:.1f} s: probe {described} passed, but "
                    f"Docker's healthcheck never called it healthy (last: {seen}); a service with both is ready when "
                    f"both hold, as `docker compose up --wait` waits for healthy{_with_log(service)}",
                    service=service.name, probe=described, waited=waited,
                    hint=f"Check the log, fix the healthcheck (its test, interval, retries), or {RAISE_TIMEOUT}.")
            raise ServiceNotReady(
                f"service '{service.shown}' was not ready after {waited:.1f} s: probe {described}"
                f" never passed (last: {seen}){_with_log(service)}",
                service=service.name, probe=described, waited=waited,
                hint=f"Check the log, fix the probe (`ready:`; `ready=` of the builder), or {RAISE_TIMEOUT}.")
        if cancelled is not None:
            cancelled.wait(pause)  # a cancel ends the pause at once (a probe's interval may be long)
        else:
            time.sleep(pause)
        pause = min(pause * 2, 0.2 if docker_only else probe.interval if probe else 0.1)


def awaited(service: Service) -> str:
    """What the start waits for and for how long at most, as the waiting line says it: "command `test -f /tmp/go`
    exits 0, up to 600 s"; "a job: until it exits 0, up to 60 s"; with `ready:` and Docker's healthcheck, "..., and
    Docker's healthcheck says healthy, up to 250 s"."""
    check = docker_healthcheck(service)
    limit = f"up to {ready_limit(service.spec, check):g} s"
    if service.spec.job:
        return f"a job: until it exits 0, {limit}"
    described = service.probe.describe() if service.probe else f"running for {SETTLE:g} s"
    if not service.probe and service.ports:
        described += (f", and port {', '.join(map(str, service.ports))} accepting connections (at most "
                      f"{LISTEN_GRACE:g} s more: Compose waits for running only)")
    if check is not None and service.spec.ready is not None:
        described += ", and Docker's healthcheck says healthy"
    elif check is not None and service.probe is not None:
        described = (f"Docker's healthcheck says healthy ({described}; Docker's first check "
                     f"{first_check(service, check):g} s after the start)")
    return f"{described}, {limit}"


def say_unanswered(services: list[Service], say: Callable[[str], None]) -> None:
    """One line each (to `say`) for the services called ready (running, as `docker compose up --wait` counts them)
    while nothing accepted connections on some of their published ports within LISTEN_GRACE: a URL nobody reaches
    (a server listening on the container's loopback, a host this machine cannot reach) is said, not silent."""
    for service in services:
        if service.unanswered:
            host = url_host(service.host)
            ports = ", ".join(f"{port} at {host}:{service.ports[port]}" for port in service.unanswered)
            say(f"port {ports} of service '{service.shown}' accepts no connections after {LISTEN_GRACE:g} s; ready "
                "as Compose counts it (running)")


def _not_listening(service: Service) -> list[int]:
    """The published TCP ports (container side) of `service` where no server accepts connections yet."""
    return [port for port, published in service.ports.items()
            if not tcp_accepts(published, service.host, service.container, port)]


def _since_start(state: dict[str, Any], now: float) -> float:
    """The container's start (Docker's StartedAt: UTC, nanoseconds) as a `time.monotonic()` value, seen at `now`;
    `now` when Docker gives none it can read. Docker's health timer starts then, not when the harness first looks."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", str(state.get("StartedAt") or ""))
    if match is None:
        return now
    started = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    ago = time.time() - started - float(f"0.{match[2] or 0}")
    return now - ago if 0 <= ago < 86400 else now  # a clock apart from the engine's (remote): the later time


def first_check(service: Service, check: Healthcheck) -> float:
    """Seconds after the container's start when Docker first runs its healthcheck's test (`Healthcheck.first_check`
    on this container's engine): no verdict of Docker's comes sooner."""
    return check.first_check(api_tuple(str(service.container.client.api.api_version)) >= api_tuple(START_INTERVAL[0]))


def _docker_says(service: Service, check: Healthcheck, health: str | None, started_at: float | None) -> str:
    """What the waiting saw last for a service Docker's healthcheck decides: Docker's status, or when its first run
    of the test is still to come."""
    first = first_check(service, check)
    if not health or health == "starting":
        if started_at is None or time.monotonic() - started_at < first:
            return f"Docker runs the healthcheck first {first:g} s after the start"
        return f"Docker's healthcheck says {health or 'nothing yet'}"
    return f"Docker's healthcheck says {health}"


def _probe(service: Service, probe: ReadyProbe, log_since: float | None,
           cancelled: threading.Event | None) -> str | None:
    """One probe attempt (None: ready). Docker refusing it because the container stopped or went away meanwhile
    (a 409 "is not running" from an exec, a 404, a stream cut when it died) is said as what happened to the
    container; a refusal while it still runs is what the probe saw."""
    try:
        return probe_once(probe, service.container, service.ports, log_since, service.host, None, cancelled)
    except Abandoned:
        raise StartCancelled() from None
    # docker-py's APIError, a cut stream (requests' and urllib3's errors, or the socket's own OSError); the HTTP
    # and TCP probes say their own connection errors as what they saw
    except (OSError, urllib3.exceptions.HTTPError) as error:
        state = _container_state(service, cancelled)
        if state.get("Status") in ("exited", "dead"):
            raise _exited_error(service, state) from None
        return f"Docker refused the probe: {_explained(error)}"


def docker_healthcheck(service: Service) -> Healthcheck | None:
    """The healthcheck Docker runs in the service's container, as Docker merged it (the image's HEALTHCHECK under
    the file's values; durations in seconds); None when Docker checks nothing (none, `disable: true`, test NONE)
    and for a job."""
    merged = (service.container.attrs.get("Config") or {}).get("Healthcheck") or {}
    test = merged.get("Test")
    if service.spec.job or not test or test[0] == "NONE":
        return None
    seconds = {key: merged[name] / 1e9 for key, name in (("interval", "Interval"), ("timeout", "Timeout"),
                                                          ("start_period", "StartPeriod"),
                                                          ("start_interval", "StartInterval")) if merged.get(name)}
    retries = {"retries": merged["Retries"]} if merged.get("Retries") else {}
    return Healthcheck(test=test, **seconds, **retries)


def _tail(output: str, keep: int = 200) -> str:
    """The last `keep` characters of a health check's output: a failing check's reason comes last (the final line of
    a Python or curl traceback), its start is often boilerplate."""
    return output if len(output) <= keep else "..." + output[-keep:]


def _unhealthy_error(service: Service, state: dict[str, Any], probe: ReadyProbe, waited: float) -> ServiceNotReady:
    """A service whose healthcheck Docker itself marked unhealthy: its last health log entries and log."""
    entries = ((state.get("Health") or {}).get("Log") or [])[-HEALTH_LOG:]
    said = "; ".join(dict.fromkeys(  # each different outcome once; the end of an output says why (a traceback's)
        f"exit code {entry.get('ExitCode')}" + (f": {_tail(output)}" if (output := " ".join(
            str(entry.get("Output") or "").split())) else " (no output)") for entry in entries)) or "(no health log)"
    return ServiceNotReady(
        f"service '{service.shown}' is not ready: Docker's healthcheck marked it unhealthy: {said}"
        f"{_with_log(service)}", service=service.name, probe=probe.describe(), waited=waited,
        hint="Fix the service or its healthcheck (its test, timeout, retries, start_period): Docker Compose refuses "
             "an unhealthy dependency too (`docker compose up --wait`).")


def _container_state(service: Service, cancelled: threading.Event | None = None) -> dict[str, Any]:
    """The container's State now (and `service.container.status`).

    Raises:
        DockerError: the container is gone (removed by something else while it was starting).
        StartCancelled: it is gone because the start was abandoned (the teardown removed it).
    """
    try:
        service.container.reload()
        gone = service.container.status == "removing"
    except docker.errors.NotFound:
        gone = True
    if gone:
        if cancelled is not None and cancelled.is_set():
            raise StartCancelled() from None
        raise DockerError(
            f"service '{service.shown}': its container was removed while the harness waited for it to be ready, by "
            "something outside this start; its exit code and log went with it",
            service=service.name, operation="start",
            hint="Look for what removes containers of this topology meanwhile (`harness down`, `docker rm`, a "
                 "prune in another terminal or CI step), then start it again.")
    return service.container.attrs.get("State") or {}


def ended(service: Service) -> HarnessError | None:
    """See `Service.ended`."""
    try:
        state = _container_state(service)
    except DockerError as error:
        return error
    return _exited_error(service, state) if state.get("Status") in ("exited", "dead") else None


def _exited_error(service: Service, state: dict[str, Any]) -> ServiceExited:
    """The error of a service whose container ended (`state`: its inspect State) while it was starting. Only a job
    may end: Compose's `up --wait` waits for every other service to be running (or healthy) and refuses one that
    exited, with code 0 too ("container NAME exited (0)"; compose's getDependencyCondition and isServiceHealthy)."""
    code = state.get("ExitCode")
    if state.get("OOMKilled"):
        todo = "Give it more memory, or make it use less (its log above may say what it was doing)."
    elif code == 0 and service.spec.restarted_by_compose:
        todo = ("It ended on its own, yet nothing waits for it to finish. Under Docker Compose its `restart:` policy "
                "would have Docker start it again (`up --wait` can then find it running); a test run ignores "
                "`restart` (a container lives for the run), so it must keep running. Fix its command if it should "
                "serve (its log above says what it did); if it is a one-shot task, make the services that need it "
                "depend on it with `condition: service_completed_successfully`.")
    elif code == 0 and not service.spec.job:
        todo = ("It ended on its own, yet nothing waits for it to finish, so it must keep running: `docker compose up "
                "--wait` refuses it too (\"exited (0)\"). Fix its command if it should serve (its log above says "
                "what it did); if it is a one-shot task, make the services that need it depend on it with `condition: "
                "service_completed_successfully` (in a topology file: `job: true`).")
    else:
        todo = "Fix the service's command or configuration (its log above says why it stopped)."
    return ServiceExited(
        f"service '{service.shown}' {exit_summary(state)} during startup"
        f"{' (a job must exit 0)' if service.spec.job else ''}{_with_log(service)}\n{todo}",
        service=service.name, container_exit=code, oom_killed=bool(state.get("OOMKilled")))


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # terminal colour and cursor codes


def log_ending(lines: list[str], keep: int = 200) -> str:
    """The last non-empty line of a log (ANSI codes out, runs of spaces as one, at most `keep` characters, the end
    kept): what an error's first line quotes as the reason a service stopped (a traceback's last line says it), as a
    CI annotation, a step summary and pytest's short summary show only that line."""
    last = next((" ".join(_ANSI.sub("", line).split()) for line in reversed(lines) if line.strip()), "")
    return last if len(last) <= keep else "..." + last[-keep:]


def _with_log(service: Service) -> str:
    """What ends an error's first line, and the log under it: "; its log ends: LAST LINE" (the one line a CI
    annotation, a step summary and pytest's short summary show must say why), then the last LOG_TAIL lines."""
    try:
        lines = service.logs(tail=LOG_TAIL).splitlines()
    except docker.errors.NotFound:
        return ". Its container is gone, and its log with it."
    if not any(line.strip() for line in lines):
        return ". Its log is empty."
    block = "\n".join(f"  | {line}" for line in lines)
    return f"; its log ends: {log_ending(lines)}\nLast {LOG_TAIL} lines of its log:\n{block}"


def exit_summary(state: dict[str, Any]) -> str:
    """How a container ended, from its inspect `State`: "exited with code 3", "exited with code 137 (killed by the
    kernel: out of memory)", "is dead with exit code 1 (Docker's error)"."""
    code = state.get("ExitCode", "?")
    what = f"is dead with exit code {code}" if state.get("Status") == "dead" else f"exited with code {code}"
    why = ["killed by the kernel: out of memory"] if state.get("OOMKilled") else []
    why += [state["Error"]] if state.get("Error") else []
    return what + (f" ({'; '.join(why)})" if why else "")


def _explained(error: Exception) -> str:
    """Docker's own explanation (or the connection's error), without docker-py's request line."""
    text = FULL_ID.sub(lambda match: match[0][:12], str(getattr(error, "explanation", None) or error).strip())
    return text[:300]
