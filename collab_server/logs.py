"""Keeping secrets (and expected answers) out of the error log.

Tokens arrive in ``?token=`` query strings (what JupyterLab sends on websockets) and in
``Authorization`` headers. tornado and jupyter_server put request URLs in warnings and errors
(a 403 line names the full URL), so a filter on every log handler of the server rewrites any
record that carries a secret before it is written.

jupyter_server logs every 5xx answer at error level with request headers. Two of ours are
expected, not failures of the server: 501 (the operator's provider does not offer the feature
asked for) and 503 (the database is busy; the answer says when to retry). :func:`request_logger`
logs those as one warning line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from jupyter_server.prometheus.log_functions import prometheus_log_method

_PATTERNS = [
    # token=…, auth=…, … in query strings and form bodies
    (re.compile(r"((?:^|[?&;\s'\"])(?:token|auth|access_token|password)=)[^&\s'\";]+", re.I),
     r"\1[secret]"),
    # Authorization: Bearer …
    (re.compile(r"((?:bearer|token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I), r"\1[secret]"),
]  # fmt: skip


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretScrubbingFilter(logging.Filter):
    """Rewrites a record's message (with its arguments) when it contains a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # The handler's formatter would render the traceback after this filter ran, with
            # any token in an exception message intact: render (and scrub) it here; formatters
            # reuse ``exc_text`` when it is set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def install(logger: logging.Logger) -> None:
    """Add the filter to ``logger``'s handlers and to the loggers that propagate into it."""
    secret_filter = SecretScrubbingFilter()
    seen: set[int] = set()
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if id(handler) not in seen and not any(
                isinstance(f, SecretScrubbingFilter) for f in handler.filters
            ):
                handler.addFilter(secret_filter)
            seen.add(id(handler))
        current = current.parent if current.propagate else None
    for name in ("tornado.access", "tornado.application", "tornado.general", "collab_server"):
        named = logging.getLogger(name)
        if not any(isinstance(f, SecretScrubbingFilter) for f in named.filters):
            named.addFilter(secret_filter)


EXPECTED_5XX = frozenset({501, 503})


def request_logger(inner: Callable[[Any], None]) -> Callable[[Any], None]:
    """jupyter_server's request log (``inner``), with :data:`EXPECTED_5XX` answers as one
    warning line each (no headers, no error level that pages an operator)."""

    def log_request(handler: Any) -> None:
        status = handler.get_status()
        if status not in EXPECTED_5XX:
            inner(handler)
            return
        logger = getattr(handler, "log", None) or logging.getLogger("tornado.access")
        request = handler.request
        path = request.uri.split("?", 1)[0]  # the query may hold a secret: left out
        logger.warning(
            "%d %s %s %.2fms", status, request.method, path, 1000.0 * request.request_time()
        )
        prometheus_log_method(handler)  # the request still counts in the metrics

    return log_request
