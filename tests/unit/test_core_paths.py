"""The one path normaliser and move rule (collab_server.core.paths)."""

from __future__ import annotations

import pytest

from collab_server.core.paths import covers, moved, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("/a/b.ipynb/", "a/b.ipynb"),
        ("a//./b", "a/b"),
        ("a\\b", "a/b"),
        ("../x", None),
        ("a/../../x", None),
        ("a/..", None),
    ],
)
def test_normalize(raw: str, expected: str | None) -> None:
    assert normalize(raw) == expected


def test_covers_whole_segments_only() -> None:
    assert covers("", "anything")
    assert covers("a", "a") and covers("a", "a/b")
    assert not covers("a", "ab") and not covers("a/b", "a")


def test_moved_file_folder_and_unrelated() -> None:
    assert moved("a/x.ipynb", "a/x.ipynb", "b/y.ipynb") == "b/y.ipynb"
    assert moved("a/sub/x.ipynb", "a", "z") == "z/sub/x.ipynb"
    assert moved("ab/x.ipynb", "a", "z") is None
    assert moved("other.ipynb", "a", "z") is None
