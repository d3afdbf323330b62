"""The outputs of one cell, and how each iopub message changes them.

This module owns the output model of a code cell as nbformat (and jupyter_ydoc) define
outputs, and the rules JupyterLab's ``OutputAreaModel`` applies to kernel messages:

- ``stream`` appends to the last output when it is a stream of the same name, otherwise
  starts a new stream output; ``\\b`` (backspace) and ``\\r`` (carriage return: overwrite the
  current line) are applied as JupyterLab's ``removeOverwrittenChars`` does, so the stored text
  is what a person sees (a progress bar stays one line instead of growing the document);
- ``display_data``, ``execute_result`` and ``error`` append an output;
- ``update_display_data`` updates, in place, every output shown with that ``display_id``;
- ``clear_output`` clears now, or with ``wait=True`` just before the next output arrives.

Each message yields the *minimal* list of changes a CRDT writer applies as small edits
(:class:`AppendOutput`, :class:`SpliceText`, :class:`SetOutputFields`, :class:`ClearOutputs`),
never "rewrite the output list": appending to a long ``Text`` is cheap while replacing it grows
with its length, and replacing a stream's map made JupyterLab crash on
a stream output without ``text``. Changes apply in order; positions in a change refer to the
text as the previous changes left it. :func:`apply_changes` is the reference semantics.

Stream text is capped per cell (``max_stream_chars``): a stream output past its share keeps its
head and its tail with a visible line ``… N bytes truncated …`` between them (the full text is
the executor's business, see ``spool``); a cell has at most ``max_outputs`` outputs. So a
runaway loop costs the document at most about ``max_stream_chars + max_outputs ×
min_stream_chars`` characters of stream text.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Output = dict[str, Any]

#: Default stream text budget of one cell, in characters (a head and a tail of about 1600
#: lines of 80 characters each). Every byte of it is in the notebook each autosave writes,
#: in the snapshot each compaction writes, and on every page that shows the cell: beside a
#: cell printing 1 MB/s, the longest wait of 20 typing clients was 71–126 ms with 1,000,000
#: here and 21–33 ms with 256,000 (bench/kernels_bench.py, three runs each). The whole text
#: stays downloadable.
DEFAULT_MAX_STREAM_CHARS = 256_000
#: Each stream output may keep at least this much, whatever the others used.
DEFAULT_MIN_STREAM_CHARS = 2_000
#: Default limit on the number of outputs of one cell.
DEFAULT_MAX_OUTPUTS = 1_000


@dataclass(frozen=True)
class AppendOutput:
    """Append ``output`` (an nbformat output; a stream's ``text`` is a string) to the list."""

    output: Output


@dataclass(frozen=True)
class SpliceText:
    """In stream output ``index``, replace ``delete`` characters at ``start`` with ``insert``.

    ``start_utf8``/``delete_utf8`` are the same span in UTF-8 bytes, which is how pycrdt
    indexes a ``Text`` in Python.
    """

    index: int
    start: int
    delete: int
    insert: str
    start_utf8: int
    delete_utf8: int


@dataclass(frozen=True)
class SetOutputFields:
    """Set these keys of output ``index`` in place (``data``/``metadata`` of a display)."""

    index: int
    fields: Output


@dataclass(frozen=True)
class ClearOutputs:
    """Remove every output of the cell."""


OutputChange = AppendOutput | SpliceText | SetOutputFields | ClearOutputs


# --- JupyterLab's removeOverwrittenChars, in linear time -------------------------------------


_BACKSPACE = re.compile(r"[^\n]\x08")


def apply_backspaces(text: str) -> str:
    """Remove each ``\b`` with the character before it, never across a newline.

    Exactly JupyterLab's ``fixBackspace``: ``replace(/[^\n]\x08/g, '')`` repeated until
    nothing changes. Each pass pairs characters left to right, so ``"abc\b\b\b"`` shows
    ``"ab"`` (the second pair is two backspaces), as it does in JupyterLab; only the current
    line is ever passed here, so the passes stay short.
    """
    if "\b" not in text:
        return text
    while True:
        shorter = _BACKSPACE.sub("", text)
        if len(shorter) == len(text):
            return text
        text = shorter


_CR_LF = re.compile(r"\r+\n")
_CR_RUN = re.compile(r"\r+")


def _overlay_line(line: str) -> str:
    # Each segment after a run of \r overwrites the line from its start, character by
    # character ("abcdef\rXY" shows "XYcdef"). At the very end of the text one \r stays,
    # waiting for more text; JupyterLab's loop removes a longer run ("ab\r\r" shows "ab").
    body = line.rstrip("\r")
    trailing = line[len(body) :]
    segments = _CR_RUN.split(body)
    current = segments[0]
    for segment in segments[1:]:
        current = segment + current[len(segment) :]
    return current + ("\r" if len(trailing) == 1 else "")


def apply_carriage_returns(text: str) -> str:
    """``\\r\\n`` is a newline; otherwise ``\\r`` returns to the start of the line.

    JupyterLab's ``fixCarriageReturn`` loops over regular expressions (quadratic on a long
    progress log); this is the same per-line result in linear time. Two corner cases differ on
    purpose: JupyterLab leaves a ``\\r`` followed by a literal ``$`` alone (its ``[^$]`` was
    meant as "not the end"), and it counts UTF-16 code units where we count code points.
    """
    if "\r" not in text:
        return text
    text = _CR_LF.sub("\n", text)
    if "\r" not in text:
        return text
    return "\n".join(_overlay_line(line) if "\r" in line else line for line in text.split("\n"))


def remove_overwritten_chars(text: str) -> str:
    """Characters overwritten by backspaces and carriage returns, removed (JupyterLab order)."""
    return apply_carriage_returns(apply_backspaces(text))


def _common_prefix(a: str, b: str) -> int:
    # Binary search on slice equality: comparisons run in C, so long lines stay cheap.
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def truncation_marker(dropped_bytes: int) -> str:
    """The visible line between the head and the tail of a capped stream."""
    return f"\n… {dropped_bytes} bytes truncated …\n"


# --- one stream output ------------------------------------------------------------------------


@dataclass
class _Stream:
    """The text of one stream output: ``tail`` alone, or ``head + marker + tail`` once capped."""

    name: str
    cap: int
    tail: str = ""
    tail_utf8: int = 0
    head: str = ""
    head_utf8: int = 0
    dropped: int = 0  # bytes between head and tail, shown in the marker

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    @property
    def marker(self) -> str:
        return truncation_marker(self.dropped) if self.truncated else ""

    @property
    def text(self) -> str:
        return self.head + self.marker + self.tail

    def _base(self) -> tuple[int, int]:
        marker = self.marker
        return len(self.head) + len(marker), self.head_utf8 + _utf8(marker)

    def append(self, index: int, chunk: str) -> list[OutputChange]:
        changes: list[OutputChange] = []
        base, base_utf8 = self._base()
        if "\r" not in chunk and "\b" not in chunk and not self.tail.endswith("\r"):
            # Fast path: nothing to overwrite, a plain append at the end.
            if chunk:
                changes.append(
                    SpliceText(
                        index, base + len(self.tail), 0, chunk, base_utf8 + self.tail_utf8, 0
                    )
                )
                self.tail += chunk
                self.tail_utf8 += _utf8(chunk)
        else:
            # \r and \b only reach back to the start of the current line.
            line_start = self.tail.rfind("\n") + 1
            old_line = self.tail[line_start:]
            new_line = remove_overwritten_chars(old_line + chunk)
            keep = _common_prefix(old_line, new_line)
            removed = old_line[keep:]
            inserted = new_line[keep:]
            removed_utf8 = _utf8(removed)
            if removed or inserted:
                start_utf8 = base_utf8 + self.tail_utf8 - removed_utf8
                changes.append(
                    SpliceText(
                        index,
                        base + line_start + keep,
                        len(removed),
                        inserted,
                        start_utf8,
                        removed_utf8,
                    )
                )
            self.tail = self.tail[: line_start + keep] + inserted
            self.tail_utf8 += _utf8(inserted) - removed_utf8
        changes.extend(self._cap(index))
        return changes

    def _cap(self, index: int) -> list[OutputChange]:
        cap = self.cap
        head_chars = cap // 2
        tail_chars = cap - head_chars
        if not self.truncated:
            if len(self.tail) <= cap:
                return []
            # First time over the cap: keep the head, replace the middle with the marker.
            head = self.tail[:head_chars]
            middle = self.tail[head_chars : len(self.tail) - tail_chars]
            middle_utf8 = _utf8(middle)
            self.head, self.head_utf8 = head, _utf8(head)
            self.tail = self.tail[len(self.tail) - tail_chars :]
            self.tail_utf8 -= self.head_utf8 + middle_utf8
            self.dropped = middle_utf8
            marker = self.marker
            return [SpliceText(index, head_chars, len(middle), marker, self.head_utf8, middle_utf8)]
        if len(self.tail) <= tail_chars:
            return []
        base, base_utf8 = self._base()
        old_marker = self.marker
        cut = self.tail[: len(self.tail) - tail_chars]
        cut_utf8 = _utf8(cut)
        self.tail = self.tail[len(cut) :]
        self.tail_utf8 -= cut_utf8
        self.dropped += cut_utf8
        return [
            SpliceText(index, base, len(cut), "", base_utf8, cut_utf8),
            SpliceText(
                index,
                len(self.head),
                len(old_marker),
                self.marker,
                self.head_utf8,
                _utf8(old_marker),
            ),
        ]


# --- the outputs of one cell ------------------------------------------------------------------


@dataclass
class CellOutputs:
    """The outputs of one cell during (and after) a run, fed with iopub messages."""

    #: The cell's stream text budget: a new stream output may use what the cell's other
    #: stream outputs left (at least ``min_stream_chars``), head and tail kept past it.
    max_stream_chars: int = DEFAULT_MAX_STREAM_CHARS
    min_stream_chars: int = DEFAULT_MIN_STREAM_CHARS
    #: Outputs past this many are not added (one note says so): stdout and stderr
    #: alternating forever would otherwise add outputs forever.
    max_outputs: int = DEFAULT_MAX_OUTPUTS
    _outputs: list[Output] = field(default_factory=list)
    _streams: dict[int, _Stream] = field(default_factory=dict)
    _display_ids: dict[str, list[int]] = field(default_factory=dict)
    _clear_pending: bool = False
    _dropped_outputs: int = 0

    @property
    def outputs(self) -> list[Output]:
        """The outputs as nbformat JSON (a copy)."""
        result = []
        for index, output in enumerate(self._outputs):
            item = dict(output)
            if index in self._streams:
                item["text"] = self._streams[index].text
            result.append(item)
        return result

    @property
    def display_ids(self) -> frozenset[str]:
        return frozenset(self._display_ids)

    def stream_truncated(self) -> bool:
        """Whether any stream output of this cell was capped."""
        return any(stream.truncated for stream in self._streams.values())

    def reset(self) -> list[OutputChange]:
        """Clear everything now (a new run of the cell starts)."""
        self._outputs.clear()
        self._streams.clear()
        self._display_ids.clear()
        self._clear_pending = False
        self._dropped_outputs = 0
        return [ClearOutputs()]

    def apply(self, msg_type: str, content: dict[str, Any]) -> list[OutputChange]:
        """The changes one iopub message makes; other message types make none."""
        if msg_type == "stream":
            return self._stream(str(content.get("name", "stdout")), _text(content.get("text")))
        if msg_type in ("display_data", "execute_result", "error"):
            return self._add(_output_of(msg_type, content), _display_id(content))
        if msg_type == "update_display_data":
            return self.update_display(_display_id(content), content)
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
                return []
            return self.reset()
        return []

    def update_display(self, display_id: str | None, content: dict[str, Any]) -> list[OutputChange]:
        """Update every output of this cell shown with ``display_id``."""
        if display_id is None:
            return []
        changes: list[OutputChange] = []
        fields: Output = {
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
        # Only display_data outputs register an id (as in JupyterLab), so the target is
        # always a display_data: its ``data`` and ``metadata`` are set in place.
        for index in self._display_ids.get(display_id, []):
            self._outputs[index].update(fields)
            changes.append(SetOutputFields(index, dict(fields)))
        return changes

    def _flush_clear(self) -> list[OutputChange]:
        if not self._clear_pending:
            return []
        return self.reset()

    def _last_stream(self, name: str) -> _Stream | None:
        index = len(self._outputs) - 1
        stream = self._streams.get(index)
        return stream if stream is not None and stream.name == name else None

    def _stream(self, name: str, text: str) -> list[OutputChange]:
        changes = self._flush_clear()
        index = len(self._outputs) - 1
        stream = self._last_stream(name)
        if stream is None:
            if self._full(changes):
                return changes
            index += 1
            used = sum(len(other.text) for other in self._streams.values())
            floor = min(self.min_stream_chars, self.max_stream_chars)
            stream = _Stream(name, cap=max(floor, self.max_stream_chars - used))
            self._streams[index] = stream
            self._outputs.append({"output_type": "stream", "name": name, "text": ""})
            # The new output arrives whole, its text already set (its own splices are folded
            # in): JupyterLab must never see a stream output without ``text``.
            stream.append(index, text)
            changes.append(
                AppendOutput({"output_type": "stream", "name": name, "text": stream.text})
            )
            return changes
        changes.extend(stream.append(index, text))
        return changes

    def _full(self, changes: list[OutputChange]) -> bool:
        # At the output limit: count what is dropped, and say so once, as a display (a
        # stream note would swallow the next text of its name).
        if len(self._outputs) < self.max_outputs:
            return False
        if self._dropped_outputs == 0:
            note = {
                "output_type": "display_data",
                "data": {
                    "text/plain": f"… more than {self.max_outputs} outputs: the rest "
                    "are not shown …"
                },
                "metadata": {},
            }
            self._outputs.append(note)
            changes.append(AppendOutput(dict(note)))
        self._dropped_outputs += 1
        return True

    def _add(self, output: Output, display_id: str | None) -> list[OutputChange]:
        changes = self._flush_clear()
        if self._full(changes):
            return changes
        index = len(self._outputs)
        self._outputs.append(output)
        if display_id is not None and output["output_type"] == "display_data":
            self._display_ids.setdefault(display_id, []).append(index)
        changes.append(AppendOutput(dict(output)))
        return changes


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def _display_id(content: dict[str, Any]) -> str | None:
    transient = content.get("transient")
    if isinstance(transient, dict):
        value = transient.get("display_id")
        if isinstance(value, str) and value:
            return value
    return None


def _output_of(msg_type: str, content: dict[str, Any]) -> Output:
    # nbformat's shapes; ``transient`` is never stored.
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": str(content.get("ename", "")),
            "evalue": str(content.get("evalue", "")),
            "traceback": [str(line) for line in content.get("traceback", [])],
        }
    output: Output = {
        "output_type": msg_type,
        "data": content.get("data", {}),
        "metadata": content.get("metadata", {}),
    }
    if msg_type == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output


def apply_changes(outputs: list[Output], changes: Iterable[OutputChange]) -> None:
    """Apply changes to a plain list of nbformat outputs: the reference semantics a CRDT
    writer must reproduce."""
    for change in changes:
        if isinstance(change, ClearOutputs):
            outputs.clear()
        elif isinstance(change, AppendOutput):
            outputs.append(dict(change.output))
        elif isinstance(change, SpliceText):
            text = outputs[change.index]["text"]
            outputs[change.index]["text"] = (
                text[: change.start] + change.insert + text[change.start + change.delete :]
            )
        elif isinstance(change, SetOutputFields):
            outputs[change.index].update(change.fields)
