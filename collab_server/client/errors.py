"""The client's exceptions: what the server answered, as the Python exception it means.

* 401 → :class:`TokenRefused` (a :class:`PermissionError`): "your token was refused";
* 403 → :class:`Forbidden` (a :class:`PermissionError`);
* 404 → :class:`NotFound` (a :class:`FileNotFoundError`);
* anything else → :class:`ClientError`.

Every one is a :class:`ClientError` with ``.status`` (``None`` when the server was not
reached) and the server's own message. Messages never hold a token: :func:`scrub` removes
the caller's token from any text before it goes into an exception.
"""

from __future__ import annotations


class ClientError(Exception):
    """The server refused or failed a request; ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        #: A 404 for the route itself: this server has no such API (yet).
        self.route_missing = False

    def __str__(self) -> str:
        return self.message


class Forbidden(ClientError, PermissionError):
    """403: you may not do this (or see this notebook)."""


class TokenRefused(Forbidden):
    """401: no token was sent, or the server does not accept it."""


class NotFound(ClientError, FileNotFoundError):
    """404: no such notebook, thread, version or run."""


class RunFailed(ClientError):
    """An app run ended ``failed`` or ``timed_out``; ``run`` is the server's run record."""

    def __init__(self, message: str, run: dict[str, object]) -> None:
        super().__init__(message)
        self.run = run


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (a token) replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def error_for(status: int, message: str) -> ClientError:
    """The exception for an HTTP error ``status`` with the server's ``message``."""
    if status == 401:
        return TokenRefused(f"your token was refused: {message}", status)
    if status == 403:
        return Forbidden(message, status)
    if status == 404:
        return NotFound(message, status)
    return ClientError(message, status)
