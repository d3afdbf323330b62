"""Notebook health from its execution log: nbgallery's formula, pure.

This module owns the arithmetic; it reads no database (the caller passes the executions, the
notebook's current code cells and the stored previous score). It follows nbgallery's
``app/models/concerns/notebooks/health_functions.rb`` (``compute_health``,
``execution_depths``, ``health_symbol``, ``adjust_health_score``), ``app/models/execution.rb``
(``health_scale``) and ``app/models/code_cell.rb`` (``groom_metrics``):

* usage over the window (30 days): UE = 10·(users − 1) + max(1, executions / code cells);
  UF = 0 if UE < 1, 1 if UE > 40, else 0.75 + 0.25·ln UE / ln 40;
* pass rate = successful executions / executions;
* depth of one session = (highest code cell index that succeeded + 1) / code cells, 0 if none
  succeeded; mean over sessions. nbgallery approximates a session by (user, day); we have the
  run's session id and use it (falling back to person and UTC day when it is empty);
* H = UF · (pass rate + mean depth) / 2; H ≥ 0.625 healthy, H ≤ 0.375 unhealthy, else
  unknown;
* a cell: UF(cell users, cell executions) · cell pass rate ≥ 0.75 healthy, else unhealthy
  (unknown without executions);
* after the code changed, executions of other code do not count (nbgallery replaces a
  notebook's code cells on upload, dropping their executions; we keep the log and match each
  execution's source hash against the cell's current source). For 7 days after the change, if
  the fresh score is unknown and the previous one was not, the stored score is the blend
  w·(fresh or default) + (1 − w)·previous with w = age of the change / 7 days, where default is
  0.5 for a previously healthy notebook and 0 for an unhealthy one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

DAY = 86400.0
WINDOW_DAYS = 30
BLEND_DAYS = 7
HEALTHY_AT = 0.625
UNHEALTHY_AT = 0.375
CELL_HEALTHY_AT = 0.75


class ExecutionLike(Protocol):
    """One cell execution (``activity.Execution`` has these fields)."""

    @property
    def cell_id(self) -> str: ...
    @property
    def source_hash(self) -> str: ...
    @property
    def person(self) -> str: ...
    @property
    def session(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def at(self) -> float: ...


@dataclass(frozen=True)
class CellHealth:
    cell_id: str
    index: int  # position among the notebook's code cells, from 0
    executions: int
    users: int
    pass_rate: float | None
    usage_factor: float
    label: str  # healthy / unhealthy / unknown


@dataclass(frozen=True)
class Health:
    score: float | None  # what to store and show (blended after a code change)
    label: str  # healthy / unhealthy / unknown, from ``score``
    explanation: str
    raw_score: float | None = None  # the fresh score, before any blend
    executions: int = 0
    users: int = 0
    sessions: int = 0
    pass_rate: float | None = None
    depth: float | None = None
    usage_factor: float = 0.0
    cells: tuple[CellHealth, ...] = field(default=())


def usage_factor(users: int, executions_per_cell: float) -> float:
    """nbgallery's ``Execution.health_scale``: confidence from how much the notebook is used."""
    usage = 10 * (users - 1) + max(executions_per_cell, 1.0)
    if usage < 1:
        return 0.0
    if usage > 40:
        return 1.0
    return 0.75 + 0.25 * math.log(usage) / math.log(40)


def label_for(score: float | None) -> str:
    """nbgallery's ``health_symbol``."""
    if score is None:
        return "unknown"
    if score >= HEALTHY_AT:
        return "healthy"
    if score <= UNHEALTHY_AT:
        return "unhealthy"
    return "unknown"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _session_key(e: ExecutionLike) -> str:
    if e.session:
        return e.session
    return f"{e.person}\0{datetime.fromtimestamp(e.at, UTC).date().isoformat()}"


