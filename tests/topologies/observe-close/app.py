"""Two services as Python's standard library writes them (issue #26): BaseHTTPRequestHandler's default HTTP/1.0,
each response's body sent without Content-Length and ended by the server closing the connection.

    python app.py backend    # GET /items/<n> -> 200, a JSON body ended by the close
    python app.py frontapi   # GET /calls/<n> -> GET /items/1 of the backend n times (urllib), answers {"made": n}
"""

import http.server
import json
import os
import sys
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if sys.argv[1] == "frontapi" and self.path.startswith("/calls/"):
            count = int(self.path.rsplit("/", 1)[1])
            for _ in range(count):
                with urllib.request.urlopen(f"http://{os.environ['BACKEND_HOST']}:8000/items/1", timeout=30) as r:
                    json.loads(r.read())
            body = {"made": count}
        else:
            body = {"item": self.path}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()  # no Content-Length: the body ends when the connection closes
        self.wfile.write(json.dumps(body).encode())


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
