"""A small items service for the fuzzing tests, in several behaviours chosen by the environment (stdlib only):

    BASE=/api/v1 SPEC=openapi3   the items under a base path its OpenAPI 3 document declares (`servers`)
    BASE=/api SPEC=swagger2      the same with a Swagger 2.0 document (`basePath`)
    BASE= SPEC=openapi3 DECLARED=/api
                                 the document declares /api but the service serves its paths at / (an old Flask
                                 app), and GET /items sends `id` as a string: a schema drift behind the base path
    CRASH=1                      GET /items/0 makes the handler crash: the connection closes with no response
    API_KEY=k                    every path but /health, the document included, needs `X-API-Key: k` (else 401)
    WRITES=strict                adds POST /items (a JSON object with a required non-empty string `name`): a body
                                 that breaks the schema is answered 400; an item added is kept
    WRITES=lax                   the same operation, but any body is accepted with 201: missing input validation,
                                 what negative fuzzing finds
    SERVER_ERRORS=1              GET /items/{id} with an id over 1000 and POST /items with a name longer than 5
                                 characters are answered 500: bugs that only some inputs reach
    ID_MAX=2147483647            the document says an item id is at most ID_MAX (a database's integer column); a
                                 larger id is answered 500 (the database's "integer out of range" let through):
                                 only data outside the schema (negative mode, `st run`'s default) reaches it
    STOCK=1                      a catalog: adds GET and PUT /stock/{id} (the stock of item 1 to 5, 100 until set;
                                 PUT a JSON object with an integer `count` from 0 to 1000)
    STOCK_FROM=http://catalog:8000
                                 orders: adds POST /orders (`item` 1 to 5, `quantity` 1 to 100), answered 201, or
                                 409 (undocumented) when the catalog there has less stock: what another service's
                                 writes decide

Any other method of a documented path is answered 405 with the `Allow` header, as web frameworks answer (404 elsewhere).

The document is served at /openapi.json; it documents the behaviour of the BASE=/api/v1 service exactly.
"""

import json
import os
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BASE = os.environ.get("BASE", "")
DECLARED = os.environ.get("DECLARED", BASE)
SPEC_KIND = os.environ.get("SPEC", "openapi3")
CRASH = os.environ.get("CRASH") == "1"
API_KEY = os.environ.get("API_KEY", "")
WRITES = os.environ.get("WRITES", "")  # "", "strict" or "lax"
SERVER_ERRORS = os.environ.get("SERVER_ERRORS") == "1"
DRIFT = DECLARED != BASE  # the drifted service also sends ids as strings
ID_MAX = int(os.environ["ID_MAX"]) if os.environ.get("ID_MAX") else None
STOCK = os.environ.get("STOCK") == "1"
STOCK_FROM = os.environ.get("STOCK_FROM", "")
STOCK_COUNTS = {i: 100 for i in range(1, 6)}
ITEMS = {i: {"id": i, "name": f"item {i}"} for i in range(1, 6)}
ADDING = threading.Lock()
ITEM = {"type": "object", "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
NEW_ITEM = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
ITEM_ID = {"type": "integer", "minimum": 1, "maximum": 5}
STOCK_LEVEL = {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer", "minimum": 0,
                                                                                "maximum": 1000}}}
ORDER = {"type": "object", "required": ["item", "quantity"],
         "properties": {"item": ITEM_ID, "quantity": {"type": "integer", "minimum": 1, "maximum": 100}}}


