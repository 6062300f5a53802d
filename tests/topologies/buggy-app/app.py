"""A deliberately buggy service for the fuzzing tests, with three planted bugs (and an honest OpenAPI document):

1. GET /fraction/{n}: a 500 on the edge case n == 100, the documented maximum (an off-by-one lookup);
2. GET /stats: `count` is documented as an integer but sent as a string (the response violates its schema);
3. GET /items/{id}: a 500 only for an item that exists; ids are random UUIDs, so only a sequence that reads the
   id POST /items answered (the spec's `links`) reaches it.
"""

import json
import re
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ITEMS: dict[str, dict] = {}
FRACTIONS = [n / 100 for n in range(100)]  # bug 1: 0..99, while 0..100 is documented

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "buggy", "version": "1.0"},
    "paths": {
        "/fraction/{n}": {"get": {
            "operationId": "getFraction",
            "parameters": [{"name": "n", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 100}}],
            "responses": {"200": {"description": "n / 100", "content": {"application/json": {"schema": {
                "type": "object", "required": ["fraction"], "properties": {"fraction": {"type": "number"}}}}}},
                "400": {"$ref": "#/components/responses/Invalid"}}}},
        "/stats": {"get": {
            "operationId": "getStats",
            "responses": {"200": {"description": "counts", "content": {"application/json": {"schema": {
                "type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}}}}}}},
        "/items": {"post": {
            "operationId": "createItem",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 20}}}}}},
            "responses": {
                "201": {"description": "created", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Item"}}},
                    "links": {"GetItem": {"operationId": "getItem", "parameters": {"id": "$response.body#/id"}}}},
                "400": {"description": "invalid", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}}}},
        "/items/{id}": {"get": {
            "operationId": "getItem",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {
                "200": {"description": "the item", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Item"}}}},
                "400": {"$ref": "#/components/responses/Invalid"},
                "404": {"description": "no such item", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}}}},
    },
    "components": {
        "schemas": {"Item": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}}}},
        "responses": {"Invalid": {"description": "a path parameter that is not a number in range", "content": {
            "application/json": {"schema": {"type": "object", "required": ["error"],
                                            "properties": {"error": {"type": "string"}}}}}}},
    },
}


def _number(text: str, low: int, high: int) -> int | None:
    return int(text) if re.fullmatch(r"-?[0-9]{1,7}", text) and low <= int(text) <= high else None


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/openapi.json":
            return self._send(200, OPENAPI)
        if path == "/health":
            return self._send(200, {"status": "ok"})
        if path == "/stats":
            return self._send(200, {"count": str(len(ITEMS))})  # bug 2: a string, documented as an integer
        if match := re.fullmatch(r"/fraction/([^/]*)", path):
            n = _number(match[1], 0, 100)
            if n is None:
                return self._send(400, {"error": "n must be an integer from 0 to 100"})
            try:
                return self._send(200, {"fraction": FRACTIONS[n]})
            except IndexError:
                return self._send(500, {"error": "IndexError: list index out of range"})
        if match := re.fullmatch(r"/items/([^/]*)", path):
            try:
                item_id = str(uuid.UUID(match[1]))
            except ValueError:
                return self._send(400, {"error": "id must be a UUID"})
            item = ITEMS.get(item_id)
            if item is None:
                return self._send(404, {"error": "no such item"})
            return self._send(200, {"id": item["id"], "name": item["title"]}) if "title" in item \
                else self._send(500, {"error": "KeyError: 'title'"})  # bug 3: only for an item that exists
        return self._not_here()

    def do_POST(self) -> None:
        if self.path != "/items":
            return self._not_here()
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
            name = body["name"]
            if set(body) != {"name"} or not isinstance(name, str) or not 1 <= len(name) <= 20:
                raise ValueError
        except (ValueError, TypeError, KeyError):
            return self._send(400, {"error": "body must be {\"name\": 1-20 characters}"})
        item = {"id": str(uuid.uuid4()), "name": name}
        ITEMS[item["id"]] = item
        return self._send(201, item)

    def __getattr__(self, name: str) -> object:
        if name.startswith("do_"):  # any other method: 405 with `Allow`, as web frameworks answer (not 501)
            return self._not_here
        raise AttributeError(name)

    def _not_here(self) -> None:
        """405 with `Allow` on a documented path, else 404."""
        allowed = self._allowed()
        if not allowed:
            return self._send(404, {"error": "no route"})
        return self._send(405, {"error": "method not allowed"}, {"Allow": allowed})

    def _allowed(self) -> str:
        """The methods the document gives the request's path."""
        path = self.path.split("?")[0]
        return ", ".join(method.upper() for template, operations in OPENAPI["paths"].items()
                         if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path) for method in operations)

    def log_message(self, format: str, *args: object) -> None:
        print(f"buggy: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
