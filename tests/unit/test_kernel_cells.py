"""Output changes written into a real YNotebook document match the reference semantics
(``outputs.apply_changes``), with UTF-8 offsets, ``\\r`` overwrites and the cap; the kernel
registry never takes another program for a kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Doc

from collab_server.kernels import cells
from collab_server.kernels.outputs import CellOutputs, ClearOutputs, OutputChange, apply_changes
from collab_server.kernels.registry import is_kernel_process


def _notebook(outputs: list[dict[str, Any]] | None = None) -> Doc:
    doc: Doc = Doc()
    YNotebook(doc).set(
        {
            "cells": [
                {"id": "md", "cell_type": "markdown", "source": "# t", "metadata": {}},
                {
                    "id": "c1",
                    "cell_type": "code",
                    "source": "print()",
                    "metadata": {},
                    "outputs": outputs or [],
                    "execution_count": None,
                },
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    return doc


def _write(doc: Doc, changes: list[OutputChange]) -> bool:
    cell = cells.find_cell(doc, "c1")
    assert cell is not None
    with doc.transaction():
        return cells.apply_output_changes(cell, changes)


def _outputs(doc: Doc) -> list[dict[str, Any]]:
    return list(YNotebook(doc).get()["cells"][1]["outputs"])


def test_streams_displays_and_clears_land_like_the_reference() -> None:
    doc = _notebook([{"output_type": "stream", "name": "stdout", "text": "old"}])
    model = CellOutputs(max_stream_chars=60, min_stream_chars=10)
    reference: list[dict[str, Any]] = [{"output_type": "stream", "name": "stdout", "text": "old"}]
    messages: list[tuple[str, dict[str, Any]]] = [
        ("stream", {"name": "stdout", "text": "héllo wörld ✓\n"}),
        ("stream", {"name": "stdout", "text": "10%\r50%\r"}),
        ("stream", {"name": "stdout", "text": "100% 🎉\n"}),
        ("stream", {"name": "stderr", "text": "warn\n"}),
        (
            "display_data",
            {"data": {"text/plain": "1"}, "metadata": {}, "transient": {"display_id": "d"}},
        ),
        (
            "update_display_data",
            {"data": {"text/plain": "2"}, "metadata": {}, "transient": {"display_id": "d"}},
        ),
        ("stream", {"name": "stderr", "text": "x" * 200}),  # past the cap: head and tail kept
        ("stream", {"name": "stderr", "text": "ünïcode tail\n"}),
    ]
    changes = model.reset()
    for msg_type, content in messages:
        changes += model.apply(msg_type, content)
    # One batch per message and all at once must both work.
    assert _write(doc, changes[:1])
    for change in changes[1:]:
        assert _write(doc, [change])
    apply_changes(reference, changes)
    assert _outputs(doc) == reference == model.outputs
    assert "bytes truncated" in reference[-1]["text"]
    assert reference[0]["text"] == "héllo wörld ✓\n100% 🎉\n"


def test_stream_text_is_a_shared_text_and_maps_are_never_replaced() -> None:
    doc = _notebook()
    model = CellOutputs()
    _write(doc, model.reset() + model.apply("stream", {"name": "stdout", "text": "a"}))
    cell = cells.find_cell(doc, "c1")
    assert cell is not None
    # The outputs list itself does not change: the text is appended in place.
    array_events: list[Any] = []
    cell["outputs"].observe(array_events.append)
    _write(doc, model.apply("stream", {"name": "stdout", "text": "b"}))
    assert array_events == []
    text = cell["outputs"][0]["text"]
    assert type(text).__name__ == "Text" and str(text) == "ab"


def test_changes_that_no_longer_fit_are_refused_not_misplaced() -> None:
    doc = _notebook()
    model = CellOutputs()
    _write(doc, model.reset() + model.apply("stream", {"name": "stdout", "text": "a"}))
    _write(doc, [ClearOutputs()])  # someone else cleared the outputs meanwhile
    assert not _write(doc, model.apply("stream", {"name": "stdout", "text": "b"}))
    assert _outputs(doc) == []


def test_execution_state_and_reset_after_a_crash() -> None:
    doc = _notebook()
    cell = cells.find_cell(doc, "c1")
    assert cell is not None
    with doc.transaction():
        cells.set_execution_state(cell, "running")
        cells.set_execution_count(cell, 3)
    assert cells.code_sources(doc) == {"c1": "print()"}
    assert cells.code_source(doc, "md") is None
    with doc.transaction():
        assert cells.reset_running(doc) == 1
    assert cell["execution_state"] == "idle" and cell["execution_count"] == 3


def test_only_the_recorded_kernel_process_is_taken_for_a_kernel(tmp_path: Path) -> None:
    connection = tmp_path / "kernel-abc.json"
    connection.write_text("{}")
    # The child says "ready" once it runs: before that, /proc shows the parent's command
    # line (fork before exec), so reading it earlier would race.
    code = "import sys, time; print('ready', flush=True); time.sleep(30)"
    kernel = subprocess.Popen(
        [sys.executable, "-c", code, "-f", str(connection)], stdout=subprocess.PIPE
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        for child in (kernel, other):
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert is_kernel_process(kernel.pid, str(connection))
        # A recycled pid running something else is never touched.
        assert not is_kernel_process(other.pid, str(connection))
        assert not is_kernel_process(os.getpid(), str(connection))
        assert not is_kernel_process(1, str(connection))
    finally:
        kernel.kill()
        other.kill()
        kernel.communicate()
        other.communicate()
    assert not is_kernel_process(kernel.pid, str(connection))
