"""Three tiny services for the harness's own tests, picked by the first argument.

greeter: GET /hello -> {"greeting": ...}
relay:   GET /relay -> asks greeter (by its name on the network) and wraps the answer
counter: POST /count -> increments a counter in Redis
All answer GET /health, and GET /openapi.json with the document in $OPENAPI when it is set.
"""

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = sys.argv[1] if len(sys.argv) > 1 else "greeter"


def handle(method: str, path: str) -> tuple[int, dict]:
    if path == "/health":
        return 200, {"status": "ok", "role": ROLE}
    if path == "/openapi.json" and "OPENAPI" in os.environ:  # a service that serves its own OpenAPI document
        return 200, json.loads(os.environ["OPENAPI"])
    if ROLE == "greeter" and path == "/hello":
        # GREETING_KEY lets a test run a variant that breaks its consumers' contract
        return 200, {os.environ.get("GREETING_KEY", "greeting"): os.environ.get("GREETING", "hello")}
    if ROLE == "relay" and path == "/relay":
        try:
            with urllib.request.urlopen(os.environ["GREETER_URL"] + "/hello", timeout=2) as response:
                return 200, {"relayed": json.load(response)}
        except OSError as error:
            return 502, {"error": f"greeter unreachable: {error}"}
    if ROLE == "counter" and path == "/count" and method == "POST":
        import redis

        client = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=6379, socket_timeout=5)
        return 200, {"count": client.incr("count")}
    return 404, {"error": f"no route {method} {path}"}


class Handler(BaseHTTPRequestHandler):
    def _answer(self, method: str) -> None:
        status, body = handle(method, self.path.split("?")[0])
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args) -> None:
        print(f"{ROLE}: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"{ROLE} listening on {port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
