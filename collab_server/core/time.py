"""The one time format: ISO-8601 in UTC with a ``Z`` suffix (``2026-01-02T03:04:05.678Z``).

Everything the server stamps (comments' ``createdAt``, tokens' ``created_at``, file ids'
``created_at``, …) is produced by :func:`now_iso` or :func:`iso`, and read back by
:func:`parse_iso`, so no two concerns write times in different shapes. ``timespec`` is the
precision: comments use milliseconds (several per second are ordered by it), accounts
seconds (what their API has always shown).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

Precision = Literal["seconds", "milliseconds"]


def iso(moment: dt.datetime | float, timespec: Precision = "milliseconds") -> str:
    """``moment`` (an aware datetime, or a POSIX timestamp) as ISO-8601 UTC with ``Z``."""
    if isinstance(moment, int | float):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone; pass an aware one")
    return moment.astimezone(dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso(timespec: Precision = "milliseconds") -> str:
    """The current time as ISO-8601 UTC with ``Z``."""
    return iso(dt.datetime.now(dt.UTC), timespec)


def parse_iso(text: str) -> dt.datetime:
    """An aware UTC datetime from ISO-8601 text (``Z`` or an offset; a time without a zone is
    taken as UTC). Raises ``ValueError`` for anything else."""
    if not isinstance(text, str):
        raise ValueError("an ISO-8601 time is a string")
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
