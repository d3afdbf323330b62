"""The one path normaliser and move rule (collab_server.core.paths)."""

from __future__ import annotations

import pytest

from collab_server.core.paths import covers, moved, normalize

CASES = [
    ("", ""),
    ("/a/b.ipynb/", "a/b.ipynb"),
    ("a//./b", "a/b"),
    ("a\\b", "a/b"),
    ("../x", None),
    ("a/../../x", None),
    ("a/..", None),
]
MORE_CASES = [
    ("/", ""),
    ("./", ""),
    ("a/./b/.", "a/b"),
    ("\\a\\..\\b", None),
    ("..", None),
    ("a/..b/c", "a/..b/c"),  # ".." only as a whole segment
    ("a/b..", "a/b.."),
    ("café/☕.ipynb", "café/☕.ipynb"),
    ("a b/c d.ipynb", "a b/c d.ipynb"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
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


@pytest.mark.parametrize(("raw", "expected"), CASES + MORE_CASES)
def test_the_authorizer_normalises_as_core_does(raw: str, expected: str | None) -> None:
    """Resources the authorizer asks about name paths exactly as core does: a path that
    normalised differently there could be authorized for one file and open another."""
    from collab_server.auth.jupyter import normalize_api_path

    assert normalize(raw) == expected
    assert normalize_api_path(raw) == expected
