"""Pure parts of apps: the result of a run, progress, setup cells, cron schedules, the
OpenAPI description."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from collab_server.apps.notebook import (
    code_cells,
    error_line,
    progress,
    report_html,
    result_of,
    setup_count,
)
from collab_server.apps.openapi import openapi
from collab_server.apps.schedules import check_cron, due, next_fire, schedule_json
from collab_server.apps.store import Schedule
from collab_server.core.errors import Invalid

_IDS = itertools.count()


def cell(source: str, tags: list[str] | None = None, outputs: list[Any] | None = None) -> dict:
    return {"cell_type": "code", "id": f"c{next(_IDS)}", "source": source,
            "metadata": {"tags": tags or []}, "outputs": outputs or [],
            "execution_count": None}  # fmt: skip


def nb(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_the_result_is_the_json_output_else_the_text_of_the_result_cell():
    as_json = {"output_type": "display_data",
               "data": {"application/json": {"a": 1}, "text/plain": "<JSON>"}}  # fmt: skip
    as_text = {"output_type": "execute_result", "data": {"text/plain": ["4", "2"]}}
    printed = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    assert result_of(nb(cell("x"), cell("r", ["result"], [printed, as_json]))) == {"a": 1}
    assert result_of(nb(cell("r", ["result"], [printed, as_text]))) == "42"
    assert result_of(nb(cell("r", ["result"], [printed]))) == "hello\n"
    assert result_of(nb(cell("r", ["result"], []))) is None
    assert result_of(nb(cell("r", [], [as_json]))) is None  # no cell tagged result


def test_an_error_in_a_report_is_one_line_of_its_message():
    traceback = [
        "\x1b[0;31mValueError\x1b[0m  Traceback (most recent call last)",
        "\x1b[0;32m----> 2\x1b[0m \x1b[38;5;28;01mif\x1b[39;00m n < 0: raise SECRET_CODE",
    ]
    error = {"output_type": "error", "ename": "ValueError",
             "evalue": "n must \x1b[1mnot\x1b[0m be negative", "traceback": traceback}  # fmt: skip
    html = report_html(nb(cell("if n < 0: raise SECRET_CODE", [], [error])), "t")
    assert "The app stopped: n must not be negative" in html
    assert "SECRET_CODE" not in html and "Traceback" not in html and "ValueError" not in html
    assert error_line("KeyError", "") == "The app stopped because of an error."
    assert error_line("KeyboardInterrupt", "") == "The app was interrupted."


def test_setup_cells_and_progress_count_code_cells_only():
    markdown = {"cell_type": "markdown", "source": "# Title", "metadata": {}}
    book = nb(cell("import os"), markdown, cell("n = 1", ["parameters"]), cell(""), cell("n"))
    assert setup_count(book) == 2
    assert setup_count(nb(cell("x"))) == 0
    assert code_cells(book) == [0, 2, 4]  # the empty cell is not run
    assert progress(book, 2) == {"cell": 2, "of": 3}
    assert progress(book, 4) == {"cell": 3, "of": 3}


def test_cron_expressions_are_checked_and_fire_on_time():
    assert check_cron("0  6 * * *", 60) == "0 6 * * *"
    assert check_cron("* * * * * */10", 5) == "* * * * * */10"
    for bad in ("", "every day", "61 * * * *", "* * *", 5):
        with pytest.raises(Invalid):
            check_cron(bad, 0)
    with pytest.raises(Invalid, match="at most every 60 s"):
        check_cron("* * * * * *", 60)
    start = dt.datetime(2030, 1, 1, 5, 59, 59, tzinfo=dt.UTC)
    assert next_fire("0 6 * * *", start) == dt.datetime(2030, 1, 1, 6, tzinfo=dt.UTC)
    schedule = Schedule("s", "app", "ann", "0 6 * * *", {}, "2030-01-01T05:00:00Z")
    assert not due(schedule, start)
    assert due(schedule, start + dt.timedelta(seconds=1))
    schedule.last_fired = "2030-01-01T06:00:00Z"  # fired once: not again until tomorrow
    assert not due(schedule, dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC))
    noon = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
    assert schedule_json(schedule, noon)["next"] == "2030-01-02T06:00:00.000Z"
    schedule.active, schedule.stopped = False, "The app no longer exists"
    assert schedule_json(schedule, noon)["next"] is None


def test_openapi_describes_runs_with_the_parameters_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    doc = openapi({"id": "abc", "title": "T", "description": "", "version": 2,
                   "parameters": schema}, "/base/")  # fmt: skip
    assert doc["info"] == {"title": "T", "description": "", "version": "2"}
    assert doc["components"]["schemas"]["Parameters"] == schema
    post = doc["paths"]["/api/collab/apps/abc/runs"]["post"]
    assert set(post["responses"]) == {"200", "202", "422", "429"}
    assert doc["servers"] == [{"url": "/base"}]


async def test_the_store_keeps_runs_per_owner_and_forgets_old_finished_ones(tmp_path):
    from collab_server.apps.store import AppStore, Run
    from collab_server.core.db import open_database

    store = AppStore(open_database(tmp_path / "db.sqlite"))
    old = Run("r1", "app", 1, "ann", {"n": 1}, created="2020-01-01T00:00:00.000Z")
    mine = Run("r2", "app", 1, "ann", {}, schedule_id="s1")
    theirs = Run("r3", "app", 1, "bob", {})
    for run in (old, mine, theirs):
        await store.add_run(run)
    old.status, old.result = "succeeded", {"a": [1]}
    await store.save_run(old, {"cells": [], "metadata": {}})
    assert store.run("r1").result == {"a": [1]} and store.notebook("r1") == {
        "cells": [], "metadata": {}}  # fmt: skip
    assert [r.id for r in store.runs("ann")] == ["r2", "r1"]
    assert [r.id for r in store.runs("ann", schedule_id="s1")] == ["r2"]
    assert store.runs("carl") == []
    assert await store.prune("2021-01-01T00:00:00Z") == 1  # only the old finished run
    assert store.run("r1") is None and store.run("r2") is not None
    assert await store.close_interrupted("stopped") == 2  # r2 and r3 were left queued
    assert store.run("r3").status == "failed"
