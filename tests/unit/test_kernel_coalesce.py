"""Output changes batched per cell on a clock passed in (no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest

from collab_server.kernels.coalesce import Coalescer
from collab_server.kernels.outputs import (
    AppendOutput,
    CellOutputs,
    ClearOutputs,
    SetOutputFields,
    SpliceText,
    apply_changes,
)


def _append(start: int, text: str) -> SpliceText:
    return SpliceText(0, start, 0, text, start, 0)


def test_nothing_is_due_before_the_interval() -> None:
    batches = Coalescer(interval=0.05)
    assert batches.next_deadline() is None
    batches.push("c1", [_append(0, "a")], now=10.0)
    assert batches.next_deadline() == 10.05
    assert batches.take(10.04) == []
    assert batches.take(10.05) == [("c1", [_append(0, "a")])]
    assert batches.next_deadline() is None


def test_consecutive_appends_become_one() -> None:
    batches = Coalescer(interval=0.05)
    batches.push("c1", [_append(0, "a")], now=0.0)
    batches.push("c1", [_append(1, "bc")], now=0.01)
    batches.push("c1", [_append(3, "d")], now=0.02)
    assert batches.take(0.05) == [("c1", [SpliceText(0, 0, 0, "abcd", 0, 0)])]


def test_a_splice_that_does_not_follow_is_kept_apart() -> None:
    batches = Coalescer(interval=0.05)
    rewrite = SpliceText(0, 0, 3, "x", 0, 3)
    batches.push("c1", [_append(0, "abc"), rewrite, _append(1, "y")], now=0.0)
    ((_, changes),) = batches.take(1.0)
    assert changes == [_append(0, "abc"), SpliceText(0, 0, 3, "xy", 0, 3)]


def test_a_clear_drops_what_was_held_before_it() -> None:
    batches = Coalescer(interval=0.05)
    display = SetOutputFields(0, {"data": {}})
    batches.push("c1", [_append(0, "old"), display], now=0.0)
    batches.push("c1", [ClearOutputs(), AppendOutput({"output_type": "stream"})], now=0.01)
    assert batches.take(0.06) == [("c1", [ClearOutputs(), AppendOutput({"output_type": "stream"})])]


def test_cells_are_batched_apart_and_each_on_its_own_clock() -> None:
    batches = Coalescer(interval=0.1)
    batches.push("c1", [_append(0, "1")], now=0.0)
    batches.push("c2", [_append(0, "2")], now=0.05)
    assert [cell for cell, _ in batches.take(0.1)] == ["c1"]
    assert batches.next_deadline() == pytest.approx(0.15)
    assert batches.take_cell("c2") == [_append(0, "2")]
    assert batches.take_all() == []


def test_a_batch_applied_at_once_equals_the_changes_one_by_one() -> None:
    model = CellOutputs(max_stream_chars=50)
    batches = Coalescer(interval=1.0)
    one_by_one: list[dict] = []
    batched: list[dict] = []
    messages: list[tuple[str, dict[str, Any]]] = [
        ("stream", {"name": "stdout", "text": f"{i}\r{i}%\n" * 3}) for i in range(40)
    ]
    messages.insert(5, ("clear_output", {"wait": True}))
    for msg_type, content in messages:
        changes = model.apply(msg_type, content)
        apply_changes(one_by_one, changes)
        batches.push("c", changes, now=0.0)
    for _, changes in batches.take_all():
        apply_changes(batched, changes)
    assert batched == one_by_one == model.outputs
