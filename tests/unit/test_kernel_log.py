"""The execution log in SQLite, and the stream spool's bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collab_server.core.db import open_database
from collab_server.kernels.log import ExecutionLog, ExecutionRecord, iso
from collab_server.kernels.spool import StreamSpool

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _record(cell: str, minute: int, file_id: str = "f1", status: str = "ok") -> ExecutionRecord:
    moment = iso(T0 + timedelta(minutes=minute))
    return ExecutionRecord(
        file_id=file_id,
        path="a/nb.ipynb",
        cell_id=cell,
        source_sha256="0" * 64,
        who="ann",
        kernel_id="k",
        queued_at=moment,
        started_at=moment,
        ended_at=moment,
        status=status,  # type: ignore[arg-type]
        ename="ValueError" if status == "error" else None,
        execution_count=minute,
    )


def test_iso_is_utc_with_milliseconds() -> None:
    local = datetime(2026, 3, 1, 14, 0, 0, 123456, tzinfo=UTC) + timedelta()
    assert iso(local) == "2026-03-01T14:00:00.123Z"


def test_rows_paginate_newest_first_per_notebook(tmp_path: Path) -> None:
    db = open_database(tmp_path / "db.sqlite")
    log = ExecutionLog(db)
    ExecutionLog(db)  # creating the table twice is harmless
    assert log.add([_record(f"c{i}", i) for i in range(5)] + [_record("other", 9, "f2")]) == 6
    page, cursor = log.for_notebook("f1", limit=2)
    assert [row["cell_id"] for row in page] == ["c4", "c3"]
    page, cursor = log.for_notebook("f1", limit=2, before=cursor)
    assert [row["cell_id"] for row in page] == ["c2", "c1"]
    page, cursor = log.for_notebook("f1", limit=2, before=cursor)
    assert [row["cell_id"] for row in page] == ["c0"] and cursor is None


def test_since_a_time(tmp_path: Path) -> None:
    log = ExecutionLog(open_database(tmp_path / "db.sqlite"))
    log.add([_record("a", 1), _record("b", 5, status="error"), _record("c", 7, "f2")])
    rows = log.since(T0 + timedelta(minutes=5))
    assert [(r["cell_id"], r["status"], r["ename"]) for r in rows] == [
        ("b", "error", "ValueError"),
        ("c", "ok", None),
    ]


def test_a_bad_row_rolls_back_the_whole_batch(tmp_path: Path) -> None:
    log = ExecutionLog(open_database(tmp_path / "db.sqlite"))
    with pytest.raises(Exception, match="CHECK"):
        log.add([_record("a", 1), _record("b", 2, status="weird")])
    assert log.for_notebook("f1") == ([], None)
    log.add([_record("a", 1)])  # the connection is usable afterwards
    assert len(log.for_notebook("f1")[0]) == 1


def test_the_spool_bounds_each_file_and_the_directory(tmp_path: Path) -> None:
    spool = StreamSpool(tmp_path / "spool", max_file_bytes=10, max_total_bytes=25)
    first = spool.open("run1")
    first.append("0123456")
    first.append("789é€ more")  # cut at a character boundary, the rest counted
    first.close()
    kept = spool.read("run1")
    assert kept is not None and kept.startswith(b"0123456789")
    assert b"the rest was not kept" in kept
    assert first.dropped == len("é€ more".encode())
    for key in ("run2", "run3", "run4"):
        handle = spool.open(key)
        handle.append("x" * 10)
        handle.close()
    # Opening new files removed the oldest to stay under the directory's limit.
    assert spool.read("run1") is None
    assert spool.read("run4") == b"x" * 10
    with pytest.raises(ValueError):
        spool.open("../escape")
