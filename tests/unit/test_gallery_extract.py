"""Extraction of a notebook's searchable facts (pure, in process)."""

from __future__ import annotations

from typing import Any

from collab_server.gallery.extract import extract, markdown_text, python_packages


def nb(*cells: tuple[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": kind, "source": source, "id": f"c{i}"}
            for i, (kind, source) in enumerate(cells)
        ],
        "metadata": metadata or {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_title_is_first_heading_and_description_first_paragraph_after_it() -> None:
    facts = extract(
        nb(
            ("markdown", "Intro text before the title."),
            (
                "markdown",
                "# Sales **forecast** with [Prophet](https://x.y)\n\n"
                "Weekly sales,\nby store.\n\nMore.",
            ),
            ("code", "x = 1"),
        ),
        "team/forecast.ipynb",
    )
    assert facts.title == "Sales forecast with Prophet"
    assert facts.description == "Weekly sales, by store."
    assert not facts.title_from_name
    assert "Intro text" in facts.markdown
    assert facts.code == "x = 1"


def test_description_may_be_in_the_next_cell_and_setext_headings_count() -> None:
    facts = extract(
        nb(("markdown", "Churn model\n===========\n"), ("markdown", "Predicts churn.")), "a.ipynb"
    )
    assert facts.title == "Churn model"
    assert facts.description == "Predicts churn."


def test_no_heading_title_is_file_name_without_extension() -> None:
    facts = extract(
        nb(("markdown", "Just a paragraph."), ("code", "1")), "deep/folder/my notebook.ipynb"
    )
    assert facts.title == "my notebook"
    assert facts.title_from_name
    assert facts.description == "Just a paragraph."


def test_metadata_description_wins() -> None:
    facts = extract(
        nb(("markdown", "# T\n\nGuessed."), metadata={"collab": {"description": "Set by hand."}}),
        "t.ipynb",
    )
    assert facts.description == "Set by hand."


def test_source_as_list_of_lines_and_language() -> None:
    facts = extract(
        nb(
            ("markdown", ["# Title\n", "\n", "Text"]),
            ("code", ["import numpy\n", "numpy.zeros(1)"]),
            metadata={"kernelspec": {"name": "python3", "language": "python"}},
        ),
        "x.ipynb",
    )
    assert facts.title == "Title"
    assert facts.language == "python"
    assert facts.packages == ("numpy",)
    info = extract(nb(("code", "library(x)"), metadata={"language_info": {"name": "R"}}), "r.ipynb")
    assert info.language == "r"
    assert info.packages == ()  # not Python: no ast parsing


def test_imports_magics_and_pip_installs() -> None:
    code = [
        "%matplotlib inline\nimport pandas as pd, numpy.linalg\n"
        "from sklearn.model_selection import x",
        "!pip install -q seaborn 'plotly>=5' -r requirements.txt\n"
        "%pip install --upgrade Polars_Extra",
        "%%bash\nimport notpython",
        "df?\nfrom . import sibling\nimport os.path",
    ]
    assert python_packages(code) == {
        "pandas",
        "numpy",
        "sklearn",
        "seaborn",
        "plotly",
        "polars-extra",
        "os",
    }


def test_syntax_errors_fall_back_to_line_by_line_imports() -> None:
    code = ["import requests\nfrom bs4 import BeautifulSoup\ndef broken(:\n    pass\n"]
    assert python_packages(code) == {"requests", "bs4"}


def test_odd_content_never_raises_and_markers_are_stripped() -> None:
    forged = {"cell_type": "markdown", "source": "# A \x01forged\x02 mark"}
    weird: dict[str, Any] = {
        "cells": [None, {"cell_type": "code", "source": 5}, forged],
        "metadata": [],
    }
    facts = extract(weird, "w.ipynb")
    assert "\x01" not in facts.title and "\x02" not in facts.markdown
    assert extract({}, "empty.ipynb").title == "empty"


def test_code_hash_changes_with_code_only() -> None:
    a = extract(nb(("markdown", "# A"), ("code", "x = 1")), "a.ipynb")
    b = extract(nb(("markdown", "# B"), ("code", "x = 1")), "a.ipynb")
    c = extract(nb(("markdown", "# A"), ("code", "x = 2")), "a.ipynb")
    assert a.code_hash == b.code_hash != c.code_hash
    assert a.code_cells[0][0] == "c1"


def test_markdown_text_drops_marks_and_keeps_words() -> None:
    source = (
        "# Quarterly sales report ##\n"
        "This notebook shows the **sales** of _Q3_ via `pandas` and [our wiki](http://x.example/y).\n"
        "![a chart](chart.png)\n"
        "```python\nx_y = 1\n```\n"
        "> quoted *words* and my_var_name\n"
        "---\n"
        "- one item\n"
        "C# and 2 * 3 * 4 and <b>html</b>"
    )
    assert markdown_text(source).splitlines() == [
        "Quarterly sales report",
        "This notebook shows the sales of Q3 via pandas and our wiki.",
        "a chart",
        "x_y = 1",
        "quoted words and my_var_name",
        "one item",
        "C# and 2 * 3 * 4 and <b>html</b>",
    ]
    facts = extract(nb(("markdown", source)), "a.ipynb")
    assert facts.markdown == markdown_text(source)
