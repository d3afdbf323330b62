"""nbgallery's health formula on hand-worked cases (pure, in process)."""

from __future__ import annotations

import math

import pytest

from collab_server.gallery.activity import Execution
from collab_server.gallery.health import compute_health, label_for, usage_factor

DAY = 86400.0
NOW = 1_780_000_000.0
CELLS4 = [("a", "ha"), ("b", "hb"), ("c", "hc"), ("d", "hd")]
CELLS2 = [("a", "ha"), ("b", "hb")]


def run(
    person: str,
    results: list[bool],
    cells: list[tuple[str, str]],
    at: float = NOW - DAY,
    session: str | None = None,
) -> list[Execution]:
    """One session by ``person`` running the first cells in order with these outcomes."""
    sid = session if session is not None else f"{person}-{at}"
    return [
        Execution(cell_id, index, source, person, sid, ok, at + index)
        for index, ((cell_id, source), ok) in enumerate(zip(cells, results, strict=False))
    ]


def test_usage_factor() -> None:
    assert usage_factor(1, 0.5) == 0.75  # UE = 0 + max(1, 0.5) = 1 → 0.75 + 0.25·ln 1/ln 40
    assert usage_factor(5, 1) == 1.0  # UE = 41 > 40
    assert usage_factor(0, 0) == 0.0  # UE = -10 + 1 < 1
    # UE = 10 + 2 = 12 → 0.75 + 0.25 · ln 12 / ln 40 = 0.918405
    assert usage_factor(2, 2) == pytest.approx(0.75 + 0.25 * math.log(12) / math.log(40))
    assert usage_factor(2, 2) == pytest.approx(0.918405, abs=1e-6)


def test_labels() -> None:
    assert [label_for(s) for s in (None, 0.625, 0.624, 0.375, 0.376)] == [
        "unknown",
        "healthy",
        "unknown",
        "unhealthy",
        "unknown",
    ]


def test_busy_healthy_notebook() -> None:
    rows = [e for p in "pqrs" for e in run(p, [True] * 4, CELLS4)]
    rows += run("t", [True, True, False], CELLS4)
    health = compute_health(rows, CELLS4, now=NOW)
    # 19 executions, 18 ok, 5 people: UE = 10·4 + 19/4 = 44.75 > 40 → UF = 1.
    # Depths: four sessions reach 4/4, t reaches (1+1)/4 = 0.5 → mean 4.5/5 = 0.9.
    # H = 1 · (18/19 + 0.9) / 2 = 0.923684
    assert health.usage_factor == 1.0
    assert health.pass_rate == pytest.approx(18 / 19)
    assert health.depth == pytest.approx(0.9)
    assert health.score == pytest.approx((18 / 19 + 0.9) / 2)
    assert health.label == "healthy"
    # Cell c: 4 of 5 ok, 5 users (UF 1) → 0.8 ≥ 0.75 healthy.
    assert health.cells[2].pass_rate == 0.8 and health.cells[2].label == "healthy"
    # Cell d: 4 runs by 4 users, all ok; UE = 30 + 4 = 34 → UF = 0.98899 → healthy.
    assert health.cells[3].usage_factor == pytest.approx(0.98899, abs=1e-5)
    assert health.explanation == "5 runs by 5 people in 30 days."


def test_one_failing_run_is_unhealthy() -> None:
    health = compute_health(run("p", [True, False], CELLS2), CELLS2, now=NOW)
    # 2 executions, 1 person: UE = 0 + max(1, 2/2) = 1 → UF = 0.75.
    # pass 1/2, depth (0+1)/2 = 0.5 → H = 0.75 · (0.5 + 0.5) / 2 = 0.375 → unhealthy.
    assert health.score == pytest.approx(0.375)
    assert health.label == "unhealthy"
    assert [c.label for c in health.cells] == ["healthy", "unhealthy"]  # 0.75·1 ≥ 0.75; 0.75·0
    assert health.explanation == "1 run by 1 person in 30 days; cell 2 fails in 100% of runs."


