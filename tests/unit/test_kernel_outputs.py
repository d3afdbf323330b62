"""The output model of one cell: JupyterLab's rules, minimal changes, the stream cap."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from collab_server.kernels.outputs import (
    AppendOutput,
    CellOutputs,
    ClearOutputs,
    OutputChange,
    SetOutputFields,
    SpliceText,
    apply_backspaces,
    apply_changes,
    remove_overwritten_chars,
    truncation_marker,
)

# --- JupyterLab's removeOverwrittenChars, transcribed regex for regex --------------------------
# JavaScript semantics: "." excludes \n and \r; with the m flag "^" and "$" also match next to a
# \r; replace() without g replaces the first match only.
_DOT = r"[^\n\r]"
_BOL = r"(?<![^\n\r])"
_EOL = r"(?![^\n\r])"


def _js_fix_backspace(txt: str) -> str:
    tmp = txt
    while True:
        txt = tmp
        tmp = re.sub(r"[^\n]\x08", "", txt)
        if len(tmp) >= len(txt):
            return txt


def _js_fix_carriage_return(txt: str) -> str:
    txt = re.sub(r"\r+\n", "\n", txt)
    while re.search(r"\r[^$]", txt):
        base = re.search(_BOL + f"({_DOT}*)\\r+", txt).group(1)  # type: ignore[union-attr]
        insert = re.search(f"\\r+({_DOT}*)" + _EOL, txt).group(1)  # type: ignore[union-attr]
        insert = insert + base[len(insert) :]
        txt = re.sub(f"\\r+{_DOT}*" + _EOL, "\r", txt, count=1)
        txt = re.sub(_BOL + f"{_DOT}*\\r", insert.replace("\\", "\\\\"), txt, count=1)
    return txt


def _jupyterlab(text: str) -> str:
    return _js_fix_carriage_return(_js_fix_backspace(text))


@pytest.mark.parametrize(
    "text, shown",
    [
        ("abc", "abc"),
        ("abcdef\rXY", "XYcdef"),
        ("10%\r20%\r30%", "30%"),
        ("10%\r20%\r30%\n", "30%\n"),
        ("line\r\nnext", "line\nnext"),
        ("ab\b\bc", "c"),
        ("a\n\bb", "a\n\bb"),  # a backspace never crosses a newline
        ("abc\b", "ab"),
        ("progress\r", "progress\r"),  # a trailing \r waits for what comes next
        ("\rabc", "abc"),
        ("x\r\ry", "y"),
    ],
)
def test_removing_overwritten_characters(text: str, shown: str) -> None:
    assert remove_overwritten_chars(text) == shown
    assert _jupyterlab(text) == shown


def test_same_result_as_jupyterlab_on_random_text() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice("ab\n\r\b") for _ in range(rng.randint(0, 14)))
        assert remove_overwritten_chars(text) == _jupyterlab(text), repr(text)
        assert apply_backspaces(text) == _js_fix_backspace(text), repr(text)


def _feed(model: CellOutputs, messages: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Apply messages one by one, checking each change list against the model."""
    mirror: list[dict[str, Any]] = []
    for msg_type, content in messages:
        apply_changes(mirror, model.apply(msg_type, content))
        assert mirror == model.outputs
    return mirror


def _stream(text: str, name: str = "stdout") -> tuple[str, dict[str, Any]]:
    return "stream", {"name": name, "text": text}


