"""The bodies of ``POST /api/kernels/{kernel_id}/execute``, and whether they are stale.

This module owns parsing and validating the three body shapes in use on that URL:

- JupyterLab's ``serverSideExecution`` (jupyter-docprovider): ``{"cell_id", "document_id"}``;
- jupyter-server-nbmodel: ``{"code", "metadata": {"cell_id", "document_id"}}``;
- jupyter-server-documents: ``{"document_id", "cells": [{"cell_id", "source_hash"}]}``, run
  atomically as one batch; ``source_hash`` is MurmurHash2 (seed 0) of the UTF-8 bytes of the
  cell's source, as a decimal string (:func:`source_hash`).

A bad body raises :class:`RequestError` naming the field and why (the handler answers 400).
:func:`check_fresh` compares what the request saw (its code, or its hash) with the document's
current source: a cell that is gone raises :class:`UnknownCell` (404), a cell edited since
raises :class:`StaleSource` (409). Pure.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: At most this many cells in one request (a "run all" of a very large notebook still fits).
MAX_CELLS = 10_000
#: Longest id accepted for a cell or a document.
MAX_ID_LENGTH = 256

Shape = Literal["jupyterlab", "nbmodel", "documents"]


class RequestError(ValueError):
    """A body that cannot be run; ``field`` is the JSON path of the offending value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownCell(LookupError):
    """The request names a cell the document does not have (or that is not a code cell)."""

    def __init__(self, cell_id: str) -> None:
        super().__init__(f"the notebook has no code cell {cell_id!r}")
        self.cell_id = cell_id


class StaleSource(Exception):
    """The cell's source changed since the person asked to run it."""

    def __init__(self, cell_id: str) -> None:
        super().__init__(
            f"cell {cell_id!r} was edited after it was asked to run; run it again to run "
            "the current code"
        )
        self.cell_id = cell_id


@dataclass(frozen=True)
class CellRef:
    """One cell to run, with what the requester saw of it (if it says)."""

    cell_id: str
    code: str | None = None
    source_hash: str | None = None


@dataclass(frozen=True)
class ExecuteRequest:
    document_id: str
    cells: tuple[CellRef, ...]
    shape: Shape

    @property
    def is_batch(self) -> bool:
        """Several cells to run together (never interleaved with other people's cells)."""
        return self.shape == "documents"


def source_hash(source: str) -> str:
    """MurmurHash2, seed 0, of the UTF-8 bytes of ``source``, as a decimal string.

    The hash jupyter-server-documents' front end sends (its ``murmur2(source, 0)`` over
    ``TextEncoder`` bytes) and its server checks (``_source_hash``).
    """
    data = source.encode("utf-8")
    m = 0x5BD1E995
    length = len(data)
    h = length & 0xFFFFFFFF
    i = 0
    while length >= 4:
        (k,) = struct.unpack_from("<I", data, i)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
        i += 4
        length -= 4
    if length == 3:
        h ^= data[i + 2] << 16
    if length >= 2:
        h ^= data[i + 1] << 8
    if length >= 1:
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return str(h)


def source_sha256(source: str) -> str:
    """The hex sha256 of a cell's source, as the execution log stores it."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _id(value: Any, field: str) -> str:
    if value is None:
        raise RequestError(field, "is required")
    if not isinstance(value, str):
        raise RequestError(field, "must be a string")
    if not value:
        raise RequestError(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise RequestError(field, f"is longer than {MAX_ID_LENGTH} characters")
    return value


def parse_execute(body: Any) -> ExecuteRequest:
    """Validate a decoded JSON body; raises :class:`RequestError`."""
    if not isinstance(body, dict):
        raise RequestError("body", "must be a JSON object")
    if "cells" in body:
        return _parse_documents(body)
    if "code" in body:
        return _parse_nbmodel(body)
    if "cell_id" in body or "document_id" in body:
        cell_id = _id(body.get("cell_id"), "cell_id")
        document_id = _id(body.get("document_id"), "document_id")
        return ExecuteRequest(document_id, (CellRef(cell_id),), "jupyterlab")
    raise RequestError(
        "body",
        'must be {"cell_id", "document_id"}, {"code", "metadata": {"cell_id", '
        '"document_id"}} or {"document_id", "cells": [{"cell_id", "source_hash"}]}',
    )


def _parse_nbmodel(body: dict[str, Any]) -> ExecuteRequest:
    code = body.get("code")
    if not isinstance(code, str):
        raise RequestError("code", "must be a string")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise RequestError(
            "metadata",
            'must be an object with "cell_id" and "document_id" (running code '
            "outside a notebook cell is not supported)",
        )
    cell_id = _id(metadata.get("cell_id"), "metadata.cell_id")
    document_id = _id(metadata.get("document_id"), "metadata.document_id")
    return ExecuteRequest(document_id, (CellRef(cell_id, code=code),), "nbmodel")


def _parse_documents(body: dict[str, Any]) -> ExecuteRequest:
    document_id = _id(body.get("document_id"), "document_id")
    cells = body.get("cells")
    if not isinstance(cells, list):
        raise RequestError("cells", "must be a list of {cell_id, source_hash}")
    if not cells:
        raise RequestError("cells", "must not be empty")
    if len(cells) > MAX_CELLS:
        raise RequestError("cells", f"has more than {MAX_CELLS} entries")
    refs = []
    for position, entry in enumerate(cells):
        where = f"cells[{position}]"
        if not isinstance(entry, dict):
            raise RequestError(where, "must be an object {cell_id, source_hash}")
        cell_id = _id(entry.get("cell_id"), f"{where}.cell_id")
        digest = entry.get("source_hash")
        if digest is None:
            raise RequestError(f"{where}.source_hash", "is required")
        if not isinstance(digest, str) or not digest.isdigit() or len(digest) > 10:
            raise RequestError(f"{where}.source_hash", "must be a MurmurHash2 as a decimal string")
        refs.append(CellRef(cell_id, source_hash=digest))
    return ExecuteRequest(document_id, tuple(refs), "documents")


def check_fresh(request: ExecuteRequest, sources: Mapping[str, str | None]) -> None:
    """Check every cell against ``sources`` (cell id → current source of that code cell;
    absent or ``None`` when the document has no such code cell). Checks all cells before
    anything runs, so a stale batch runs none of its cells."""
    for ref in request.cells:
        current = sources.get(ref.cell_id)
        if current is None:
            raise UnknownCell(ref.cell_id)
        if ref.code is not None and ref.code != current:
            raise StaleSource(ref.cell_id)
        if ref.source_hash is not None and ref.source_hash != source_hash(current):
            raise StaleSource(ref.cell_id)
