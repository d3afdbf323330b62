"""Change requests are numbered per notebook, also those made before numbering existed."""

from __future__ import annotations

import sqlite_utils

from collab_server.core.db import migrate
from collab_server.gallery import changes


def test_requests_made_before_numbering_are_numbered_per_notebook() -> None:
    db = sqlite_utils.Database(memory=True)
    migrate(db, "gallery_change_requests", changes.MIGRATIONS[:1])
    for file_id in ("a", "b", "a", "c", "a", "b"):
        db.conn.execute(
            "INSERT INTO gallery_change_requests (file_id, proposer, proposer_name, message,"
            " source, base, proposed, created) VALUES (?, 'p', 'P', 'm', 'draft', x'', x'', 't')",
            [file_id],
        )
    db.conn.commit()
    migrate(db, "gallery_change_requests", changes.MIGRATIONS)
    rows = db.conn.execute(
        "SELECT file_id, number FROM gallery_change_requests ORDER BY id"
    ).fetchall()
    assert rows == [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)]


def test_a_new_request_takes_the_next_number_of_its_notebook() -> None:
    db = sqlite_utils.Database(memory=True)
    store = changes.ChangeRequests(db)
    person = {"id": "p", "name": "P"}
    made = [store.create(f, person, "m", "draft", {}, {}).id for f in ("a", "b", "a", "a")]
    assert made == [1, 1, 2, 3]
    assert store.get("a", 3) is not None and store.get("b", 2) is None