def test_streams_of_one_name_append_to_the_last_output() -> None:
    model = CellOutputs()
    first = model.apply(*_stream("a\n"))
    assert first == [AppendOutput({"output_type": "stream", "name": "stdout", "text": "a\n"})]
    second = model.apply(*_stream("b\n"))
    assert second == [SpliceText(0, 2, 0, "b\n", 2, 0)]
    assert model.outputs == [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"}]


def test_mixed_stdout_and_stderr_alternate_outputs_as_jupyterlab_does() -> None:
    outputs = _feed(
        CellOutputs(),
        [_stream("1\n"), _stream("2\n"), _stream("e\n", "stderr"), _stream("3\n")],
    )
    assert [(o["name"], o["text"]) for o in outputs] == [
        ("stdout", "1\n2\n"),
        ("stderr", "e\n"),
        ("stdout", "3\n"),
    ]


def test_a_display_between_streams_starts_a_new_stream_output() -> None:
    display = ("display_data", {"data": {"text/plain": "x"}, "metadata": {}})
    outputs = _feed(CellOutputs(), [_stream("a"), display, _stream("b")])
    assert [o["output_type"] for o in outputs] == ["stream", "display_data", "stream"]


def test_a_progress_bar_with_carriage_returns_stays_one_line() -> None:
    model = CellOutputs()
    messages = [_stream("start\n")] + [_stream(f"\r{i:3d}%") for i in range(0, 101, 10)]
    outputs = _feed(model, [*messages, _stream("\ndone\n")])
    assert outputs[0]["text"] == "start\n100%\ndone\n"
    # Each tick is a small splice of the last line, never a rewrite of the text.
    change = model.apply(*_stream("\rabc"))
    assert change == [SpliceText(0, len("start\n100%\ndone\n"), 0, "abc", 16, 0)]


def test_carriage_return_split_across_messages() -> None:
    # "\r" at the end of one message and "\n" at the start of the next is one newline.
    outputs = _feed(CellOutputs(), [_stream("50%\r"), _stream("\n"), _stream("next")])
    assert outputs[0]["text"] == "50%\nnext"
    outputs = _feed(CellOutputs(), [_stream("50%\r"), _stream("60%")])
    assert outputs[0]["text"] == "60%"


def test_backspaces_delete_across_messages_but_not_across_lines() -> None:
    messages = [_stream("one\ntwo"), *[_stream("\b")] * 4, _stream("X")]
    outputs = _feed(CellOutputs(), messages)
    assert outputs[0]["text"] == "one\n\bX"
    # JupyterLab pairs characters left to right in each pass: a run of backspaces in one
    # message also pairs with itself.
    assert _feed(CellOutputs(), [_stream("abc\b\b\b")])[0]["text"] == "ab"


def test_splice_offsets_in_utf8_bytes_for_pycrdt() -> None:
    model = CellOutputs()
    model.apply(*_stream("é\n"))
    (change,) = model.apply(*_stream("ü\rZ"))
    assert isinstance(change, SpliceText)
    assert (change.start, change.start_utf8) == (2, 3)
    assert (change.delete, change.delete_utf8) == (0, 0)
    assert model.outputs[0]["text"] == "é\nZ"


def test_execute_result_and_error_outputs() -> None:
    outputs = _feed(
        CellOutputs(),
        [
            ("execute_result", {"execution_count": 3, "data": {"text/plain": "2"}, "metadata": {}}),
            ("error", {"ename": "ValueError", "evalue": "bad", "traceback": ["t1", "t2"]}),
            ("status", {"execution_state": "idle"}),
        ],
    )
    assert outputs == [
        {
            "output_type": "execute_result",
            "execution_count": 3,
            "data": {"text/plain": "2"},
            "metadata": {},
        },
        {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["t1", "t2"]},
    ]


def test_update_display_data_updates_every_output_with_that_id_in_place() -> None:
    model = CellOutputs()

    def show(text: str, display_id: str | None = "d1") -> dict[str, Any]:
        content: dict[str, Any] = {"data": {"text/plain": text}, "metadata": {}}
        if display_id:
            content["transient"] = {"display_id": display_id}
        return content

    _feed(
        model,
        [
            ("display_data", show("v1")),
            _stream("between\n"),
            ("display_data", show("v1")),
            ("display_data", show("other", "d2")),
        ],
    )
    changes = model.apply("update_display_data", show("v2"))
    assert changes == [
        SetOutputFields(0, {"data": {"text/plain": "v2"}, "metadata": {}}),
        SetOutputFields(2, {"data": {"text/plain": "v2"}, "metadata": {}}),
    ]
    outputs = model.outputs
    assert [o.get("data", {}).get("text/plain") for o in outputs] == ["v2", None, "v2", "other"]
    assert "transient" not in outputs[0]
    assert model.apply("update_display_data", show("v3", "unknown")) == []


def test_clear_output_wait_clears_on_the_next_output() -> None:
    model = CellOutputs()
    _feed(model, [_stream("frame 1\n")])
    assert model.apply("clear_output", {"wait": True}) == []
    assert model.outputs[0]["text"] == "frame 1\n"
    changes = model.apply(*_stream("frame 2\n"))
    assert changes == [
        ClearOutputs(),
        AppendOutput({"output_type": "stream", "name": "stdout", "text": "frame 2\n"}),
    ]


def test_clear_output_now_and_stream_after_it_starts_fresh() -> None:
    model = CellOutputs()
    _feed(model, [_stream("a")])
    assert model.apply("clear_output", {"wait": False}) == [ClearOutputs()]
    outputs = _feed(model, [_stream("b")])
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "b"}]


def test_update_after_clear_wait_does_not_clear() -> None:
    model = CellOutputs()
    content = {"data": {"text/plain": "1"}, "metadata": {}, "transient": {"display_id": "d"}}
    model.apply("display_data", content)
    model.apply("clear_output", {"wait": True})
    update = {**content, "data": {"text/plain": "2"}}
    assert model.apply("update_display_data", update) == [
        SetOutputFields(0, {"data": {"text/plain": "2"}, "metadata": {}})
    ]


def test_updating_an_execute_result_replaces_it_with_a_display() -> None:
    model = CellOutputs()
    model.apply(
        "execute_result",
        {"execution_count": 1, "data": {}, "metadata": {}, "transient": {"display_id": "r"}},
    )
    # Only display_data outputs register display ids, as in JupyterLab.
    assert model.apply("update_display_data", {"data": {}, "transient": {"display_id": "r"}}) == []