def test_middle_score_is_unknown() -> None:
    rows = run("p", [True, True], CELLS2) + run("q", [False, False], CELLS2)
    health = compute_health(rows, CELLS2, now=NOW)
    # 4 executions, 2 ok, 2 people: UE = 10 + 4/2 = 12 → UF = 0.918405.
    # depth: p reaches 2/2, q reaches 0 → 0.5; H = 0.918405 · (0.5 + 0.5) / 2 = 0.459203.
    assert health.score == pytest.approx(0.459203, abs=1e-6)
    assert health.label == "unknown"
    # Each cell: 1 of 2 ok, UF(2 users, 2 runs) = 0.918 → 0.459 < 0.75 → unhealthy.
    assert health.explanation == "2 runs by 2 people in 30 days; cell 1 fails in 50% of runs."


def test_window_and_changed_code_do_not_count() -> None:
    old = run("p", [False, False], CELLS2, at=NOW - 31 * DAY)
    other_code = run("q", [False, False], [("a", "old-a"), ("b", "old-b")])
    fresh = run("r", [True, True], CELLS2)
    health = compute_health(old + other_code + fresh, CELLS2, now=NOW)
    assert (health.executions, health.users, health.pass_rate) == (2, 1, 1.0)
    assert compute_health(old + other_code, CELLS2, now=NOW).label == "unknown"


def test_no_code_cells_or_no_runs() -> None:
    assert compute_health([], [], now=NOW).explanation == "No code cells."
    health = compute_health([], CELLS2, now=NOW)
    assert (health.score, health.label) == (None, "unknown")
    assert health.explanation == "No runs in the last 30 days."


def test_sessions_fall_back_to_person_and_day() -> None:
    # Two sessions with no id on different days count as two runs; same day, one.
    rows = run("p", [True, True], CELLS2, at=NOW - 3 * DAY, session="")
    rows += run("p", [True, False], CELLS2, at=NOW - 1 * DAY, session="")
    assert compute_health(rows, CELLS2, now=NOW).sessions == 2
    same_day = run("p", [True], CELLS2, at=NOW - DAY, session="")
    same_day += run("p", [True, True], CELLS2, at=NOW - DAY + 60, session="")
    assert compute_health(same_day, CELLS2, now=NOW).sessions == 1


def test_seven_day_blend_after_a_code_change() -> None:
    # Previously healthy (0.8), code changed 2 days ago, no runs since: the fresh score is
    # unknown, default 0.5; w = 2/7 → 2/7·0.5 + 5/7·0.8 = 0.714286 → still healthy.
    health = compute_health([], CELLS2, now=NOW, previous_score=0.8, code_changed=NOW - 2 * DAY)
    assert health.score == pytest.approx(2 / 7 * 0.5 + 5 / 7 * 0.8)
    assert health.label == "healthy"
    assert "previously healthy" in health.explanation
    # After 7 days the blend is over.
    late = compute_health([], CELLS2, now=NOW, previous_score=0.8, code_changed=NOW - 8 * DAY)
    assert (late.score, late.label) == (None, "unknown")
    # Previously unhealthy (0.2), fresh unknown 0.459203 at 3.5 days: w = 0.5
    # → 0.5·0.459203 + 0.5·0.2 = 0.329601 → unhealthy.
    rows = run("p", [True, True], CELLS2) + run("q", [False, False], CELLS2)
    blended = compute_health(
        rows, CELLS2, now=NOW, previous_score=0.2, code_changed=NOW - 3.5 * DAY
    )
    assert blended.raw_score == pytest.approx(0.459203, abs=1e-6)
    assert blended.score == pytest.approx(0.329601, abs=1e-6)
    assert blended.label == "unhealthy"
    # A fresh determined score is not blended.
    ok = compute_health(
        run("p", [True, True], CELLS2) * 1,
        CELLS2,
        now=NOW,
        previous_score=0.1,
        code_changed=NOW - DAY,
    )
    assert ok.score == ok.raw_score
