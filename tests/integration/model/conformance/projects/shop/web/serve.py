"""A web app (--port N: answers every GET with 200) or a worker (--worker: waits for jobs that never come)."""

import http.server
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


if "--worker" in sys.argv:
    while True:
        time.sleep(3600)
port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 8000
http.server.ThreadingHTTPServer(("", port), Handler).serve_forever()
