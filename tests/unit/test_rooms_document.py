"""Between a file and its CRDT document (collab_server.rooms.document): the deterministic
first load and the three-way merge of a change made outside the server."""

from __future__ import annotations

import copy
from typing import Any

import nbformat
from pycrdt import Doc, Map, Text

from collab_server.rooms.document import (
    SUPPORTED_KINDS,
    content_client_id,
    deterministic_load,
    merge_external_change,
    normalize_notebook,
    read_content,
    replace_text,
    wrap,
)

NOTEBOOK = SUPPORTED_KINDS[("json", "notebook")]
TEXT = SUPPORTED_KINDS[("text", "file")]


def _nb(*cells: tuple[str, str], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells = []
    for cell_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nb.metadata = metadata or {}
    return dict(nbformat.from_dict(nb))


def _room(content: Any, kind: Any = NOTEBOOK) -> Doc:
    doc: Doc = Doc()
    doc.apply_update(deterministic_load(kind, content))
    return doc


def _sources(doc: Doc) -> list[tuple[str, str]]:
    cells = read_content(NOTEBOOK, doc)["cells"]
    return [(c["id"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in cells]  # fmt: skip


def _edit_cell(doc: Doc, index: int, new_source: str) -> None:
    ytext = wrap(NOTEBOOK, doc).ycells[index]["source"]  # type: ignore[attr-defined]
    replace_text(ytext, str(ytext), new_source)


# -- deterministic first load ---------------------------------------------------------------


def _replicas(content: Any, kind: Any = NOTEBOOK, count: int = 2) -> list[Doc]:
    return [_room(content, kind) for _ in range(count)]


def test_the_same_content_always_loads_to_the_same_items() -> None:
    """Same client id and clocks, and each item is the same thing in every load: an edit made
    on one load applies to another as to itself. (The update's bytes may differ in order.)"""
    nb = _nb(("a", "x = 1"), ("b", "print(x)"), metadata={"kernelspec": {"name": "python3",
             "display_name": "Python 3"}})  # fmt: skip
    for _ in range(10):
        ours, theirs = _replicas(nb)
        assert ours.get_state() == theirs.get_state()
        before = theirs.get_state()
        notebook = wrap(NOTEBOOK, ours)
        _edit_cell(ours, 1, "print(x, y)")
        notebook.ycells[0]["metadata"] = Map({"tags": ["t"]})  # type: ignore[attr-defined]
        del notebook.ycells[0]["execution_count"]  # type: ignore[attr-defined]
        ours.get("meta", type=Map)["metadata"]["kernelspec"]["name"] = "julia"
        theirs.apply_update(ours.get_update(before))
        assert read_content(NOTEBOOK, theirs) == read_content(NOTEBOOK, ours)
    text_ours, text_theirs = _replicas("hello ☕", TEXT)
    assert text_ours.get_state() == text_theirs.get_state()


def test_an_empty_notebook_loads_deterministically() -> None:
    empty = _nb()
    ours, theirs = _replicas(empty)
    assert ours.get_state() == theirs.get_state()
    ours.apply_update(theirs.get_update())
    theirs.apply_update(ours.get_update())
    assert read_content(NOTEBOOK, ours) == read_content(NOTEBOOK, theirs)


def test_different_content_uses_a_different_client_id() -> None:
    a, b = _nb(("a", "x = 1")), _nb(("a", "x = 2"))
    assert content_client_id(a) != content_client_id(b)
    assert deterministic_load(NOTEBOOK, a) != deterministic_load(NOTEBOOK, b)
    for content in (a, b, "text", ""):
        assert 0 < content_client_id(content) < 2**31  # JavaScript clients use 32-bit ids


def test_two_first_loads_merge_without_duplicating_cells() -> None:
    """A client that loaded the file before and a fresh room hold the same items."""
    nb = _nb(("a", "x = 1"), ("b", "y = 2"))
    first, second = _room(nb), _room(nb)
    first.apply_update(second.get_update())
    second.apply_update(first.get_update())
    assert _sources(first) == _sources(second) == [("a", "x = 1"), ("b", "y = 2")]


def test_the_loaded_document_reads_back_as_the_file() -> None:
    nb = _nb(("a", "x = 1\ny = 2"), metadata={"kernelspec": {"name": "python3"}})
    content = read_content(NOTEBOOK, _room(nb))
    assert _sources(_room(nb)) == [("a", "x = 1\ny = 2")]
    assert content["metadata"]["kernelspec"] == {"name": "python3"}
    assert read_content(TEXT, _room("plain ☕ text", TEXT)) == "plain ☕ text"


def test_cell_ids_are_filled_in_deterministically() -> None:
    nb = _nb(("a", "one"), ("a", "two"))  # a duplicate id
    nb["cells"].append({"cell_type": "code", "source": ["th", "ree"], "metadata": {},
                        "outputs": [], "execution_count": None})  # fmt: skip
    nb["nbformat_minor"] = 4
    first, second = normalize_notebook(nb), normalize_notebook(copy.deepcopy(nb))
    assert first == second
    ids = [c["id"] for c in first["cells"]]
    assert ids[0] == "a" and len(set(ids)) == 3
    assert first["nbformat_minor"] == 5
    assert "id" not in nb["cells"][2]  # the input is not modified
    ours, theirs = _room(nb), _room(copy.deepcopy(nb))
    assert ours.get_state() == theirs.get_state()
    assert read_content(NOTEBOOK, ours) == read_content(NOTEBOOK, theirs)


# -- replace_text edits only what differs ----------------------------------------------------


def test_replace_text_keeps_concurrent_edits_elsewhere() -> None:
    base: Doc = Doc()
    base.get("t", type=Text).insert(0, "héllo wörld, bye")
    ours: Doc = Doc()
    theirs: Doc = Doc()
    for doc in (ours, theirs):
        doc.apply_update(base.get_update())
    replace_text(ours.get("t", type=Text), "héllo wörld, bye", "héllo WÖRLD, bye")
    theirs.get("t", type=Text).insert(len("héllo wörld, bye".encode()), "!")
    ours.apply_update(theirs.get_update())
    assert str(ours.get("t", type=Text)) == "héllo WÖRLD, bye!"


def test_replace_text_edge_cases() -> None:
    for old, new in [
        ("", "abc"),
        ("abc", ""),
        ("aaa", "aaaa"),
        ("☕☕", "☕x☕"),
        ("same", "same"),
    ]:
        doc: Doc = Doc()
        text = doc.get("t", type=Text)
        text.insert(0, old)
        replace_text(text, old, new)
        assert str(text) == new


# -- three-way merge of an outside change -----------------------------------------------------


def test_no_outside_change_is_an_empty_report() -> None:
    nb = _nb(("a", "x"))
    report = merge_external_change(NOTEBOOK, _room(nb), nb, copy.deepcopy(nb))
    assert report.empty and report.conflicts == 0


def test_room_edits_survive_an_outside_change_to_another_cell() -> None:
    base = _nb(("a", "x = 1"), ("b", "y = 2"))
    room = _room(base)
    _edit_cell(room, 0, "x = 100  # typed in the room")
    disk = _nb(("a", "x = 1"), ("b", "y = 2  # edited on disk"))
    report = merge_external_change(NOTEBOOK, room, base, disk)
    assert (report.changed, report.conflicts, report.added, report.removed) == (1, 0, 0, 0)
    assert _sources(room) == [
        ("a", "x = 100  # typed in the room"),
        ("b", "y = 2  # edited on disk"),
    ]


def test_the_disk_wins_a_cell_edited_on_both_sides_and_it_is_counted() -> None:
    base = _nb(("a", "x = 1"))
    room = _room(base)
    _edit_cell(room, 0, "x = 'room'")
    report = merge_external_change(NOTEBOOK, room, base, _nb(("a", "x = 'disk'")))
    assert report.conflicts == 1 and report.changed == 1
    assert _sources(room) == [("a", "x = 'disk'")]


def test_cells_added_and_removed_on_disk() -> None:
    base = _nb(("a", "1"), ("b", "2"), ("c", "3"))
    room = _room(base)
    wrap(NOTEBOOK, room).append_cell(  # type: ignore[attr-defined]
        {"id": "room", "cell_type": "code", "source": "typed", "metadata": {},
         "outputs": [], "execution_count": None}
    )  # fmt: skip
    disk = _nb(("new0", "first"), ("a", "1"), ("c", "3"), ("new1", "after c"))
    report = merge_external_change(NOTEBOOK, room, base, disk)
    assert (report.added, report.removed, report.changed) == (2, 1, 0)
    assert _sources(room) == [
        ("new0", "first"),
        ("a", "1"),
        ("c", "3"),
        ("new1", "after c"),
        ("room", "typed"),  # added in the room since the last save: kept
    ]


def test_a_cell_deleted_in_the_room_is_not_resurrected_by_an_unrelated_change() -> None:
    base = _nb(("a", "1"), ("b", "2"))
    room = _room(base)
    del wrap(NOTEBOOK, room).ycells[1]  # type: ignore[attr-defined]
    report = merge_external_change(NOTEBOOK, room, base, _nb(("a", "one"), ("b", "2")))
    assert report.changed == 1 and report.added == 0
    assert _sources(room) == [("a", "one")]


def test_notebook_and_cell_metadata_and_outputs_follow_the_disk() -> None:
    base = _nb(("a", "1"))
    room = _room(base)
    disk = _nb(("a", "1"), metadata={"kernelspec": {"name": "julia"}})
    disk["cells"][0]["metadata"] = {"tags": ["slow"]}
    disk["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    disk["cells"][0]["execution_count"] = 3
    report = merge_external_change(NOTEBOOK, room, base, disk)
    assert report.metadata and report.changed == 1 and report.conflicts == 0
    content = read_content(NOTEBOOK, room)
    assert content["metadata"]["kernelspec"] == {"name": "julia"}
    cell = content["cells"][0]
    assert cell["metadata"] == {"tags": ["slow"]}
    assert cell["execution_count"] == 3
    assert cell["outputs"][0]["name"] == "stdout"
    assert "".join(cell["outputs"][0]["text"]) == "hi\n"


def test_merge_without_a_base_adds_every_disk_cell() -> None:
    room = _room(_nb(("r", "typed in the room")))
    report = merge_external_change(NOTEBOOK, room, None, _nb(("a", "1"), ("b", "2")))
    assert report.added == 2 and report.removed == 0
    assert _sources(room) == [("a", "1"), ("b", "2"), ("r", "typed in the room")]


def test_the_merge_reaches_other_replicas_as_one_update() -> None:
    base = _nb(("a", "x = 1"))
    room, peer = _room(base), _room(base)
    updates: list[bytes] = []
    room.observe(lambda event: updates.append(event.update))
    merge_external_change(NOTEBOOK, room, base, _nb(("a", "x = 2"), ("b", "new")))
    assert len(updates) == 1  # one transaction
    peer.apply_update(updates[0])
    assert _sources(peer) == _sources(room) == [("a", "x = 2"), ("b", "new")]


def test_text_files_take_the_disk_text() -> None:
    room = _room("line one\nline two\n", TEXT)
    report = merge_external_change(TEXT, room, "line one\nline two\n", "line one\nline 2\n")
    assert (report.changed, report.conflicts) == (1, 0)
    assert read_content(TEXT, room) == "line one\nline 2\n"


def test_text_files_count_a_conflict_when_the_room_had_edited() -> None:
    room = _room("abc", TEXT)
    ytext = room.get("source", type=Text)
    replace_text(ytext, "abc", "abc typed")
    report = merge_external_change(TEXT, room, "abc", "disk")
    assert (report.changed, report.conflicts) == (1, 1)
    assert read_content(TEXT, room) == "disk"
    same = merge_external_change(TEXT, room, "disk", "disk")
    assert same.empty