def compute_health(
    executions: Iterable[ExecutionLike],
    code_cells: Sequence[tuple[str, str]],
    *,
    now: float,
    days: int = WINDOW_DAYS,
    previous_score: float | None = None,
    code_changed: float | None = None,
) -> Health:
    """Health of a notebook whose code cells are ``code_cells`` (``(cell id, source hash)`` in
    order), from its executions; ``previous_score``/``code_changed`` drive the 7-day blend."""
    num_cells = len(code_cells)
    if num_cells == 0:
        return Health(None, "unknown", "No code cells.")
    position = {cell_id: (i, source) for i, (cell_id, source) in enumerate(code_cells)}
    since = now - days * DAY
    rows: list[tuple[int, ExecutionLike]] = []
    for e in executions:
        current = position.get(e.cell_id)
        # Only executions of the code the cell holds now, within the window, count.
        if current is not None and current[1] == e.source_hash and since <= e.at <= now:
            rows.append((current[0], e))

    per_cell: dict[int, list[ExecutionLike]] = {}
    for index, e in rows:
        per_cell.setdefault(index, []).append(e)
    cells = []
    for index, (cell_id, _) in enumerate(code_cells):
        runs = per_cell.get(index, [])
        if not runs:
            cells.append(CellHealth(cell_id, index, 0, 0, None, 0.0, "unknown"))
            continue
        users = len({e.person for e in runs})
        rate = sum(e.ok for e in runs) / len(runs)
        factor = usage_factor(users, len(runs))
        label = "healthy" if factor * rate >= CELL_HEALTHY_AT else "unhealthy"
        cells.append(CellHealth(cell_id, index, len(runs), users, rate, factor, label))

    if not rows:
        fresh = Health(None, "unknown", f"No runs in the last {days} days.", cells=tuple(cells))
        return _blend(fresh, now, previous_score, code_changed)

    users = len({e.person for _, e in rows})
    pass_rate = sum(e.ok for _, e in rows) / len(rows)
    sessions: dict[str, int] = {}
    for index, e in rows:
        key = _session_key(e)
        reached = index + 1 if e.ok else 0
        sessions[key] = max(sessions.get(key, 0), reached)
    depth = sum(reached / num_cells for reached in sessions.values()) / len(sessions)
    factor = usage_factor(users, len(rows) / num_cells)
    score = factor * (pass_rate + depth) / 2

    people = "1 person" if users == 1 else f"{users} people"
    explanation = f"{_plural(len(sessions), 'run')} by {people}"
    explanation = f"{explanation} in {days} days"
    failing = [c for c in cells if c.label == "unhealthy" and c.pass_rate is not None]
    if failing:
        worst = min(failing, key=lambda c: (c.pass_rate, c.index))
        fail_pct = round(100 * (1 - (worst.pass_rate or 0.0)))
        explanation += f"; cell {worst.index + 1} fails in {fail_pct}% of runs"
    fresh = Health(
        score=score,
        label=label_for(score),
        explanation=explanation + ".",
        raw_score=score,
        executions=len(rows),
        users=users,
        sessions=len(sessions),
        pass_rate=pass_rate,
        depth=depth,
        usage_factor=factor,
        cells=tuple(cells),
    )
    return _blend(fresh, now, previous_score, code_changed)


def _blend(fresh: Health, now: float, previous: float | None, changed: float | None) -> Health:
    """nbgallery's ``adjust_health_score``: soften the drop to unknown after a code change."""
    previous_label = label_for(previous)
    if (
        fresh.label != "unknown"
        or previous is None
        or previous_label == "unknown"
        or changed is None
        or not 0 <= now - changed < BLEND_DAYS * DAY
    ):
        return fresh
    weight = (now - changed) / (BLEND_DAYS * DAY)
    default = 0.5 if previous_label == "healthy" else 0.0
    base = fresh.raw_score if fresh.raw_score is not None else default
    score = weight * base + (1 - weight) * previous
    return Health(
        score=score,
        label=label_for(score),
        explanation=f"{fresh.explanation.rstrip('.')}; the code changed recently,"
        f" previously {previous_label}.",
        raw_score=fresh.raw_score,
        executions=fresh.executions,
        users=fresh.users,
        sessions=fresh.sessions,
        pass_rate=fresh.pass_rate,
        depth=fresh.depth,
        usage_factor=fresh.usage_factor,
        cells=fresh.cells,
    )
