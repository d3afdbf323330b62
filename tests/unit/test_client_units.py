"""Pure parts of the Python client (frames, errors, the secret, notebook analysis) and the
activity roll-up it reads (real SQLite, in process)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import sqlite_utils

from collab_server.client import analysis
from collab_server.client.errors import (
    ClientError,
    Forbidden,
    NotFound,
    TokenRefused,
    error_for,
    scrub,
)
from collab_server.client.frames import dtypes, frame
from collab_server.client.transport import Secret, api_path
from collab_server.core.db import open_database
from collab_server.gallery import GalleryActivity, GalleryIndex, Readable

DAY = 86400.0
T0 = 1_780_000_000.0  # 2026-05-28, UTC


@pytest.fixture
def activity(tmp_path: Path) -> Iterator[GalleryActivity]:
    db: sqlite_utils.Database = open_database(tmp_path / "server.db")
    index = GalleryIndex(db)
    for file_id, path in (("a", "team/a.ipynb"), ("b", "team/b.ipynb"), ("s", "secret/s.ipynb")):
        index.upsert(file_id, path, {"cells": [], "metadata": {}})
    found = GalleryActivity(db)
    found.record_view("a", "ann", T0)
    found.record_view("a", "ann", T0 + 60)
    found.record_run("a", "bob", T0 + DAY)
    found.record_view("s", "ann", T0)
    found.record_view("b", "bob", T0 + 2 * DAY)
    yield found
    db.conn.close()


def test_daily_roll_up_filters_readable_person_day_and_pages(activity: GalleryActivity) -> None:
    everything = activity.daily(Readable.everything())
    assert everything == [
        {"day": "2026-05-28", "path": "secret/s.ipynb", "person": "ann", "views": 1, "runs": 0},
        {"day": "2026-05-28", "path": "team/a.ipynb", "person": "ann", "views": 2, "runs": 0},
        {"day": "2026-05-29", "path": "team/a.ipynb", "person": "bob", "views": 0, "runs": 1},
        {"day": "2026-05-30", "path": "team/b.ipynb", "person": "bob", "views": 1, "runs": 0},
    ]
    team = Readable.grants(folders=["team"])
    assert [r["path"] for r in activity.daily(team, person="ann")] == ["team/a.ipynb"]
    assert [r["day"] for r in activity.daily(team, since_day="2026-05-29")] == [
        "2026-05-29", "2026-05-30",
    ]  # fmt: skip
    assert [r["person"] for r in activity.daily(team, file_id="a")] == ["ann", "bob"]
    pages = [activity.daily(team, limit=1, offset=i) for i in range(4)]
    assert [len(p) for p in pages] == [1, 1, 1, 0]
    assert activity.daily(Readable.grants()) == []


def test_frames_are_typed_even_when_empty() -> None:
    columns = {"s": "str", "n": "int", "t": "time", "f": "float", "b": "bool", "o": "object"}
    rows = [
        {"s": "x", "n": 3, "t": "2026-01-02T03:04:05.123Z", "f": 0.5, "b": True, "o": ["q"]},
        {"s": None, "n": None, "t": None, "f": None, "b": None, "o": []},
    ]
    df = frame(rows, columns)  # type: ignore[arg-type]
    assert dict(df.dtypes.astype(str)) == dtypes(columns) == {  # type: ignore[arg-type]
        "s": "string", "n": "Int64", "t": "datetime64[ns, UTC]", "f": "Float64",
        "b": "boolean", "o": "object",
    }  # fmt: skip
    assert df["t"][0].isoformat() == "2026-01-02T03:04:05.123000+00:00"
    assert df["n"].isna().tolist() == [False, True]
    empty = frame([], columns)  # type: ignore[arg-type]
    assert list(empty.columns) == list(columns) and len(empty) == 0
    assert dict(empty.dtypes.astype(str)) == dtypes(columns)  # type: ignore[arg-type]


def test_errors_map_to_python_exceptions() -> None:
    assert isinstance(error_for(401, "x"), TokenRefused)
    assert isinstance(error_for(401, "x"), PermissionError)
    assert "your token was refused" in str(error_for(401, "Sign in first"))
    forbidden = error_for(403, "You may not see this notebook")
    assert isinstance(forbidden, Forbidden) and isinstance(forbidden, PermissionError)
    assert not isinstance(forbidden, TokenRefused) and forbidden.status == 403
    missing = error_for(404, "No notebook 'a.ipynb'")
    assert isinstance(missing, NotFound) and isinstance(missing, FileNotFoundError)
    assert str(missing) == "No notebook 'a.ipynb'" and missing.status == 404
    other = error_for(409, "busy")
    assert type(other) is ClientError and other.status == 409
    assert scrub("token abc in abc", "abc") == "token *** in ***"
    assert scrub("text", None) == "text"


def test_the_secret_never_shows_itself() -> None:
    secret = Secret("s3cr3t")
    assert "s3cr3t" not in f"{secret} {secret!r} {[secret]}"
    assert secret.reveal() == "s3cr3t"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_api_paths_are_escaped() -> None:
    assert api_path("/team a/r&d?.ipynb") == "team%20a/r%26d%3F.ipynb"


def test_notebook_analysis() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Sales\n\nBy region."),
        nbformat.v4.new_code_cell("import pandas as pd\nfrom sklearn import linear_model"),
        nbformat.v4.new_code_cell("!pip install seaborn\nx = 1"),
        nbformat.v4.new_raw_cell("raw"),
    ]
    assert analysis.markdown_sources(nb) == ["# Sales\n\nBy region."]
    assert len(analysis.code_sources(nb)) == 2
    assert analysis.packages(nb) == ["pandas", "seaborn", "sklearn"]
    assert analysis.title(nb) == "Sales"
    assert analysis.title(nbformat.v4.new_notebook(), "team/report.ipynb") == "report"
    assert "By region." in analysis.text(nb) and "import pandas" in analysis.text(nb)
    assert analysis.code_sources({"cells": "not a list"}) == []
