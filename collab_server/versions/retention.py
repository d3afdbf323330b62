"""Retention: which automatic versions to drop as they age. Pure; the store applies it.

The rule (Google Docs' and Time Machine's shape): keep every version younger than a day;
between a day and a week keep the newest version of each hour; after a week keep the newest of
each day. Only the kinds listed as thinnable are ever dropped (by default ``auto``, ``save``
and ``external``: JupyterLab's autosave sends ``save`` every two minutes, so saves pile up like
automatic versions). Never dropped: labelled versions, pinned ones (a published copy points at
them), ``restore`` and ``publish`` versions, and the newest version of the file (the head,
which the next version's "same as head?" check needs).

Buckets are UTC hours and days. Rows are named by their per-file ``number``, which is unique
even where two rows share the same content id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    keep_all_for: timedelta = timedelta(days=1)
    hourly_until: timedelta = timedelta(days=7)  # after this age, one per day
    thinnable_kinds: frozenset[str] = frozenset({"auto", "save", "external"})


@dataclass(frozen=True)
class RowInfo:
    number: int
    created: datetime  # aware, UTC
    kind: str
    labelled: bool = False
    pinned: bool = False


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_drop(rows: Iterable[RowInfo], now: datetime, policy: RetentionPolicy) -> list[int]:
    """The numbers of the rows to drop, in ascending order."""
    ordered = sorted(rows, key=lambda r: r.number)
    if not ordered:
        return []
    now = _utc(now)
    head = ordered[-1].number
    # Newest first, so the first row seen in a bucket is the one kept.
    kept_buckets: set[tuple[str, datetime]] = set()
    drop: list[int] = []
    for row in reversed(ordered):
        if row.labelled or row.pinned or row.kind not in policy.thinnable_kinds:
            continue  # kept for their own reason; they do not stand for their hour or day
        created = _utc(row.created)
        age = now - created
        if age < policy.keep_all_for:
            continue
        if age < policy.hourly_until:
            bucket = ("hour", created.replace(minute=0, second=0, microsecond=0))
        else:
            bucket = ("day", created.replace(hour=0, minute=0, second=0, microsecond=0))
        # The head is always kept, and being the newest it is its bucket's representative.
        if bucket in kept_buckets and row.number != head:
            drop.append(row.number)
        else:
            kept_buckets.add(bucket)
    return sorted(drop)