def test_the_cap_keeps_head_and_tail_with_a_visible_marker() -> None:
    model = CellOutputs(max_stream_chars=100)
    lines = [f"line {i:04d}\n" for i in range(100)]  # 10 characters each
    changes: list[OutputChange] = []
    mirror: list[dict[str, Any]] = []
    for line in lines:
        step = model.apply(*_stream(line))
        changes.extend(step)
        apply_changes(mirror, step)
        assert mirror == model.outputs
    text = model.outputs[0]["text"]
    full = "".join(lines)
    head, tail = full[:50], full[-50:]
    dropped = len(full) - 100
    assert text == head + truncation_marker(dropped) + tail
    assert f"… {dropped} bytes truncated …" in text
    assert model.stream_truncated()
    # Once capped, every append is a handful of small splices, never the whole text.
    assert all(isinstance(c, SpliceText) and len(c.insert) < 60 for c in changes[1:])


def test_the_cap_counts_dropped_utf8_bytes_and_keeps_progress_working() -> None:
    model = CellOutputs(max_stream_chars=20)
    mirror: list[dict[str, Any]] = []
    for chunk in ["é" * 30, "\n", "10%", "\r20%", "\r30%"]:
        apply_changes(mirror, model.apply(*_stream(chunk)))
        assert mirror == model.outputs
    text = mirror[0]["text"]
    assert text.startswith("é" * 10 + "\n… ")
    assert text.endswith("\n30%")
    dropped = int(text.split("… ")[1].split(" bytes")[0])
    # 30 é + "\n" + "10%" = 34 characters, 20 kept; the dropped ones are 2-byte é.
    assert dropped == 2 * 14


def test_random_streams_match_the_reference_model() -> None:
    rng = random.Random(11)
    for cap in (8, 30, 1000):
        model = CellOutputs(max_stream_chars=cap)
        mirror: list[dict[str, Any]] = []
        # JupyterLab's model: the kept text is removeOverwrittenChars(kept + new text).
        reference = ""
        for _ in range(300):
            chunk = "".join(rng.choice("ab\n\r\bé") for _ in range(rng.randint(0, 6)))
            apply_changes(mirror, model.apply(*_stream(chunk)))
            reference = _jupyterlab(reference + chunk)
            assert mirror == model.outputs
            assert model.apply("status", {"execution_state": "idle"}) == []
        if cap == 1000:
            assert mirror[0]["text"] == reference


def test_utf8_offsets_are_consistent_with_the_text() -> None:
    rng = random.Random(5)
    model = CellOutputs(max_stream_chars=40)
    text = ""
    for _ in range(400):
        chunk = "".join(rng.choice("aé😀\n\r\b") for _ in range(rng.randint(0, 5)))
        for change in model.apply(*_stream(chunk)):
            if isinstance(change, SpliceText):
                prefix = text[: change.start]
                removed = text[change.start : change.start + change.delete]
                assert change.start_utf8 == len(prefix.encode())
                assert change.delete_utf8 == len(removed.encode())
                text = prefix + change.insert + text[change.start + change.delete :]
            elif isinstance(change, AppendOutput):
                text = change.output["text"]
        assert text == model.outputs[0]["text"]


def test_the_cap_is_a_budget_for_the_whole_cell() -> None:
    model = CellOutputs(max_stream_chars=100, min_stream_chars=20)
    mirror: list[dict[str, Any]] = []
    apply_changes(mirror, model.apply(*_stream("o" * 70)))
    apply_changes(mirror, model.apply(*_stream("e" * 70, "stderr")))
    apply_changes(mirror, model.apply(*_stream("p" * 70)))
    assert mirror == model.outputs
    # stdout took 70 of 100; stderr keeps 30 (head 15, tail 15); the next stdout output
    # gets the floor of 20.
    assert [len(o["text"].split("\n… ")[0]) for o in mirror] == [70, 15, 10]
    assert sum(len(o["text"]) for o in mirror) < 100 + 2 * 40


def test_alternating_streams_stop_at_the_output_limit_with_one_note() -> None:
    model = CellOutputs(max_outputs=5)
    mirror: list[dict[str, Any]] = []
    for i in range(50):
        apply_changes(mirror, model.apply(*_stream(f"{i}\n", "stdout" if i % 2 else "stderr")))
        assert mirror == model.outputs
    assert len(mirror) == 6
    assert mirror[-1]["output_type"] == "display_data"
    assert "more than 5 outputs" in mirror[-1]["data"]["text/plain"]
    # A clear starts over.
    apply_changes(mirror, model.apply("clear_output", {}))
    apply_changes(mirror, model.apply(*_stream("fresh")))
    assert mirror == [{"output_type": "stream", "name": "stdout", "text": "fresh"}]
