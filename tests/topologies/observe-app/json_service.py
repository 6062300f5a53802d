"""The HTTP side shared by the observation tests' tiny services (app.py, bookshop.py): an HTTP/1.1 server with
keep-alive, as real services are, that answers GET /health itself and every other call with the JSON its role's
route gives (no body and no Content-Type for None; headers of its own when the route gives a third item), and
logs each call as `ROLE: METHOD PATH`."""

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (method, path with its query) -> (status, JSON body or None[, {header: value}])
Route = Callable[[str, str], tuple[int, object] | tuple[int, object, dict[str, str]]]


def serve(role: str, route: Route, port: int = 8000) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            answer = (200, {"status": "ok"}) if self.path.split("?")[0] == "/health" else \
                route(self.command, self.path)
            status, body, headers = answer[0], answer[1], answer[2] if len(answer) > 2 else {}
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            print(f"{role}: {self.command} {self.path}", flush=True)

    print(f"{role} listening on {port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
