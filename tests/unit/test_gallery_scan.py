"""The gallery's disk scan: which files it sees (hidden names and links skipped) and its bound."""

from __future__ import annotations

from pathlib import Path

from collab_server.gallery.service import notebooks_under


def test_scan_lists_notebooks_and_skips_hidden_names_and_links(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.ipynb").write_text("{}")
    (tmp_path / "top.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.ipynb").write_text("{}")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints" / "deep-checkpoint.ipynb").write_text("{}")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "elsewhere.ipynb").write_text("{}")
    (tmp_path / "link").symlink_to(outside)
    (tmp_path / "linked.ipynb").symlink_to(tmp_path / "top.ipynb")

    found, complete = notebooks_under(tmp_path, 1000)
    assert sorted(found) == ["a/b/deep.ipynb", "top.ipynb"]
    assert complete


def test_a_scan_cut_short_says_so(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "n.ipynb").write_text("{}")
    found, complete = notebooks_under(tmp_path, 3)
    assert not complete and len(found) < 5
