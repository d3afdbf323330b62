"""The search language: operators, filters, errors people can read, and no input that can
make FTS5 fail (in process, against a real FTS5 table)."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

import pytest

from collab_server.gallery.query import Filter, QueryError, parse_query


def ts(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def test_words_are_quoted_and_anded() -> None:
    assert parse_query("pandas plot").match == '("pandas") AND ("plot")'
    assert parse_query("pandas AND plot").match == '("pandas") AND ("plot")'


def test_phrase_or_parentheses_prefix() -> None:
    q = parse_query('"time series" (plot OR chart) vis*')
    assert q.match == '("time series") AND ((("plot")) OR (("chart"))) AND ("vis"*)'


def test_not_and_minus() -> None:
    assert parse_query("pandas NOT draft").match == '(("pandas")) NOT (("draft"))'
    assert parse_query("pandas -draft").match == '(("pandas")) NOT (("draft"))'
    assert parse_query("pandas -draft -old").match == '(("pandas")) NOT (("draft") OR ("old"))'


def test_only_negative_terms_become_an_exclusion() -> None:
    q = parse_query("-draft tag:finance")
    assert q.match is None and q.exclude == '"draft"'
    assert q.filters == (Filter("tag", "finance"),)


def test_user_quotes_and_fts_syntax_are_literals() -> None:
    q = parse_query('NEAR(a b) x^ "col: ^* AND"')
    # NEAR is a word here, ^ is text, and each quoted part is our literal.
    assert q.match == '("NEAR") AND (("a") AND ("b")) AND ("x^") AND ("col: ^* AND")'
    assert parse_query("a*b").match == '"a*b"'
    assert parse_query("lower and or not").match == '("lower") AND ("and") AND ("or") AND ("not")'


def test_filters() -> None:
    q = parse_query(
        'tag:ML owner:ana lang:Python package:pandas -tag:draft tag:"machine learning" x'
    )
    assert q.filters == (
        Filter("tag", "ML"),
        Filter("owner", "ana"),
        Filter("lang", "Python"),
        Filter("package", "pandas"),
        Filter("tag", "draft", negated=True),
        Filter("tag", "machine learning"),
    )
    assert q.match == '"x"'
    assert parse_query("NOT owner:bob x").filters == (Filter("owner", "bob", negated=True),)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("updated:>2026-01-01", ts("2026-01-02"), None),
        ("updated:>=2026-01-01", ts("2026-01-01"), None),
        ("updated:<2026-01-01", None, ts("2026-01-01")),
        ("updated:<=2026-01-01", None, ts("2026-01-02")),
        ("updated:2026-01-01", ts("2026-01-01"), ts("2026-01-02")),
        ("updated:>=2026-01-01 updated:<2026-02-01", ts("2026-01-01"), ts("2026-02-01")),
    ],
)
def test_updated_bounds(text: str, start: float | None, end: float | None) -> None:
    q = parse_query(text)
    assert (q.updated_from, q.updated_before) == (start, end)
    assert q.match is None and q.filters == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type something to search for."),
        ("   ", "Type something to search for."),
        ('"unclosed phrase', "A quotation mark is not closed"),
        ("(a OR b", "A parenthesis is not closed"),
        ("a OR b)", "A closing parenthesis has no opening one"),
        ("()", "Empty parentheses"),
        ('""', "Empty quotes"),
        ("updated:>2026-13-45", "updated: needs a date like 2026-01-31"),
        ("updated:yesterday", "updated: needs a date like 2026-01-31"),
        ("colour:red", "Unknown filter colour:"),
        ("tag:", "tag: needs a value"),
        ("a OR", "OR needs a term on each side"),
        ("a AND", "AND needs a term on each side"),
        ("AND a", "AND needs a term on each side"),
        ("a NOT", "NOT needs a term after it"),
        ("a -", None),  # a lone dash is a (harmless) word, not an error
        ("(a tag:x)", "put them outside parentheses"),
        ("a OR tag:x", "cannot be one side of OR"),
        ("a OR -b", "Each side of OR needs a word"),
        ("-updated:2026-01-01", "updated: cannot be negated"),
        ("x" * 1001, "too long"),
        (" ".join(["w"] * 65), "Too many search terms"),
        ("(" * 25 + "a" + ")" * 25, "Too many nested parentheses"),
    ],
)
def test_malformed_queries_explain_themselves(text: str, message: str | None) -> None:
    if message is None:
        parse_query(text)
        return
    with pytest.raises(QueryError) as err:
        parse_query(text)
    assert message in str(err.value)


def test_urls_and_cpp_names_are_text() -> None:
    assert parse_query("http://example.org std::vector").match is not None


_ALPHABET = [
    *"abc xyz\"()-*:^+{}[],.;!?\\/'",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "tag:",
    "owner:",
    "updated:>",
    "2026-01-01",
    "é",
    "\x00",
    "\t",
]


def test_no_generated_query_ever_makes_fts5_fail() -> None:
    """Thousands of random strings: each either raises QueryError or runs in FTS5."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize='porter unicode61')")
    conn.execute("INSERT INTO t VALUES ('alpha beta', 'tag x')")
    rng = random.Random(20261122)
    ran = rejected = 0
    for _ in range(4000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 14)))
        try:
            q = parse_query(text)
        except QueryError:
            rejected += 1
            continue
        for expression in (q.match, q.exclude):
            if expression is not None:
                conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [expression]).fetchall()
        ran += 1
    assert ran > 1000 and rejected > 100  # both paths were exercised


def test_nul_and_control_characters_cannot_cut_an_fts5_string() -> None:
    """Regression: a NUL inside a word ended FTS5's C string inside our quotes."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a)")
    q = parse_query("a\x00b\tc\x7f")
    assert q.match is not None
    conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [q.match]).fetchall()
