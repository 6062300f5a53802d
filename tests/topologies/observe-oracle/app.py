"""Two tiny services for the capture's oracle test, picked by the first argument.

stock:  GET /items/{id} -> {"id"}; logs each call it answers as `answered CLIENT_ADDRESS GET PATH STATUS` (the
        oracle: what the provider says it answered).
caller: as soon as it starts, STARTUP_CALLS calls to the stock on one kept-alive connection (before a capture started
        with the container can run), then `caller ready`; GET /calls/{n} -> n more calls on that same connection.
Both answer GET /health. HTTP/1.1 with keep-alive.
"""

import http.client
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = sys.argv[1] if len(sys.argv) > 1 else "stock"
STOCK = http.client.HTTPConnection(os.environ.get("STOCK_HOST", "stock"), 8000, timeout=10) \
    if ROLE == "caller" else None
LOCK = threading.Lock()


def call_stock(count: int) -> int:
    assert STOCK is not None
    with LOCK:  # one connection, one call at a time
        for n in range(count):
            STOCK.request("GET", f"/items/{n}")
            STOCK.getresponse().read()
    return count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = [p for p in self.path.split("/") if p]
        if parts == ["health"]:
            status, body = 200, {"status": "ok"}
        elif ROLE == "stock" and parts[:1] == ["items"]:
            status, body = 200, {"id": int(parts[1])}
        elif ROLE == "caller" and parts[:1] == ["calls"]:
            status, body = 200, {"made": call_stock(int(parts[1]))}
        else:
            status, body = 404, {"error": "no route"}
        if ROLE == "stock":  # before the answer: logged by the time the caller has it
            print(f"answered {self.client_address[0]} GET {self.path} {status}", flush=True)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    if ROLE == "caller":
        call_stock(int(os.environ.get("STARTUP_CALLS", "0")))
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    print(f"{ROLE} ready", flush=True)
    server.serve_forever()
