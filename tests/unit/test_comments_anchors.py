"""Comment anchors (collab_server.comments.anchors): ranges follow edits, re-anchoring."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, Map, Text

from collab_server.comments.anchors import (
    CONTEXT,
    RangeTracker,
    cell_outputs,
    cell_source,
    cells_by_id,
    find_cell,
    locate,
    quote,
)


def _notebook(*sources: str) -> Doc:
    doc: Doc = Doc()
    cells: list[dict[str, Any]] = [
        {
            "id": f"c{i}",
            "cell_type": "code",
            "source": source,
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
        for i, source in enumerate(sources)
    ]
    YNotebook(doc).set({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    return doc


def _source(doc: Doc, index: int = 0) -> Text:
    cell = doc.get("cells", type=Array)[index]
    assert isinstance(cell, Map)
    text = cell_source(cell)
    assert text is not None
    return text


def _insert(doc: Doc, index: int, at: int, text: str) -> None:
    """Insert ``text`` at code point ``at`` (pycrdt wants UTF-8 bytes)."""
    source = _source(doc, index)
    source.insert(len(str(source)[:at].encode("utf-8")), text)


def _delete(doc: Doc, index: int, start: int, end: int) -> None:
    source = _source(doc, index)
    current = str(source)
    a, b = len(current[:start].encode("utf-8")), len(current[:end].encode("utf-8"))
    del source[a:b]


@pytest.fixture
def doc() -> Doc:
    return _notebook("hello world", "second cell")


@pytest.fixture
def tracker(doc: Doc) -> Iterator[RangeTracker]:
    t = RangeTracker(doc)
    yield t
    t.close()


def _track(tracker: RangeTracker, doc: Doc, key: str, start: int, end: int, cell: int = 0) -> None:
    tracker.add(key, f"c{cell}", str(_source(doc, cell)), start, end)


def _quoted(tracker: RangeTracker, key: str) -> str | None:
    found = tracker.resolve(key)
    if found is None:
        return None
    start, end, text = found
    return text[start:end]


# -- the tracker shifts ranges by each edit --------------------------------------------


def test_resolve_returns_code_points_and_the_cell_text(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    assert tracker.resolve("k") == (6, 11, "hello world")
    assert "k" in tracker and "other" not in tracker


def test_typing_before_the_range_moves_it(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _insert(doc, 0, 0, ">>> ")
    assert tracker.resolve("k") == (10, 15, ">>> hello world")
    assert _quoted(tracker, "k") == "world"


def test_typing_after_the_range_leaves_it(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 0, 5)
    _insert(doc, 0, 11, "!")
    assert tracker.resolve("k") == (0, 5, "hello world!")


def test_text_typed_at_either_edge_stays_outside(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _insert(doc, 0, 6, "big ")  # at the start
    assert _quoted(tracker, "k") == "world"
    _insert(doc, 0, 15, "s")  # at the end
    assert _quoted(tracker, "k") == "world"
    assert str(_source(doc)) == "hello big worlds"


def test_text_typed_inside_grows_the_range(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _insert(doc, 0, 8, "--")
    assert _quoted(tracker, "k") == "wo--rld"


def test_deleting_part_of_the_range_shrinks_it(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 0, 11)
    _delete(doc, 0, 3, 8)  # "hel|lo wo|rld"
    assert _quoted(tracker, "k") == "helrld"


def test_deleting_across_the_start_clips_it(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _delete(doc, 0, 4, 8)  # "hell|o wo|rld"
    assert _quoted(tracker, "k") == "rld"


def test_deleting_all_its_text_detaches_the_range(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _delete(doc, 0, 5, 11)
    assert tracker.resolve("k") is None
    # Retyping the same words does not bring it back: the two ends met.
    _insert(doc, 0, 5, " world")
    assert tracker.resolve("k") is None


def test_deleting_the_cell_loses_the_range(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 0, 6, cell=1)
    del doc.get("cells", type=Array)[1]
    assert tracker.resolve("k") is None


def test_an_edit_to_another_cell_does_not_move_it(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 6, 11)
    _insert(doc, 1, 0, "xxxxxx")
    assert tracker.resolve("k") == (6, 11, "hello world")
    assert tracker.touched == set()


def test_touched_collects_ranges_of_edited_cells(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "a", 0, 5)
    _track(tracker, doc, "b", 0, 6, cell=1)
    _insert(doc, 0, 0, "x")
    assert tracker.touched == {"a"}
    tracker.forget("a")
    assert tracker.touched == set() and tracker.resolve("a") is None


def test_non_ascii_text_is_counted_in_code_points() -> None:
    doc = _notebook("café ☕ naïve")
    t = RangeTracker(doc)
    try:
        _track(t, doc, "k", 7, 12)
        assert _quoted(t, "k") == "naïve"
        _insert(doc, 0, 0, "😀é")  # 4 + 2 bytes, 2 code points
        assert t.resolve("k") == (9, 14, "😀écafé ☕ naïve")
        _insert(doc, 0, 11, "ü")  # inside: "na|ïve" shifted by 2
        assert _quoted(t, "k") == "naüïve"
    finally:
        t.close()


def test_edits_from_another_replica_shift_ranges_in_any_order() -> None:
    """Ranges follow remote updates too, whoever typed and in whatever order they arrive."""
    base = _notebook("one two three")
    replicas = []
    for _ in range(2):
        replica: Doc = Doc()
        replica.apply_update(base.get_update())
        replicas.append(replica)
    a, b = replicas
    _insert(a, 0, 0, "zero ")
    _insert(b, 0, 13, " four")
    for order in ((a, b), (b, a)):
        target: Doc = Doc()
        target.apply_update(base.get_update())
        tracker = RangeTracker(target)
        try:
            _track(tracker, target, "k", 4, 7)  # "two"
            for replica in order:
                target.apply_update(replica.get_update())
            assert str(_source(target)) == "zero one two three four"
            assert _quoted(tracker, "k") == "two"
        finally:
            tracker.close()


def test_re_adding_a_key_replaces_its_range(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 0, 5)
    _track(tracker, doc, "k", 0, 6, cell=1)
    assert _quoted(tracker, "k") == "second"


def test_resolve_with_a_cell_index(doc: Doc, tracker: RangeTracker) -> None:
    _track(tracker, doc, "k", 0, 6, cell=1)
    cells = cells_by_id(doc)
    assert set(cells) == {"c0", "c1"}
    assert tracker.resolve("k", cells) == (0, 6, "second cell")
    assert tracker.resolve("k", {}) is None


def test_find_cell_and_outputs(doc: Doc) -> None:
    cell = find_cell(doc, "c1")
    assert cell is not None and str(cell_source(cell)) == "second cell"
    assert cell_outputs(cell) == 0
    assert find_cell(doc, "nope") is None


def test_close_stops_tracking(doc: Doc) -> None:
    tracker = RangeTracker(doc)
    _track(tracker, doc, "k", 6, 11)
    tracker.close()
    _insert(doc, 0, 0, "xx")
    assert tracker.resolve("k") == (6, 11, "xxhello world")  # no longer shifted


# -- what is stored, and re-anchoring from it --------------------------------------------


def test_quote_keeps_context_on_both_sides() -> None:
    text = "a" * 40 + "TARGET" + "b" * 40
    q = quote(text, 40, 46)
    assert q == {"exact": "TARGET", "prefix": "a" * CONTEXT, "suffix": "b" * CONTEXT}
    assert quote("xTARGETy", 1, 7) == {"exact": "TARGET", "prefix": "x", "suffix": "y"}


def _stored(text: str, start: int, end: int) -> dict[str, Any]:
    return {"start": start, "end": end, **quote(text, start, end)}


def test_locate_at_the_stored_offsets() -> None:
    text = "x = 1\nx = 1\n"
    assert locate(text, _stored(text, 6, 11)) == (6, 11)  # ambiguous text, offsets decide


def test_locate_by_the_unique_quote_when_the_text_moved() -> None:
    stored = _stored("alpha beta gamma", 6, 10)
    assert locate("new line\nalpha beta gamma", stored) == (15, 19)


def test_locate_by_prefix_and_suffix_when_the_quote_repeats() -> None:
    old = "print(x)\nfoo(x)\n"
    stored = _stored(old, 13, 14)  # the x of foo(x)
    new = "# header\nprint(x)\nfoo(x)\n"
    assert locate(new, stored) == (22, 23)


def test_locate_by_prefix_alone() -> None:
    stored = {"exact": "x", "prefix": "foo(", "suffix": "ZZZ", "start": 99, "end": 100}
    assert locate("bar(x) foo(x)", stored) == (11, 12)


def test_locate_by_suffix_alone() -> None:
    stored = {"exact": "x", "prefix": "ZZZ", "suffix": "]", "start": 99, "end": 100}
    assert locate("x) x]", stored) == (3, 4)


def test_locate_never_guesses_between_equal_candidates() -> None:
    stored = {"exact": "x", "prefix": "", "suffix": "", "start": 50, "end": 51}
    assert locate("x x x", stored) is None
    same_context = {"exact": "x", "prefix": "(", "suffix": ")", "start": 50, "end": 51}
    assert locate("(x) (x)", same_context) is None


def test_locate_detaches_when_the_quote_is_gone() -> None:
    assert locate("nothing here", _stored("the quote", 4, 9)) is None
    assert locate("anything", {"exact": "", "start": 0, "end": 0}) is None
    assert locate("anything", {}) is None


@pytest.mark.parametrize("offsets", [(-1, 3), (3, 3), (5, 2), (0, 999), ("0", "3"), (None, None)])
def test_locate_ignores_unusable_offsets(offsets: tuple[Any, Any]) -> None:
    start, end = offsets
    assert locate("abc abc", {"exact": "abc", "start": start, "end": end}) is None  # twice
    assert locate("zz abc", {"exact": "abc", "start": start, "end": end}) == (3, 6)
