"""The messages a producer returns, as the Pact verifier receives them (body, content type, metadata), and the request
of a synchronous message as a producer receives it."""

from __future__ import annotations

import base64
import json
from typing import Any

from harness.contracts.pactfiles import is_sync_message
from harness.contracts.states import Message

PACT_PYTHON_MESSAGE = frozenset({"contents", "metadata", "content_type"})  # pact-python's own `pact.types.Message`


def encode_message(produced: Any, declared: dict[str, Any] | None = None
                   ) -> tuple[bytes, str | None, dict[str, Any]]:
    """A producer's return value -> (body bytes, content type, metadata). `declared` is the pact's interaction:
    bytes take its content type when the producer names none (binary contents have no type of their own).

    pact-python's own message, `{"contents": bytes, "metadata": {...} | None, "content_type": str | None}`, is
    passed on as pact-python's Verifier passes it: the bytes as they are, the content type as given (None: none
    is sent) and added to the metadata as `contentType` when that has none.

    Raises:
        TypeError: pact-python's message shape with `contents` that are not bytes (pact-python refuses it too).
    """
    if _is_pact_python_message(produced):
        contents = produced["contents"]
        if not isinstance(contents, (bytes, bytearray)):
            raise TypeError(f"the producer returned pact-python's message shape ({{'contents', 'metadata', "
                            f"'content_type'}}) with contents of type {type(contents).__name__}; pact-python's "
                            "Verifier needs bytes there (e.g. json.dumps(body).encode()); or return the body "
                            "itself, or harness.contracts.Message(body, metadata)")
        metadata = dict(produced.get("metadata") or {})
        content_type = produced.get("content_type")
        if content_type and "contentType" not in metadata:
            metadata["contentType"] = content_type
        return bytes(contents), content_type, metadata
    if isinstance(produced, tuple) and len(produced) == 2 and isinstance(produced[1], dict):
        produced = Message(produced[0], produced[1])
    message = produced if isinstance(produced, Message) else Message(produced)
    metadata = dict(message.metadata)
    content_type = message.content_type or metadata.get("contentType") or metadata.get("content-type")
    body = message.body
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
        content_type = content_type or _declared_type(declared) or "application/octet-stream"
    elif isinstance(body, str):
        data, content_type = body.encode(), content_type or "text/plain"
    else:
        data, content_type = json.dumps(body).encode(), content_type or "application/json"
    metadata.setdefault("contentType", content_type)
    return data, content_type, metadata


def _is_pact_python_message(produced: Any) -> bool:
    """pact-python's message dict: `contents` (bytes) and nothing but `metadata` and `content_type` beside it. A
    JSON body has no bytes in it; a dict with non-bytes contents is pact-python's shape only when it also has a
    `content_type` key (which a JSON message body that happens to have a `contents` field is not taken for)."""
    if not (isinstance(produced, dict) and "contents" in produced and set(produced) <= PACT_PYTHON_MESSAGE):
        return False
    return isinstance(produced["contents"], (bytes, bytearray)) or "content_type" in produced


def request_message(request: dict[str, Any] | None) -> Message:
    """The request of a synchronous message, as its producer gets it: `{"contents": {"content", "contentType",
    "encoded"}, "metadata"}` -> Message(body: dict/list for JSON, str for text, bytes when base64-encoded)."""
    request = request or {}
    metadata = dict(request.get("metadata") or {})
    contents = request.get("contents")
    if not (isinstance(contents, dict) and "content" in contents):
        return Message(contents, metadata)
    content, content_type = contents.get("content"), contents.get("contentType") or metadata.get("contentType")
    encoded = str(contents.get("encoded") or "").lower()
    if isinstance(content, str) and encoded == "base64":
        content = base64.b64decode(content)
    elif isinstance(content, str) and (encoded == "json" or "json" in str(content_type or "")):
        try:
            content = json.loads(content)
        except ValueError:
            pass  # a JSON content type with text that is not JSON: the producer sees the text
    return Message(content, metadata, content_type)


def _declared_type(interaction: dict[str, Any] | None) -> str | None:
    if not interaction:
        return None
    if is_sync_message(interaction):  # the reply is what the verifier checks
        interaction = (interaction.get("response") or [{}])[0]
    metadata = interaction.get("metadata") or interaction.get("metaData") or {}
    contents = interaction.get("contents") if isinstance(interaction.get("contents"), dict) else {}
    return metadata.get("contentType") or metadata.get("content-type") or contents.get("contentType")

