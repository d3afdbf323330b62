"""The HTTP side of the error model, and reading JSON bodies with clear errors.

* :class:`CollabHandlerMixin` — put first in the bases of every REST handler of ours
  (``class H(CollabHandlerMixin, APIHandler)``). A :class:`~collab_server.core.errors.CollabError`
  escaping a handler becomes its status, ``{"message": …}`` (the same JSON jupyter_server writes
  for its own errors; a page handler renders its error page) and ``Retry-After`` when the error
  carries one. It is logged at info level as one line (method, path without the query string,
  status, message), never as "Uncaught exception" with a stack trace (nor as jupyter_server's
  "wrote error" warning): a bad request is not a server fault. Handlers therefore stay thin:
  they let domain errors propagate.
* :func:`to_http_error` — the same mapping for code that runs inside handlers we do not own
  (jupyter_server's, through the auth adapter), which only understand ``web.HTTPError``.
* :func:`whole_number` — every number a client sends (a query argument, a JSON field, a path
  segment) is read through it: a whole number within bounds, else 400 naming it. Python's
  integers have no limit but SQLite's are 64-bit; an unbounded one reaching a query was a 500.
* :func:`parse_json`, :func:`json_object`, :func:`string_field` — every JSON body a handler of
  ours reads goes through them, so each rule below holds everywhere:

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
import logging
import math
import re
from types import TracebackType
from typing import Any, overload

from jupyter_server.base.handlers import APIHandler
from tornado import web

from .errors import CollabError, Invalid, TooLarge

MAX_JSON_BODY = 1024 * 1024
MAX_JSON_DEPTH = 64
# Above any id, count, offset or version of ours; below SQLite's 64-bit integers.
MAX_WHOLE_NUMBER = 2**53
_WHOLE = re.compile(r"-?[0-9]{1,19}")


def whole_number(value: Any, name: str, low: int = 0, high: int = MAX_WHOLE_NUMBER) -> int:
    """``value`` (the text of a query argument, or a JSON value) as an ``int`` in
    ``[low, high]``; else :class:`Invalid` naming ``name``."""
    if isinstance(value, str):
        # int() also reads "1_000", " 7" and non-ASCII digits: plain decimal only.
        if not _WHOLE.fullmatch(value):
            raise Invalid(f'"{name}" must be a whole number')
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f'"{name}" must be a whole number')
    if not low <= value <= high:
        raise Invalid(f'"{name}" must be between {low} and {high}')
    return value


_log = logging.getLogger("collab_server")


def to_http_error(error: CollabError) -> web.HTTPError:
    """``error`` as tornado's ``HTTPError`` (same status and message), for handlers without
    :class:`CollabHandlerMixin`."""
    return web.HTTPError(error.status, error.message)


def retry_after_header(error: CollabError) -> str | None:
    """The ``Retry-After`` value (whole seconds, at least 1) for ``error``, or None."""
    if error.retry_after is None:
        return None
    return str(max(1, math.ceil(error.retry_after)))


class CollabHandlerMixin(web.RequestHandler):
    """Maps :class:`CollabError` to HTTP for a handler (see the module docstring)."""

    @overload
    def int_argument(
        self, name: str, default: int, low: int = 0, high: int = MAX_WHOLE_NUMBER
    ) -> int: ...

    @overload
    def int_argument(
        self, name: str, default: None, low: int = 0, high: int = MAX_WHOLE_NUMBER
    ) -> int | None: ...

    def int_argument(
        self, name: str, default: int | None, low: int = 0, high: int = MAX_WHOLE_NUMBER
    ) -> int | None:
        """Query argument ``name`` as a whole number in ``[low, high]`` (``default`` when
        absent); anything else answers 400 naming the argument and its bounds."""
        value = self.get_query_argument(name, None)
        return default if value is None else whole_number(value, name, low, high)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], CollabError):
            status_code = exc_info[1].status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info is not None and isinstance(exc_info[1], CollabError):
            error: CollabError = exc_info[1]
            retry_after = retry_after_header(error)
            if retry_after is not None:  # send_error cleared the headers: set it here
                self.set_header("Retry-After", retry_after)
            if isinstance(self, APIHandler):
                # The body jupyter_server writes for its own errors, without its warning
                # line: the refusal was already logged once, at info (log_exception).
                self.set_header("Content-Type", "application/json")
                self.finish(json.dumps({"message": error.message, "reason": None}))
                return
            http_error = web.HTTPError(error.status, error.message)
            kwargs["exc_info"] = (web.HTTPError, http_error, exc_info[2])
        super().write_error(status_code, **kwargs)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, CollabError):
            # The path only: a query string may carry a token.
            log = getattr(self, "log", _log)
            log.info(
                "%d %s %s: %s", value.status, self.request.method, self.request.path, value.message
            )
            return
        super().log_exception(typ, value, tb)


# -- JSON bodies ---------------------------------------------------------------------------


def parse_json(body: bytes, what: str = "The request body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``body`` parsed as JSON, or :class:`Invalid`/:class:`TooLarge` saying what is wrong."""
    if len(body) > MAX_JSON_BODY:
        raise TooLarge(f"{what} is larger than {MAX_JSON_BODY} bytes")
    if not body.strip():
        raise Invalid(f"{what} is empty; send a JSON object")
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Invalid(f"{what} is not valid JSON: {e}") from e
    except RecursionError as e:
        raise Invalid(f"{what} is nested too deeply") from e
    problem = json_problem(value, max_depth)
    if problem:
        raise Invalid(f"{what} {problem}")
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
    """The request body as a JSON object, or :class:`Invalid`/:class:`TooLarge`."""
    value = parse_json(handler.request.body or b"")
    if not isinstance(value, dict):
        raise Invalid("The request body must be a JSON object")
    return value


def string_field(
    body: dict[str, Any], name: str, *, required: bool = True, max_length: int = 10_000
) -> str:
    """``body[name]`` as a string, or :class:`Invalid` naming the field."""
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid(f'"{name}" must be a string')
    if len(value) > max_length:
        raise Invalid(f'"{name}" is longer than {max_length} characters')
    return value
