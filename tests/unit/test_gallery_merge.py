"""Change requests' merge and summary (gallery/merge.py): hand-made cases."""

from __future__ import annotations

from typing import Any

import pytest

from collab_server.gallery.merge import MergeConflict, same_content, summary, three_way


def nb(*cells: tuple[str, str], **metadata: Any) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": dict(metadata),
        "cells": [
            {"id": i, "cell_type": "code", "source": s, "metadata": {}, "outputs": [],
             "execution_count": None}
            for i, s in cells
        ],
    }  # fmt: skip


def sources(notebook: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["id"], c["source"]) for c in notebook["cells"]]


BASE = nb(("a", "a = 1"), ("b", "b = 2"), ("c", "c = 3"))


def test_unchanged_target_gets_the_proposal() -> None:
    proposed = nb(("a", "a = 10"), ("n", "new"), ("b", "b = 2"), ("c", "c = 3"))
    merged = three_way(BASE, proposed, BASE)
    assert sources(merged) == sources(proposed)


def test_changes_on_other_cells_are_kept() -> None:
    proposed = nb(("a", "a = 10"), ("b", "b = 2"), ("n", "new"), ("c", "c = 3"))
    current = nb(("a", "a = 1"), ("b", "b = 20"), ("c", "c = 3"), ("z", "later"))
    merged = three_way(BASE, proposed, current)
    assert sources(merged) == [("a", "a = 10"), ("b", "b = 20"), ("n", "new"), ("c", "c = 3"),
                               ("z", "later")]  # fmt: skip


def test_removal_and_outputs() -> None:
    proposed = nb(("a", "a = 1"), ("c", "c = 30"))
    current = nb(("a", "a = 1"), ("b", "b = 2"), ("c", "c = 3"))
    current["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    proposed["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    merged = three_way(BASE, proposed, current)
    assert sources(merged) == [("a", "a = 1"), ("c", "c = 30")]
    assert merged["cells"][0]["outputs"]  # an untouched cell keeps the current outputs
    assert merged["cells"][1]["outputs"] == []  # an edited one arrives without any


def test_same_cell_changed_on_both_sides_conflicts() -> None:
    proposed = nb(("a", "a = 10"), ("b", "b = 2"), ("c", "c = 3"))
    current = nb(("a", "a = 100"), ("b", "b = 2"), ("c", "c = 3"))
    with pytest.raises(MergeConflict) as e:
        three_way(BASE, proposed, current)
    assert e.value.cells == ["a"]
    # The same change on both sides is no conflict.
    assert sources(three_way(BASE, proposed, proposed)) == sources(proposed)
    # Edited by the proposal, removed since: a conflict.
    with pytest.raises(MergeConflict):
        three_way(BASE, proposed, nb(("b", "b = 2"), ("c", "c = 3")))


def test_moves_and_metadata() -> None:
    moved = nb(("c", "c = 3"), ("a", "a = 1"), ("b", "b = 2"))
    assert sources(three_way(BASE, moved, nb(("a", "a = 9"), ("b", "b = 2"), ("c", "c = 3")))) \
        == [("c", "c = 3"), ("a", "a = 9"), ("b", "b = 2")]  # fmt: skip
    with pytest.raises(MergeConflict):
        three_way(BASE, moved, nb(("a", "a = 1"), ("b", "b = 2")))
    tagged = nb(("a", "a = 1"), ("b", "b = 2"), ("c", "c = 3"), title="T")
    assert three_way(BASE, tagged, BASE)["metadata"] == {"title": "T"}
    with pytest.raises(MergeConflict):
        three_way(BASE, tagged, nb(("a", "a = 1"), ("b", "b = 2"), ("c", "c = 3"), title="U"))


def test_comments_and_outputs_are_no_change() -> None:
    other = nb(("a", "a = 1"), ("b", "b = 2"), ("c", "c = 3"), collab={"comments": {"x": 1}})
    other["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    assert same_content(BASE, other)
    assert not same_content(BASE, nb(("a", "a = 1")))


def test_summary_for_people() -> None:
    proposed = nb(("a", "a = 1\nx = 2"), ("n", "new"), ("c", "c = 3"))
    changes = summary(BASE, proposed)
    # In notebook order, a removed cell where it was; positions from 1.
    assert [(c["kind"], c["cell_id"], c["position"]) for c in changes] == [
        ("edited", "a", 1), ("added", "n", 2), ("removed", "b", 2)]  # fmt: skip
    assert {"op": "+", "text": "x = 2"} in changes[0]["lines"]
    assert changes[2]["lines"] == [{"op": "-", "text": "b = 2"}]
    moved = summary(BASE, nb(("c", "c = 3"), ("a", "a = 1"), ("b", "b = 2")))
    assert [(c["kind"], c["cell_id"]) for c in moved] == [("moved", "c")]
    last = summary(BASE, nb(("a", "a = 1"), ("b", "b = 2")))
    assert [(c["kind"], c["position"]) for c in last] == [("removed", 3)]
