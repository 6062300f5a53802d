"""Two tiny services for the observation tests of bodies and queries (tests/topologies/observe-bodies builds them
from this folder), picked by the first argument.

catalog: GET /books/{isbn} -> {"isbn", "title", "price"} (404 with a JSON body for isbn 0; a title of 1.5 MiB for
         isbn "long"; {"uid", "about"}, none of the properties its document requires, for isbn "bare"),
         POST /books/{isbn}/sold-out -> 204 (the book's price is null from then on: its document says number),
         GET /quote/{isbn}?currency=... -> {"isbn", "price"}, GET /invoices -> [] once POST /release was called
         (each waits up to 120 s: an answer that has not come when the capture is read),
         POST /holds/{isbn} -> 202 {"isbn"} with a new Location each time (none for isbn 0: its document requires
         one) and X-Hold-Count (the number of holds; "many" for isbn 7: its document says integer)
orders:  GET /call/{method}/{path...}?{query} -> makes that call to catalog itself and says its status;
         GET /send/{method}/{path...} -> sends that request to catalog and answers at once (its answer awaited in
         the background)
Both answer GET /health (json_service.py, shared with app.py: the shop and stock of tests/topologies/observe-app).
"""

import http.client
import os
import sys
import threading
from urllib.parse import urlsplit

from json_service import serve

ROLE = sys.argv[1] if len(sys.argv) > 1 else "catalog"
PRICES = {"111": 9.5, "222": 5.0}
RELEASED = threading.Event()
HOLDS = [0]


def catalog(method: str, parts: list[str]) -> tuple[int, object] | tuple[int, object, dict[str, str]]:
    if parts[:1] == ["holds"] and len(parts) == 2 and method == "POST":
        HOLDS[0] += 1
        headers = {"X-Hold-Count": "many" if parts[1] == "7" else str(HOLDS[0])}
        return 202, {"isbn": parts[1]}, headers if parts[1] == "0" else {**headers, "Location": f"/holds/{HOLDS[0]}"}
    if parts == ["release"] and method == "POST":
        RELEASED.set()
        return 204, None
    if parts == ["invoices"]:
        RELEASED.wait(120)
        return 200, []
    if parts[:1] == ["books"] and len(parts) == 3 and parts[2] == "sold-out" and method == "POST":
        PRICES[parts[1]] = None
        return 204, None
    if parts[:1] == ["books"] and len(parts) == 2:
        if parts[1] == "0":
            return 404, {"detail": "no such book"}
        if parts[1] == "bare":
            return 200, {"uid": 1, "about": 7}
        title = "L" * (3 << 19) if parts[1] == "long" else "Dune"
        return 200, {"isbn": parts[1], "title": title, "price": PRICES.get(parts[1], 1.0)}
    if parts[:1] == ["quote"] and len(parts) == 2:
        return 200, {"isbn": parts[1], "price": PRICES.get(parts[1], 1.0)}
    return 404, {"detail": "no route"}


def orders(path: str) -> tuple[int, object]:
    parts = path.split("/", 3)  # "", "call", method, rest
    connection = http.client.HTTPConnection(os.environ["CATALOG_HOST"], 8000, timeout=10)
    try:
        connection.request(parts[2], "/" + parts[3])
        response = connection.getresponse()
        response.read()
        return 200, {"status": response.status}
    finally:
        connection.close()


def send(path: str) -> tuple[int, object]:
    parts = path.split("/", 3)  # "", "send", method, rest
    connection = http.client.HTTPConnection(os.environ["CATALOG_HOST"], 8000, timeout=130)
    connection.request(parts[2], "/" + parts[3])  # (sent: its answer is awaited below, in the background)

    def answer() -> None:
        try:
            connection.getresponse().read()
        finally:
            connection.close()

    threading.Thread(target=answer, daemon=True).start()
    return 200, {"sent": True}


def route(method: str, path: str) -> tuple[int, object] | tuple[int, object, dict[str, str]]:
    parts = [p for p in urlsplit(path).path.split("/") if p]
    if ROLE == "orders" and parts[:1] == ["call"]:
        return orders(path)
    if ROLE == "orders" and parts[:1] == ["send"]:
        return send(path)
    return catalog(method, parts)


if __name__ == "__main__":
    serve(ROLE, route)
