"""Who a run is shared with: principals, pure (no I/O).

A run's outputs are the runner's (DESIGN section 12); its owner may share them with one
person (``user:NAME``, their persistent id), a group (``group:NAME``, through the provider's
``Groups`` capability) or every signed-in person (``signed-in``). Never ``everyone``: a run
was made under someone's identity, so it is not for people who are not signed in.

Sharing a run never widens who sees the app: a reader must still be allowed ``read`` on
``apps:{id}`` (checked by the service, not here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..auth.provider import EVERYONE, SIGNED_IN
from ..core.errors import Invalid, Unprocessable

# A name: printable, no whitespace, not too long (the providers' own rules are stricter).
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")
KINDS = ("user", "group")
MAX_SHARES = 200


def check_principal(value: Any, owner: str) -> str:
    """``value`` as a principal a run may be shared with, or a 400/422 saying why not."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid('Send {"principal": "user:NAME"}, "group:NAME" or "signed-in"')
    principal = value.strip()
    if principal == SIGNED_IN:
        return principal
    if principal == EVERYONE:
        raise Unprocessable(
            'A run can be shared with signed-in people at most ("signed-in"), not "everyone"'
        )
    kind, colon, name = principal.partition(":")
    if not colon or kind not in KINDS:
        raise Unprocessable(
            f'"{_shown(principal)}" is not a principal: use "user:NAME", "group:NAME" or '
            '"signed-in"'
        )
    if not _NAME.fullmatch(name):
        raise Unprocessable(f'"{_shown(principal)}": the {kind} name is empty or not valid')
    if kind == "user" and name == owner:
        raise Unprocessable("You ran it: it is yours already")
    return principal


def principals_of(username: str, signed_in: bool, groups: Iterable[str]) -> list[str]:
    """The principals a caller answers to: themselves, their groups, ``signed-in``."""
    found = [f"user:{username}", *(f"group:{g}" for g in groups)]
    if signed_in:
        found.append(SIGNED_IN)
    return found


def _shown(text: str) -> str:
    # Echo what was sent, shortened and printable, so the message stays readable.
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return cleaned if len(cleaned) <= 60 else cleaned[:57] + "…"
