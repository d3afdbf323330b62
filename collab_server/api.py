"""Small helpers shared by the REST handlers: reading JSON bodies with clear 400s."""

from __future__ import annotations

import json
from typing import Any

from tornado import web

MAX_JSON_BODY = 1024 * 1024


def json_object(handler: web.RequestHandler) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413 that says what is wrong with it."""
    body = handler.request.body or b""
    if len(body) > MAX_JSON_BODY:
        raise web.HTTPError(413, f"The request body is larger than {MAX_JSON_BODY} bytes")
    if not body.strip():
        raise web.HTTPError(400, "The request body is empty; send a JSON object")
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise web.HTTPError(400, f"The request body is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise web.HTTPError(400, "The request body must be a JSON object")
    return value


def string_field(
    body: dict[str, Any], name: str, *, required: bool = True, max_length: int = 10_000
) -> str:
    """``body[name]`` as a string, or a 400 naming the field."""
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise web.HTTPError(400, f'"{name}" must be a string')
    if len(value) > max_length:
        raise web.HTTPError(400, f'"{name}" is longer than {max_length} characters')
    return value
