"""Small helpers shared by the REST handlers: reading JSON bodies with clear 400s.

Every JSON body a handler of ours reads goes through :func:`parse_json` (or
:func:`json_object`, which also wants an object), so each rule below holds everywhere:

* at most :data:`MAX_JSON_BODY` bytes (413);
* valid UTF-8 and valid JSON (400);
* nesting at most :data:`MAX_JSON_DEPTH` deep (400): deeper input would exhaust the
  parser's recursion (a 500) and no API of ours needs it;
* no invalid Unicode: JSON may spell a lone UTF-16 surrogate (``"\\ud800"``), which Python
  accepts as a string but no UTF-8 file or database can hold; stored, it would make every
  later save of the notebook fail. Refused with 400.
"""

from __future__ import annotations

import json
from typing import Any

from tornado import web

MAX_JSON_BODY = 1024 * 1024
MAX_JSON_DEPTH = 64


def parse_json(body: bytes, what: str = "The request body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``body`` parsed as JSON, or a 400/413 that says what is wrong with it."""
    if len(body) > MAX_JSON_BODY:
        raise web.HTTPError(413, f"{what} is larger than {MAX_JSON_BODY} bytes")
    if not body.strip():
        raise web.HTTPError(400, f"{what} is empty; send a JSON object")
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise web.HTTPError(400, f"{what} is not valid JSON: {e}") from e
    except RecursionError as e:
        raise web.HTTPError(400, f"{what} is nested too deeply") from e
    problem = json_problem(value, max_depth)
    if problem:
        raise web.HTTPError(400, f"{what} {problem}")
    return value


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``value`` (parsed JSON) is not acceptable input, or None. Iterative: a deep value
    cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not is_valid_unicode(item):
                return "contains invalid Unicode (a lone surrogate such as \\ud800)"
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                return f"is nested more than {max_depth} levels deep"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not is_valid_unicode(key):
                        return "contains invalid Unicode (a lone surrogate such as \\ud800)"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def is_valid_unicode(text: str) -> bool:
    """Can ``text`` be written as UTF-8 (no lone surrogates)?"""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_object(handler: web.RequestHandler) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413 that says what is wrong with it."""
    value = parse_json(handler.request.body or b"")
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
