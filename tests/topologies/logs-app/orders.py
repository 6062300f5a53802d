"""An orders service with one planted bug, written twice: as a FastAPI app (run by uvicorn) and as a Flask app (run
by gunicorn or by werkzeug's development server), so that the fuzzing tests see each server's own logging of a 500:

    POST /orders with a quantity over 90 raises ValueError in the handler: a 500 and a traceback in the log.

Every other POST /orders is answered 201, or 409 for an item ordered before, so a fuzzing run sends many requests to
that path with other statuses around the failing ones. GET /orders/{id} answers 200 or 404. The OpenAPI document
(the same for both apps, served at /openapi.json) documents everything but the bug.
"""

import itertools

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ORDER = {"type": "object", "required": ["id", "item", "quantity"], "properties": {
    "id": {"type": "integer"}, "item": {"type": "string"}, "quantity": {"type": "integer"}}}
NEW_ORDER = {"type": "object", "required": ["item", "quantity"], "additionalProperties": False, "properties": {
    "item": {"type": "string", "minLength": 1, "maxLength": 10},
    "quantity": {"type": "integer", "minimum": 1, "maximum": 100}}}


def _answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI = {
    "openapi": "3.0.3", "info": {"title": "orders", "version": "1"},
    "paths": {
        "/orders": {"post": {
            "operationId": "addOrder",
            "requestBody": {"required": True, "content": {"application/json": {"schema": NEW_ORDER}}},
            "responses": {"201": _answer("ordered", ORDER), "400": _answer("not an order", ERROR),
                          "409": _answer("the item was ordered before", ERROR)}}},
        "/orders/{id}": {"get": {
            "operationId": "getOrder",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _answer("the order", ORDER), "404": _answer("no such order", ERROR)}}},
    },
}

ORDERS: dict[int, dict] = {}
IDS = itertools.count(1)


def add_order(body: object) -> tuple[int, dict]:
    """(status, answer) of POST /orders; raises ValueError for a quantity over 90 (the planted bug)."""
    if not isinstance(body, dict) or set(body) != {"item", "quantity"} or not isinstance(body["item"], str) \
            or not 1 <= len(body["item"]) <= 10 or type(body["quantity"]) is not int \
            or not 1 <= body["quantity"] <= 100:
        return 400, {"error": "an order is {item: 1-10 characters, quantity: 1-100}"}
    if body["quantity"] > 90:
        raise ValueError(f"quantity {body['quantity']} overflows the stock table")
    if any(order["item"] == body["item"] for order in ORDERS.values()):
        return 409, {"error": f"{body['item']} was ordered before"}
    order = {"id": next(IDS), **body}
    ORDERS[order["id"]] = order
    return 201, order


def get_order(text: str) -> tuple[int, dict]:
    order = ORDERS.get(int(text)) if text.lstrip("-").isdigit() else None
    return (200, order) if order else (404, {"error": "no such order"})


def _fastapi():  # noqa: ANN202
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/openapi.json")
    def openapi() -> dict:
        return OPENAPI

    @app.get("/health")
    def health() -> dict:
        return {"ok": True}

    @app.post("/orders")
    async def orders(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, answer = add_order(body)
        return JSONResponse(answer, status_code=status)

    @app.get("/orders/{order_id}")
    def order(order_id: str) -> JSONResponse:
        status, answer = get_order(order_id)
        return JSONResponse(answer, status_code=status)

    return app


def _flask():  # noqa: ANN202
    from flask import Flask, jsonify, request

    app = Flask("orders")

    @app.get("/openapi.json")
    def openapi():  # noqa: ANN202
        return OPENAPI

    @app.get("/health")
    def health():  # noqa: ANN202
        return {"ok": True}

    @app.post("/orders")
    def orders():  # noqa: ANN202
        status, answer = add_order(request.get_json(silent=True))
        return jsonify(answer), status

    @app.get("/orders/<order_id>")
    def order(order_id: str):  # noqa: ANN202
        status, answer = get_order(order_id)
        return jsonify(answer), status

    return app


def __getattr__(name: str) -> object:  # each app is built when its server asks for it
    if name == "fastapi_app":
        return _fastapi()
    if name == "flask_app":
        return _flask()
    raise AttributeError(name)