def openapi3() -> dict:
    def answer(schema: dict) -> dict:
        return {"content": {"application/json": {"schema": schema}}}

    spec = {
        "openapi": "3.0.3", "info": {"title": "items", "version": "1"},
        "paths": {
            "/items": {"get": {"operationId": "listItems", "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": {"description": "items", **answer({"type": "array", "items": ITEM})},
                              "400": {"description": "bad input", **answer(ERROR)}}}},
            "/items/{id}": {"get": {"operationId": "getItem", "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
                "responses": {"200": {"description": "an item", **answer(ITEM)},
                              "400": {"description": "bad input", **answer(ERROR)},
                              "404": {"description": "no such item", **answer(ERROR)}}}},
        },
    }
    if ID_MAX is not None:
        spec["paths"]["/items/{id}"]["get"]["parameters"][0]["schema"]["maximum"] = ID_MAX
    if STOCK:
        stock = {"type": "object", "required": ["id", "count"],
                 "properties": {"id": ITEM_ID, "count": STOCK_LEVEL["properties"]["count"]}}
        item = [{"name": "id", "in": "path", "required": True, "schema": ITEM_ID}]
        spec["paths"]["/stock/{id}"] = {
            "get": {"operationId": "getStock", "parameters": item,
                    "responses": {"200": {"description": "the stock", **answer(stock)},
                                  "400": {"description": "bad input", **answer(ERROR)},
                                  "404": {"description": "no such item", **answer(ERROR)}}},
            "put": {"operationId": "setStock", "parameters": item, "requestBody": {"required": True, "content": {
                "application/json": {"schema": STOCK_LEVEL}}},
                    "responses": {"200": {"description": "set", **answer(stock)},
                                  "400": {"description": "bad input", **answer(ERROR)},
                                  "404": {"description": "no such item", **answer(ERROR)}}}}
    if STOCK_FROM:
        spec["paths"]["/orders"] = {"post": {
            "operationId": "addOrder", "requestBody": {"required": True, "content": {"application/json": {
                "schema": ORDER}}},
            "responses": {"201": {"description": "ordered", **answer(ORDER)},
                          "400": {"description": "bad input", **answer(ERROR)}}}}
    if WRITES:
        spec["paths"]["/items"]["post"] = {
            "operationId": "addItem", "requestBody": {"required": True, "content": {"application/json": {
                "schema": NEW_ITEM}}},
            "responses": {"201": {"description": "added", **answer(ITEM)},
                          "400": {"description": "bad input", **answer(ERROR)}}}
    if DECLARED:
        spec["servers"] = [{"url": DECLARED}]
    if API_KEY:
        spec["components"] = {"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}}
        spec["security"] = [{"key": []}]
        for path in spec["paths"].values():
            path["get"]["responses"]["401"] = {"description": "no key", **answer(ERROR)}
    return spec


def swagger2() -> dict:
    return {
        "swagger": "2.0", "info": {"title": "items", "version": "1"}, "basePath": DECLARED or "/",
        "produces": ["application/json"],
        "paths": {
            "/items": {"get": {"operationId": "listItems", "parameters": [
                {"name": "limit", "in": "query", "type": "integer", "minimum": 1, "maximum": 100}],
                "responses": {"200": {"description": "items", "schema": {"type": "array", "items": ITEM}},
                              "400": {"description": "bad input", "schema": ERROR}}}},
            "/items/{id}": {"get": {"operationId": "getItem", "parameters": [
                {"name": "id", "in": "path", "required": True, "type": "integer", "minimum": 0}],
                "responses": {"200": {"description": "an item", "schema": ITEM},
                              "400": {"description": "bad input", "schema": ERROR},
                              "404": {"description": "no such item", "schema": ERROR}}}},
        },
    }


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            return self._send(200, {"ok": True})
        if API_KEY and self.headers.get("X-API-Key") != API_KEY:
            return self._send(401, {"error": "missing or wrong API key"})
        if url.path == "/openapi.json":
            return self._send(200, swagger2() if SPEC_KIND == "swagger2" else openapi3())
        if not url.path.startswith(BASE + "/"):
            return self._send(404, {"error": "not found"})
        path = url.path[len(BASE):]
        if path == "/items":
            try:
                limit = int(parse_qs(url.query, keep_blank_values=True).get("limit", ["10"])[0])
            except ValueError:
                return self._send(400, {"error": "limit must be an integer"})
            if not 1 <= limit <= 100:
                return self._send(400, {"error": "limit must be from 1 to 100"})
            items = list(ITEMS.values())[: max(0, limit)]
            return self._send(200, [{**i, "id": str(i["id"])} for i in items] if DRIFT else items)
        if match := re.fullmatch(r"/items/([^/]+)", path):
            try:
                number = int(match[1])
            except ValueError:
                return self._send(400, {"error": "id must be an integer"})
            if CRASH and number == 0:
                raise RuntimeError("item 0 crashes the handler")  # http.server closes the connection, no answer
            if SERVER_ERRORS and number > 1000:
                return self._send(500, {"error": "id overflows the item table"})
            if ID_MAX is not None and number > ID_MAX:
                return self._send(500, {"error": "integer out of range"})  # the database's error, let through
            item = ITEMS.get(number)
            return self._send(200, item) if item else self._send(404, {"error": "no such item"})
        if STOCK and path.startswith("/stock/"):
            item = self._stock_item(path)
            return None if item is None else self._send(200, {"id": item, "count": STOCK_COUNTS[item]})
        return self._not_allowed() if self._allowed(path) else self._send(404, {"error": "not found"})

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path[len(BASE):]
        if not STOCK or not path.startswith("/stock/"):
            return self._not_allowed()
        item = self._stock_item(path)
        if item is None:
            return
        body = self._json()
        count = body.get("count") if isinstance(body, dict) else None
        if type(count) is not int or not 0 <= count <= 1000:
            return self._send(400, {"error": "count: an integer from 0 to 1000 is required"})
        STOCK_COUNTS[item] = count
        return self._send(200, {"id": item, "count": count})

    def _stock_item(self, path: str) -> int | None:
        """The item of /stock/{id}, or None once a 400 or 404 is sent."""
        try:
            item = int(path.removeprefix("/stock/"))
        except ValueError:
            self._send(400, {"error": "id must be an integer"})
            return None
        if item not in STOCK_COUNTS:
            self._send(404, {"error": "no such item"})
            return None
        return item

    def _json(self) -> object:
        try:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            return None

    def _order(self) -> None:
        body = self._json()
        valid = isinstance(body, dict) and all(type(body.get(k)) is int for k in ("item", "quantity"))
        if not valid or not 1 <= body["item"] <= 5 or not 1 <= body["quantity"] <= 100:
            return self._send(400, {"error": "item (1 to 5) and quantity (1 to 100) are required"})
        with urllib.request.urlopen(f"{STOCK_FROM}{BASE}/stock/{body['item']}", timeout=10) as answer:
            count = json.load(answer)["count"]
        if count < body["quantity"]:
            return self._send(409, {"error": f"only {count} in stock"})  # not in the document: a finding
        return self._send(201, {"item": body["item"], "quantity": body["quantity"]})

    def do_POST(self) -> None:
        if STOCK_FROM and urlsplit(self.path).path == BASE + "/orders":
            return self._order()
        if not WRITES or urlsplit(self.path).path != BASE + "/items":
            return self._not_allowed()
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if WRITES == "lax":  # takes whatever it is sent
            return self._created("new item")
        try:
            body = json.loads(data)
        except ValueError:
            return self._send(400, {"error": "the body is not JSON"})
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            return self._send(400, {"error": "name: a non-empty string is required"})
        if SERVER_ERRORS and len(body["name"]) > 5:
            return self._send(500, {"error": "name overflows its column"})
        return self._created(body["name"])

    def _created(self, name: str) -> None:
        """A new item, kept: GET /items/{id} finds it."""
        with ADDING:
            number = len(ITEMS) + 1
            ITEMS[number] = {"id": number, "name": name}
        self._send(201, ITEMS[number])

    def __getattr__(self, name: str) -> object:
        if name.startswith("do_"):  # any other method: 405, as web frameworks answer (http.server says 501)
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        """405 with the methods the document gives the path (`Allow`), as web frameworks answer; 404 off its paths."""
        url = urlsplit(self.path).path
        allowed = self._allowed(url[len(BASE):]) if url.startswith(BASE + "/") else set()
        if not allowed:
            return self._send(404, {"error": "not found"})
        return self._send(405, {"error": "method not allowed"}, {"Allow": ", ".join(sorted(allowed))})

    @staticmethod
    def _allowed(path: str) -> set[str]:
        """The methods the document gives `path` (under the base path)."""
        allowed = set()
        for template, operations in openapi3()["paths"].items():
            if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
                allowed.update(method.upper() for method in operations)
        return allowed

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"items: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
