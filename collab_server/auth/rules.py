"""The local accounts' rules for names and passwords, and their errors (a pure leaf module:
the store, the administration and the command line all check names the same way)."""

from __future__ import annotations

from ..core.errors import Invalid, Unprocessable

# The user requests without a token act as, when the operator allows anonymous access.
ANONYMOUS = "anonymous"

MIN_PASSWORD_LENGTH = 8

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


class AccountError(Invalid):
    """A request about accounts that cannot be done; the message is shown to the person (400)."""


class InvalidName(AccountError, Unprocessable):
    """A user or group name that breaks the naming rule (422)."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")


def check_name(name: str, what: str = "user name") -> str:
    """``name`` without surrounding blanks, or :class:`InvalidName` saying the rule."""
    name = name.strip()
    if not name or len(name) > 64 or not set(name.lower()) <= _NAME_OK or name != name.lower():
        raise InvalidName(
            f"A {what} is 1–64 lower-case letters, digits, '.', '_', '-' or '@' (got {name!r})"
        )
    return name
