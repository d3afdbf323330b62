"""Output changes batched per cell on a clock passed in (no sleeping)."""

from __future__ import annotations

import random
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


def test_a_rewrite_of_held_text_is_composed_into_it() -> None:
    batches = Coalescer(interval=0.05)
    rewrite = SpliceText(0, 0, 3, "x", 0, 3)
    batches.push("c1", [_append(0, "abc"), rewrite, _append(1, "y")], now=0.0)
    ((_, changes),) = batches.take(1.0)
    # Composed: the text the document gets in the end, inserted once.
    assert changes == [_append(0, "xy")]


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


def _apply_utf8(text: bytes, changes: list[SpliceText]) -> bytes:
    # What pycrdt does with the UTF-8 offsets of each splice.
    for c in changes:
        insert = c.insert.encode("utf-8", "surrogatepass")
        text = text[: c.start_utf8] + insert + text[c.start_utf8 + c.delete_utf8 :]
    return text


@pytest.mark.parametrize("seed", range(60))
def test_composed_splices_equal_the_splices_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab\né€😀"
    text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
    current = text
    batches = Coalescer(interval=1.0)
    one_by_one: list[SpliceText] = []
    for _ in range(rng.randrange(1, 25)):
        start = rng.randrange(0, len(current) + 1)
        delete = rng.randrange(0, len(current) - start + 1) if rng.random() < 0.5 else 0
        insert = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
        change = SpliceText(
            0,
            start,
            delete,
            insert,
            len(current[:start].encode()),
            len(current[start : start + delete].encode()),
        )
        one_by_one.append(change)
        batches.push("c", [change], now=0.0)
        current = current[:start] + insert + current[start + delete :]
    composed = batches.take_cell("c")
    assert all(isinstance(c, SpliceText) for c in composed)
    outputs = [{"output_type": "stream", "text": text}]
    apply_changes(outputs, composed)
    assert outputs[0]["text"] == current
    splices = [c for c in composed if isinstance(c, SpliceText)]
    assert _apply_utf8(text.encode(), splices) == current.encode()
    # Left to right, and no longer than the changes they compose.
    assert [c.start for c in splices] == sorted(c.start for c in splices)
    assert len(splices) <= len(one_by_one)


def test_text_cut_by_the_cap_while_held_never_reaches_the_document() -> None:
    model = CellOutputs(max_stream_chars=1_000)
    batches = Coalescer(interval=0.05, max_rate=0)
    reference: list[dict] = []
    for i in range(100):
        changes = model.apply("stream", {"name": "stdout", "text": f"{i:03d}" + "x" * 96 + "\n"})
        apply_changes(reference, changes)
        batches.push("c", changes, now=0.0)
    batched: list[dict] = []
    ((_, changes),) = batches.take(1.0)
    apply_changes(batched, changes)
    assert batched == reference == model.outputs
    # 10 000 characters printed; the batch inserts the kept head and tail and the marker.
    inserted = sum(len(c.insert) for c in changes if isinstance(c, SpliceText)) + sum(
        len(c.output.get("text", "")) for c in changes if isinstance(c, AppendOutput)
    )
    assert inserted < 1_100
    assert "bytes truncated" in batched[0]["text"]


def test_a_batch_with_much_text_is_held_longer_within_bounds() -> None:
    batches = Coalescer(interval=0.05, max_rate=1_000, max_hold=2.0)
    batches.push("small", [_append(0, "a" * 10)], now=0.0)
    assert batches.next_deadline() == pytest.approx(0.05)
    batches.push("big", [_append(0, "b" * 500)], now=0.0)
    # 500 characters at 1000 a second: held half a second.
    assert [cell for cell, _ in batches.take(0.06)] == ["small"]
    assert batches.next_deadline() == pytest.approx(0.5)
    batches.push("big", [_append(500, "b" * 5_000)], now=0.1)
    assert batches.next_deadline() == pytest.approx(2.0)  # never past max_hold
    assert batches.take(1.9) == []
    assert [cell for cell, _ in batches.take(2.0)] == ["big"]


def test_push_says_when_a_batch_became_due_sooner() -> None:
    batches = Coalescer(interval=0.05, max_rate=1_000)
    assert batches.push("c", [_append(0, "a")], now=0.0)  # a new batch
    assert not batches.push("c", [_append(1, "b")], now=0.01)
    assert not batches.push("c", [], now=0.02)
    assert not batches.push("c", [_append(2, "c" * 500)], now=0.03)  # held longer
    assert batches.push("c", [ClearOutputs()], now=0.04)  # nothing left to hold long
