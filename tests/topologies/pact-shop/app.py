"""A small shop for the harness's contract tests (standard library only). Environment switches make drifted
variants that break their consumers' pacts:

DRIFT=1      item ids become strings; repeated query values are dropped but the last; form bodies are refused
COLOUR=1     log lines carry ANSI colours and a control character (as Flask's and uvicorn's do)

GET /items             {"items": [{"id": 1, "name": "kettle"}, ...]}
GET /items/<id>        an item set up by a provider state (a file in /tmp/items), else 404
GET /orders?status=..  {"statuses": [every status asked for]}
POST /token            form body client_id=... -> text/plain "token-for-<client_id>"
GET /motd              text/plain
POST /_pact/provider_states   the shop's own state-change endpoint: {"state", "params", "action"}
"""

import json
import os
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DRIFT = os.environ.get("DRIFT") == "1"
ITEMS = Path("/tmp/items")
ITEMS.mkdir(exist_ok=True)


def item_id(value):
    return str(value) if DRIFT else value


class Shop(BaseHTTPRequestHandler):
    def _send(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/health":
            return self._send(200, {"status": "ok"})
        if url.path == "/items":
            return self._send(200, {"items": [{"id": item_id(1), "name": "kettle"}, {"id": item_id(2), "name": "mug"}]})
        if url.path.startswith("/items/"):
            file = ITEMS / url.path.rsplit("/", 1)[1]
            if file.is_file():
                return self._send(200, {"id": item_id(int(file.name)), "name": file.read_text().strip()})
            return self._send(404, {"error": "no such item"})
        if url.path == "/orders":
            statuses = query.get("status", [])
            return self._send(200, {"statuses": statuses[-1:] if DRIFT else statuses})
        if url.path == "/motd":
            return self._send(200, "Welcome to the shop", "text/plain")
        return self._send(404, {"error": "no route"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if url.path == "/token":
            if DRIFT or not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                return self._send(415, {"error": "JSON only"})
            form = urllib.parse.parse_qs(raw.decode())
            return self._send(200, f"token-for-{form['client_id'][0]}", "text/plain")
        if url.path == "/_pact/provider_states":
            body = json.loads(raw or b"{}")
            if body.get("state") == "item 7 is a teapot" and body.get("action", "setup") == "setup":
                (ITEMS / str(body.get("params", {}).get("id", 7))).write_text("teapot")
            return self._send(200, {})
        return self._send(404, {"error": "no route"})

    def log_message(self, format, *args):
        line = f"shop: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}"
        print(f"\x1b[32m{line}\x1b[0m\x07" if os.environ.get("COLOUR") == "1" else line, flush=True)


if __name__ == "__main__":
    print("shop listening on 8000", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Shop).serve_forever()
