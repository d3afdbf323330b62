"""One error model for the whole server: a few domain errors, mapped once to HTTP and close codes.

Domain code (rooms, comments, kernels, versions, …) raises these and knows nothing of HTTP or
websockets; the REST base handler turns them into ``{"message": …}`` answers with the status
below, and the websocket handler into close codes. Messages are written for the person who made
the request: they never carry a server path, a token or a stack trace.

Like starlette's ``HTTPException``/``WebSocketException`` pair, the mapping lives in one place
(:func:`http_status`, :func:`close_code`) so the two transports can never drift apart.
"""

from __future__ import annotations

from typing import ClassVar


class CollabError(Exception):
    """Base of every error a request may legitimately end with."""

    status: ClassVar[int] = 400
    close: ClassVar[int] = 4400  # websocket close code when the error ends a connection
    reason: ClassVar[str] = "invalid"  # a stable machine-readable word for clients

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Invalid(CollabError):
    """The request is malformed or breaks a rule of the API (400)."""


class Unauthenticated(CollabError):
    status, close, reason = 401, 4401, "unauthenticated"


class Forbidden(CollabError):
    status, close, reason = 403, 4403, "forbidden"


class NotFound(CollabError):
    status, close, reason = 404, 4404, "not_found"


class Conflict(CollabError):
    status, close, reason = 409, 4409, "conflict"


class TooLarge(CollabError):
    status, close, reason = 413, 1009, "too_large"


class Unsupported(CollabError):
    """Not a kind of thing this route handles (415), e.g. a text file where a notebook is due."""

    status, close, reason = 415, 4415, "unsupported"


class Unprocessable(CollabError):
    """Well-formed but invalid content (422), e.g. a notebook that fails nbformat validation."""

    status, close, reason = 422, 4422, "unprocessable"


class RateLimited(CollabError):
    status, close, reason = 429, 1008, "rate_limited"


class NotSupportedByProvider(CollabError):
    """The operator's provider lacks a capability this route needs (501)."""

    status, close, reason = 501, 4501, "not_implemented"


class Unavailable(CollabError):
    """A dependency (the database, the store) cannot serve now; try again (503)."""

    status, close, reason = 503, 1011, "unavailable"


ERRORS: tuple[type[CollabError], ...] = (
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    Unsupported,
    Unprocessable,
    RateLimited,
    NotSupportedByProvider,
    Unavailable,
)


def http_status(error: CollabError) -> int:
    return error.status


def close_code(error: CollabError) -> int:
    return error.close


def from_close_code(code: int, message: str) -> CollabError:
    """The error a websocket close code stands for (:class:`Invalid` for a code of no class
    here, such as 4500), for code that gets a close code from a lower layer."""
    for kind in ERRORS:
        if kind.close == code:
            return kind(message)
    return Invalid(message)
