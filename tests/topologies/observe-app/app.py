"""Two tiny services for the observation tests, picked by the first argument.

stock: GET /items/{id} -> {"id", "name"} (404 for id 0), GET /items/{id}/price, DELETE /items/{id} -> 204
shop:  GET /order/{id} -> asks stock for the item and its price on one kept-alive connection, counts the order in
       Redis (a plain RESP command on a socket); GET /missing -> asks stock for item 0 (a 404 its document lacks)
Both answer GET /health (json_service.py: HTTP/1.1 with keep-alive, as real services are).
"""

import http.client
import json
import os
import socket
import sys

from json_service import serve

ROLE = sys.argv[1] if len(sys.argv) > 1 else "stock"


def stock(method: str, parts: list[str]) -> tuple[int, object]:
    if parts[:1] == ["items"] and len(parts) >= 2:
        item = int(parts[1])
        if method == "DELETE":
            return 204, None
        if item == 0:
            return 404, {"error": "no such item"}
        if parts[2:] == ["price"]:
            return 200, {"price": 3 * item}
        return 200, {"id": item, "name": "apple"}
    return 404, {"error": "no route"}


def shop(method: str, parts: list[str]) -> tuple[int, object]:
    connection = http.client.HTTPConnection(os.environ["STOCK_HOST"], 8000, timeout=5)
    try:
        if parts[:1] == ["order"]:
            item = parts[1]
            connection.request("GET", f"/items/{item}")
            found = json.loads(connection.getresponse().read())
            connection.request("GET", f"/items/{item}/price?currency=eur")  # the same connection: kept alive
            price = json.loads(connection.getresponse().read())
            with socket.create_connection((os.environ["REDIS_HOST"], 6379), timeout=5) as redis:
                redis.sendall(b"INCR orders\r\n")
                count = int(redis.recv(64).strip()[1:])
            return 200, {"item": found, "price": price, "orders": count}
        if parts[:1] == ["missing"]:
            connection.request("GET", "/items/0")
            response = connection.getresponse()
            response.read()
            return 200, {"stock said": response.status}
    finally:
        connection.close()
    return 404, {"error": "no route"}


def route(method: str, path: str) -> tuple[int, object]:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return (stock if ROLE == "stock" else shop)(method, parts)


if __name__ == "__main__":
    serve(ROLE, route)
