"""Cron expressions for app schedules, and the loop that fires them.

Expressions are croniter's: five fields (minute … weekday), or six with seconds last
(``* * * * * */10``: every ten seconds), in UTC. ``min_interval`` keeps people from firing
a run every second on a shared server (the operator sets it; tests set it to 0).

A schedule's JSON (:func:`schedule_json`) adds ``next``, its next firing, so a page can say when
it runs without parsing cron itself.

The loop knows nothing of runs: it asks ``active()`` for the schedules and calls
``fire(schedule)`` for each one due. A schedule fires at most once per wake-up however many
times it was due while the server was down (missed runs are not replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from ..core.errors import Invalid
from ..core.time import iso, parse_iso
from .store import Schedule

log = logging.getLogger("collab_server.apps")

MAX_CRON = 200


def check_cron(expression: object, min_interval: float) -> str:
    """``expression`` if it is a valid cron expression firing at most every
    ``min_interval`` seconds; else :class:`Invalid` saying why."""
    if not isinstance(expression, str) or not expression.strip() or len(expression) > MAX_CRON:
        raise Invalid('"cron" must be a cron expression such as "0 6 * * *"')
    expression = " ".join(expression.split())
    if len(expression.split()) not in (5, 6):
        raise Invalid(
            '"cron" must have 5 fields (minute hour day month weekday), or 6 with seconds'
        )
    try:
        it = croniter(expression, dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        times = [it.get_next(dt.datetime) for _ in range(5)]
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as e:
        raise Invalid(f'"cron" is not a valid cron expression: {e}') from None
    shortest = min((b - a).total_seconds() for a, b in itertools.pairwise(times))
    if shortest < min_interval:
        raise Invalid(f"A schedule may run at most every {min_interval:g} s")
    return expression


def next_fire(expression: str, after: dt.datetime) -> dt.datetime:
    """The first time strictly after ``after`` that ``expression`` fires."""
    value: dt.datetime = croniter(expression, after).get_next(dt.datetime)
    return value


def schedule_json(schedule: Schedule, now: dt.datetime | None = None) -> dict[str, Any]:
    """``schedule.to_json()`` with ``next``: when it fires next after ``now`` (ISO-8601 UTC),
    or None once it is stopped (a stopped schedule never fires again)."""
    if not schedule.active:
        return {**schedule.to_json(), "next": None}
    moment = now or dt.datetime.now(dt.UTC)
    return {**schedule.to_json(), "next": iso(next_fire(schedule.cron, moment))}


def due(schedule: Schedule, now: dt.datetime) -> bool:
    """Has ``schedule`` a firing between its last one (or its creation) and ``now``?"""
    since = parse_iso(schedule.last_fired or schedule.created)
    return next_fire(schedule.cron, since) <= now


class Scheduler:
    """Wakes up at least every ``tick`` seconds and fires the schedules that are due."""

    def __init__(
        self,
        active: Callable[[], list[Schedule]],
        fire: Callable[[Schedule, dt.datetime], Awaitable[None]],
        tick: float = 1.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.active = active
        self.fire = fire
        self.tick = tick
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _loop(self) -> None:
        while True:
            now = self.clock()
            soonest = self.tick
            for schedule in self.active():
                try:
                    if due(schedule, now):
                        await self.fire(schedule, now)
                        continue
                    wait = (next_fire(schedule.cron, now) - now).total_seconds()
                    soonest = min(soonest, max(0.05, wait))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("Schedule %s could not fire", schedule.id)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), soonest)
