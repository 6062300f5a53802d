"""The agent inside a fault helper container (standard library only: it runs there, not in the harness).

The helper shares the consumer's network namespace (`network_mode: container:<id>`, NET_ADMIN). Faults are
netfilter rules in the chain HARNESS-FAULTS, jumped to from OUTPUT, on packets of connections the consumer opens
(`--ctdir ORIGINAL`, not loopback):

    cut     REJECT (tcp-reset for TCP: "connection refused/reset" at once) or DROP (calls hang until their timeout)
    loss    DROP with `-m statistic --mode random --probability p` (the rule's own counter: the packets it dropped)
    delay   NFQUEUE to this agent, which holds each packet `delay_ms` (+- uniform `jitter_ms`: packets may be
            reordered, as with netem) and then accepts it, through libnetfilter_queue (Debian's
            libnetfilter-queue1, via ctypes).

tc netem would do delay and loss in the kernel, but kernels without sch_netem exist (this project's CI machines),
while netfilter queueing is part of every kernel that runs Docker's own rules.

Providers are named by their service name on the topology network. `apply` gets their addresses from the harness
(the engine's view), so a fault's rules are in place when `apply` answers even if Docker's DNS does not answer at
that moment; the names are then resolved through Docker's DNS every RESOLVE_SECONDS, so a provider that restarts
with a new address keeps its fault; a name that does not resolve (provider stopped) keeps its last address.

With --observe, an observation agent (observe_agent.py) runs in the same namespace: the agent tells it the servers
its faults are on ("*": every destination) before their rules are put in place and again after rules are removed,
one request on its abstract socket OBSERVE_SOCKET, so that the calls made meanwhile are marked `faulted`; a capture
that starts later asks for them on MARKS_SOCKET. A call a cut stops sends no HTTP: each cut has a rule before it that
only counts the TCP packets it stops, and a loss's DROP rule carries the same kind of comment, so that its own
counter is read as the packets it dropped (the counters restart whenever the rules are rewritten: the agent adds them
up); a capture asks for the counts on MARKS_SOCKET (at its start, and when it is read), and the agent tells it them
on OBSERVE_SOCKET whenever it rewrites its rules (the last time: when its last fault is removed).

    python3 fault_agent.py serve         the helper's main process: holds the state, the queues, the rules
    python3 fault_agent.py apply JSON    replace the faults: {"faults": [Fault, ...], "addresses": {name: IPv4}};
                                         prints the rules; exit 1 on error
    python3 fault_agent.py show          print the faults and the addresses they resolve to, as JSON

Fault = {"id": str, "target": service name | null (all destinations), "delay_ms": int, "jitter_ms": int,
         "loss_percent": float, "cut": "reject" | "drop" | null}; one rule set per field that is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import heapq
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

CHAIN = "HARNESS-FAULTS"
SOCKET_PATH = "/run/harness-faults.sock"
MARKS_SOCKET = "\0pytest-topology-faults"  # abstract: reached from the namespace's capture (marks only)
OBSERVE_SOCKET = "\0pytest-topology-observe"  # the capture's (observe_agent.py CONTROL)
OBSERVE_TIMEOUT = 30.0  # seconds the capture may take to take marks (it may be starting on a busy machine)
REFUSED_MARK = "harness-cut:"  # the comment of a cut's counting rule, then its server's address ("*": any)
DROPPED = "drop/"  # before the address for a cut that drops (its count is of packets: each retry, not connections)
LOST = "loss/"  # before the address for a loss (its count: the packets its random DROP took, of any protocol)
RESOLVE_SECONDS = 0.5
FIRST_QUEUE = 4200  # NFQUEUE numbers used by the delays of one helper: FIRST_QUEUE and up, one per delay
NF_ACCEPT = 1
NFQNL_COPY_META = 1


def queue_numbers(faults: list[dict[str, Any]], previous: dict[str, int]) -> dict[str, int]:
    """Fault id -> its NFQUEUE number, for the delays in `faults`. A delay keeps the number it had in `previous`
    (so that removing another fault never moves it to another queue, where it would pass undelayed or with the
    other's delay until the rules are rewritten); a new one takes the lowest free number from FIRST_QUEUE."""
    numbers = {f["id"]: previous[f["id"]] for f in faults if f.get("delay_ms") and f["id"] in previous}
    for fault in faults:
        if fault.get("delay_ms") and fault["id"] not in numbers:
            numbers[fault["id"]] = next(n for n in range(FIRST_QUEUE, FIRST_QUEUE + len(faults))
                                        if n not in numbers.values())
    return numbers


def rules(faults: list[dict[str, Any]], addresses: dict[str, str], queues: dict[str, int] | None = None) -> list[str]:
    """iptables-restore lines (filter table) for `faults`; `addresses` maps target names to IPv4 addresses,
    `queues` fault ids to their NFQUEUE numbers (default: `queue_numbers(faults, {})`).

    Cuts first, then loss, then delays; edge faults before service-wide ones of the same kind. A fault whose target
    has no address yet (a provider never seen running) has no rule.
    """
    queues = queue_numbers(faults, {}) if queues is None else queues
    lines = ["*filter", f":{CHAIN} - [0:0]"]
    ordered = sorted(enumerate(faults), key=lambda f: (_kind_rank(f[1]), f[1].get("target") is None, f[0]))
    for _, fault in ordered:
        target = fault.get("target")
        if target is not None and target not in addresses:
            continue
        match = f"-A {CHAIN} ! -o lo" + (f" -d {addresses[target]}/32" if target else "")
        match += " -m conntrack --ctdir ORIGINAL"
        if fault.get("cut"):  # (no target: only counts) the TCP packets a cut stops, said on the edge (--observe)
            server = (DROPPED if fault["cut"] == "drop" else "") + (addresses[target] if target else "*")
            lines.append(f"{match} -p tcp -m comment --comment {REFUSED_MARK}{server}")
        if fault.get("cut") == "reject":
            lines.append(f"{match} -p tcp -j REJECT --reject-with tcp-reset")
            lines.append(f"{match} -j REJECT --reject-with icmp-port-unreachable")
        elif fault.get("cut") == "drop":
            lines.append(f"{match} -j DROP")
        if fault.get("loss_percent"):  # (counted by the DROP rule itself: only the packets it took)
            probability = min(max(float(fault["loss_percent"]) / 100, 0.0), 1.0)
            server = LOST + (addresses[target] if target else "*")
            lines.append(f"{match} -m statistic --mode random --probability {probability:.4f} "
                         f"-m comment --comment {REFUSED_MARK}{server} -j DROP")
        if fault.get("delay_ms"):
            lines.append(f"{match} -j NFQUEUE --queue-num {queues[fault['id']]} --queue-bypass")
    lines.append("COMMIT")
    return lines


def refused_counts(saved: str) -> dict[str, int]:
    """Server ("*": every destination) -> TCP packets a cut stopped, from the counters of `iptables-save -c` of the
    chain's counting rules: a refused connection (new, or kept alive: reset at its first packet) sends one, a
    dropped one sends its packet again until its client gives up; "loss/" + server: the packets a loss dropped."""
    counts: dict[str, int] = {}
    for line in saved.splitlines():
        found = re.match(r"\[(\d+):\d+\] -A " + re.escape(CHAIN) + r" .*--comment \"?" + re.escape(REFUSED_MARK)
                         + r"([^\s\"]+)", line)
        if found:
            counts[found[2]] = counts.get(found[2], 0) + int(found[1])
    return counts


def marks_of(faults: list[dict[str, Any]], addresses: dict[str, str]) -> list[str]:
    """The servers the capture marks for `faults`: the addresses their rules are on, or "*" for a fault on every
    destination."""
    if any(not f.get("target") for f in faults):
        return ["*"]
    return sorted({addresses[f["target"]] for f in faults if f["target"] in addresses})


def _kind_rank(fault: dict[str, Any]) -> int:
    return 0 if fault.get("cut") else 1 if fault.get("loss_percent") else 2


class DelayQueues:
    """NFQUEUE queues that hold packets for a while and then accept them."""

    CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)

    def __init__(self) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("netfilter_queue") or "libnetfilter_queue.so.1", use_errno=True)
        for name in ("nfq_open", "nfq_create_queue", "nfq_get_msg_packet_hdr"):
            getattr(lib, name).restype = ctypes.c_void_p
        lib.nfq_create_queue.argtypes = [ctypes.c_void_p, ctypes.c_uint16, self.CALLBACK, ctypes.c_void_p]
        lib.nfq_set_mode.argtypes = [ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint32]
        lib.nfq_set_queue_maxlen.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.nfq_destroy_queue.argtypes = [ctypes.c_void_p]
        lib.nfq_fd.argtypes = [ctypes.c_void_p]
        lib.nfq_handle_packet.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.nfq_get_msg_packet_hdr.argtypes = [ctypes.c_void_p]
        lib.nfq_set_verdict.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                                        ctypes.c_void_p]
        self.lib = lib
        self.handle = lib.nfq_open()
        if not self.handle:
            raise OSError(ctypes.get_errno(), "nfq_open failed (does the helper have NET_ADMIN?)")
        self.fd = lib.nfq_fd(self.handle)
        self.callback = self.CALLBACK(self._on_packet)  # kept referenced: C holds the pointer
        self.queues: dict[int, int] = {}  # queue number -> queue handle
        self.delays: dict[int, tuple[float, float]] = {}  # queue handle -> (delay, jitter) in seconds
        self.held: list[tuple[float, int, int, int]] = []  # heap of (release time, sequence, queue handle, id)
        self.sequence = 0

    def configure(self, delays: dict[int, tuple[float, float]]) -> None:
        """Queue number -> (delay, jitter) in seconds; queues no longer listed release what they hold and close."""
        for number in [n for n in self.queues if n not in delays]:
            handle = self.queues.pop(number)
            self.release(until=float("inf"), only=handle)
            self.lib.nfq_destroy_queue(handle)
            self.delays.pop(handle, None)
        for number, delay in delays.items():
            if number not in self.queues:
                handle = self.lib.nfq_create_queue(self.handle, number, self.callback, None)
                if not handle:
                    raise OSError(ctypes.get_errno(), f"cannot bind netfilter queue {number}")
                self.lib.nfq_set_mode(handle, NFQNL_COPY_META, 0)
                self.lib.nfq_set_queue_maxlen(handle, 65536)
                self.queues[number] = handle
            self.delays[self.queues[number]] = delay

    def _on_packet(self, queue: int, message: int, data: int, _: int) -> int:
        header = self.lib.nfq_get_msg_packet_hdr(data)
        packet_id = int.from_bytes(ctypes.string_at(header, 4), "big")
        delay, jitter = self.delays.get(queue, (0.0, 0.0))
        release = time.monotonic() + max(0.0, delay + random.uniform(-jitter, jitter))
        self.sequence += 1
        heapq.heappush(self.held, (release, self.sequence, queue, packet_id))
        return 0

    def receive(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # ENOBUFS: the kernel dropped queue messages; those packets are accepted by --queue-bypass
            return
        self.lib.nfq_handle_packet(self.handle, data, len(data))

    def release(self, until: float, only: int | None = None) -> None:
        keep = []
        while self.held and self.held[0][0] <= until:
            item = heapq.heappop(self.held)
            if only is not None and item[2] != only:
                keep.append(item)
                continue
            self.lib.nfq_set_verdict(item[2], item[3], NF_ACCEPT, 0, None)
        for item in keep:
            heapq.heappush(self.held, item)

    def next_release(self) -> float | None:
        return self.held[0][0] if self.held else None


class Agent:
    def __init__(self) -> None:
        self.faults: list[dict[str, Any]] = []
        self.addresses: dict[str, str] = {}
        self.queue_of: dict[str, int] = {}  # fault id -> NFQUEUE number
        self.queues = DelayQueues()
        self.marked: list[str] = []  # the servers the namespace's capture was last told (marks_of)
        self.refused: dict[str, int] = {}  # server -> TCP packets cuts stopped (rules since replaced)
        self.id = f"{os.getpid()}-{time.time_ns()}"  # the capture adds up the counts of each agent apart

    def resolve(self) -> bool:
        """Look the targets up again; True when an address changed."""
        changed = False
        for target in {f["target"] for f in self.faults if f.get("target")}:
            try:
                address = socket.gethostbyname(target)
            except OSError:
                continue  # stopped or disconnected: keep the last address
            if self.addresses.get(target) != address:
                self.addresses[target] = address
                changed = True
        return changed

    def apply(self, faults: list[dict[str, Any]], given: dict[str, str] | None = None) -> list[str]:
        """Replace the faults; `given`: target -> address from the harness, overridden by a look-up that answers."""
        self.faults = faults
        targets = {f.get("target") for f in faults if f.get("target")}
        self.addresses = {k: v for k, v in {**self.addresses, **(given or {})}.items() if k in targets}
        self.resolve()
        self.queue_of = queue_numbers(faults, self.queue_of)
        self.queues.configure({self.queue_of[f["id"]]: (f["delay_ms"] / 1000, f.get("jitter_ms", 0) / 1000)
                               for f in faults if f.get("delay_ms")})
        return self.write_rules()

    def write_rules(self) -> list[str]:
        """The rules of the faults in place; the capture marks the servers of the old and the new rules while they
        change, then those of the new."""
        before, wanted = self.marked, marks_of(self.faults, self.addresses)
        self.mark(sorted({*before, *wanted}))
        try:
            lines = rules(self.faults, self.addresses, self.queue_of)
            self.refused = self.refused_now()  # (the chain's counters start again at 0 below)
            _run(["iptables-restore", "--noflush"], "\n".join(lines) + "\n")
            self.tell_refused(self.refused)  # (the helper is removed, not stopped, once its faults are)
            if subprocess.run(["iptables", "-C", "OUTPUT", "-j", CHAIN], capture_output=True).returncode != 0:
                _run(["iptables", "-I", "OUTPUT", "1", "-j", CHAIN])
        except RuntimeError:
            self.mark(before)
            raise
        self.mark(wanted)
        return lines

    def mark(self, servers: list[str]) -> None:
        """Tell the capture of this namespace (--observe), if there is one, the servers under a fault from now on;
        returns once it took them.

        Raises:
            RuntimeError: the capture is there but did not take them.
        """
        if servers == self.marked:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(OBSERVE_TIMEOUT)
            try:
                client.connect(OBSERVE_SOCKET)
            except (ConnectionRefusedError, FileNotFoundError):
                self.marked = servers  # no capture in this namespace (one that starts later asks for them)
                return
            try:
                client.sendall(json.dumps({"command": "marks", "servers": servers}).encode())
                client.shutdown(socket.SHUT_WR)
                reply = json.loads(_read_all(client) or b"{}")
            except (OSError, ValueError) as error:
                raise RuntimeError(f"the observation helper of this namespace did not take the marks: {error}") \
                    from None
        if not reply.get("ok"):
            raise RuntimeError(f"the observation helper of this namespace did not take the marks: {reply}")
        self.marked = servers

    def refused_now(self) -> dict[str, int]:
        """Server -> TCP packets the cuts of this agent stopped so far (of rules replaced, and of those in place)."""
        saved = subprocess.run(["iptables-save", "-c", "-t", "filter"], capture_output=True, text=True).stdout
        counts = dict(self.refused)
        for server, count in refused_counts(saved).items():
            counts[server] = counts.get(server, 0) + count
        return counts

    def tell_refused(self, counts: dict[str, int]) -> None:
        """Tell the capture of this namespace (--observe), if there is one, what the cuts stopped so far."""
        if not any(counts.values()):
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(OBSERVE_TIMEOUT)
            try:
                client.connect(OBSERVE_SOCKET)
                client.sendall(json.dumps({"command": "refused", "agent": self.id, "servers": counts}).encode())
                client.shutdown(socket.SHUT_WR)
                _read_all(client)
            except OSError as error:  # no capture here (or gone): nobody counts them
                print(f"refused connections not told to a capture: {error}", flush=True)

    def clear(self) -> None:
        self.tell_refused(self.refused_now())
        subprocess.run(["iptables", "-D", "OUTPUT", "-j", CHAIN], capture_output=True)
        subprocess.run(["iptables", "-F", CHAIN], capture_output=True)
        subprocess.run(["iptables", "-X", CHAIN], capture_output=True)
        self.queues.configure({})
        try:
            self.mark([])
        except RuntimeError as error:
            print(error, flush=True)

    def serve(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(SOCKET_PATH):
            os.unlink(SOCKET_PATH)
        server.bind(SOCKET_PATH)
        server.listen(8)
        marks = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            marks.bind(MARKS_SOCKET)
            marks.listen(8)
        except OSError as error:  # another fault agent in this namespace has it: a capture asks that one
            print(f"marks socket not bound: {error}", flush=True)
            marks.close()
        print("fault agent ready", flush=True)
        next_resolve = time.monotonic() + RESOLVE_SECONDS
        try:
            while True:
                now = time.monotonic()
                wake = min(next_resolve, self.queues.next_release() or next_resolve)
                listening = [server] if marks.fileno() < 0 else [server, marks]
                readable, _, _ = select.select([self.queues.fd, *listening], [], [], max(0.0, wake - now))
                if self.queues.fd in readable:
                    self.queues.receive()
                if server in readable:
                    self.answer(server.accept()[0])
                if marks in readable:
                    self.answer(marks.accept()[0], marks_only=True)
                self.queues.release(until=time.monotonic())
                if time.monotonic() >= next_resolve:
                    next_resolve = time.monotonic() + RESOLVE_SECONDS
                    if self.resolve():
                        print(f"addresses now {self.addresses}", flush=True)
                        try:
                            self.write_rules()
                        except RuntimeError as error:  # kept running: the next apply reports it
                            print(error, flush=True)
        finally:
            self.clear()

    def answer(self, connection: socket.socket, marks_only: bool = False) -> None:
        """One request; on the marks socket (anyone in the namespace reaches it) only `marks`."""
        with connection:
            connection.settimeout(OBSERVE_TIMEOUT)
            try:
                request = json.loads(_read_all(connection))
            except (OSError, ValueError):
                return
            try:
                if request["command"] == "marks" or marks_only:
                    reply: dict[str, Any] = {"ok": True, "servers": self.marked, "agent": self.id,
                                             "refused": self.refused_now()}
                elif request["command"] == "apply":
                    reply = {"ok": True, "rules": self.apply(request["faults"], request.get("addresses"))}
                else:
                    reply = {"ok": True, "faults": self.faults, "addresses": self.addresses}
            except Exception as error:  # noqa: BLE001 - reported to the harness, which raises FaultError
                reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            connection.sendall(json.dumps(reply).encode())


def _run(command: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")


def _read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _request(request: dict[str, Any]) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(SOCKET_PATH)
        client.sendall(json.dumps(request).encode())
        client.shutdown(socket.SHUT_WR)
        reply = json.loads(_read_all(client))
    print(json.dumps(reply))
    return 0 if reply.get("ok") else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        Agent().serve()
        return 0
    if argv[:1] == ["apply"] and len(argv) == 2:
        payload = json.loads(argv[1])
        return _request({"command": "apply", "faults": payload["faults"], "addresses": payload.get("addresses", {})})
    if argv[:1] == ["show"]:
        return _request({"command": "show"})
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
