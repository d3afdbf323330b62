"""Compatibility: the JSON body helpers moved to :mod:`collab_server.core.http`.

Kept for handlers that do not yet use :class:`~collab_server.core.http.CollabHandlerMixin`
(their errors must still be ``web.HTTPError``); new code imports ``core.http``.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from .core.errors import CollabError
from .core.http import (
    MAX_JSON_BODY,
    MAX_JSON_DEPTH,
    is_valid_unicode,
    json_problem,
    to_http_error,
)
from .core.http import json_object as _json_object
from .core.http import parse_json as _parse_json
from .core.http import string_field as _string_field

__all__ = [
    "MAX_JSON_BODY",
    "MAX_JSON_DEPTH",
    "is_valid_unicode",
    "json_object",
    "json_problem",
    "parse_json",
    "string_field",
]


def parse_json(body: bytes, what: str = "The request body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    try:
        return _parse_json(body, what, max_depth)
    except CollabError as e:
        raise to_http_error(e) from e


def json_object(handler: web.RequestHandler) -> dict[str, Any]:
    try:
        return _json_object(handler)
    except CollabError as e:
        raise to_http_error(e) from e


def string_field(
    body: dict[str, Any], name: str, *, required: bool = True, max_length: int = 10_000
) -> str:
    try:
        return _string_field(body, name, required=required, max_length=max_length)
    except CollabError as e:
        raise to_http_error(e) from e
