"""Two tiny services for the test of coverage as Pact matches it, picked by the first argument.

catalog: GET /products/{id} -> 200 {"id"} (404 for an id of 500 and more), POST /orders -> 201 {"id", "qty"},
         GET /orders -> 200 []
shop:    POST /call/{method}/{path...}?{query} -> makes that call to catalog with the body and Content-Type it got
         (and each header `X-Pass-{name}: value` it got as `{name}: value`), and says its status
Both answer GET /health.
"""

import http.client
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROLE = sys.argv[1] if len(sys.argv) > 1 else "catalog"


def catalog(method: str, parts: list[str], body: bytes) -> tuple[int, object]:
    if method == "GET" and parts[:1] == ["products"] and len(parts) == 2:
        return (404, {"detail": "no such product"}) if int(parts[1]) >= 500 else (200, {"id": int(parts[1])})
    if method == "POST" and parts == ["orders"]:
        try:
            qty = json.loads(body or b"{}").get("qty")
        except (ValueError, AttributeError):  # (a gzip body, a text one: the consumer's call is what counts)
            qty = None
        return 201, {"id": 1, "qty": qty}
    if method == "GET" and parts == ["orders"]:
        return 200, []
    return 404, {"detail": "no route"}


def shop(path: str, body: bytes, content_type: str | None, passed: dict[str, str]) -> tuple[int, object]:
    parts = path.split("/", 3)  # "", "call", method, rest
    connection = http.client.HTTPConnection(os.environ["CATALOG_HOST"], 8000, timeout=10)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(passed)
        connection.request(parts[2], "/" + parts[3], body=body or None, headers=headers)
        response = connection.getresponse()
        response.read()
        return 200, {"status": response.status}
    finally:
        connection.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        if parts == ["health"]:
            status, answer = 200, {"status": "ok"}
        elif ROLE == "shop" and parts[:1] == ["call"]:
            passed = {name[len("X-Pass-"):]: value for name, value in self.headers.items()
                      if name.lower().startswith("x-pass-")}
            status, answer = shop(self.path, body, self.headers.get("Content-Type"), passed)
        else:
            status, answer = catalog(self.command, parts, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        print(f"{ROLE}: {self.command} {self.path}", flush=True)


if __name__ == "__main__":
    print(f"{ROLE} listening on 8000", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
