"""The gallery's search language, parsed into a safe SQLite FTS5 MATCH expression and filters.

This module owns the query grammar; it is pure (no database). A person types::

    pandas "time series" (plot OR chart) -draft tag:finance owner:ana updated:>=2026-01-01

* words (a trailing ``*`` searches by prefix), ``"phrases"``;
* ``AND`` (also implied between terms), ``OR``, ``NOT`` (upper case, as in FTS5), ``-term``,
  parentheses;
* filters ``tag:x``, ``owner:name``, ``lang:python``, ``package:pandas`` (a filter may be
  negated, ``-tag:draft``, and its value quoted, ``tag:"machine learning"``), and
  ``updated:`` with ``>``, ``<``, ``>=``, ``<=`` or a bare ``YYYY-MM-DD`` (that day, UTC).

User text never reaches FTS5 as syntax: every word and phrase is emitted as an FTS5 string
(``"..."`` with ``"`` doubled), and the operators and parentheses are written by us from the
parse tree, so no input can produce an FTS5 syntax error. Anything we cannot make sense of
raises :class:`QueryError` with a message meant for the person who typed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..core.errors import Invalid

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64  # an FTS5 expression with thousands of terms is slow, never useful
FILTERS = ("tag", "owner", "lang", "package", "updated")
_DATE_OPS = (">=", "<=", ">", "<")
_CONTROL_TO_SPACE = {c: " " for c in [*range(32), 127]}


class QueryError(Invalid, ValueError):
    """A search query we cannot run; the message is shown to the person who typed it (an
    :class:`~collab_server.core.errors.Invalid`: a 400 wherever it escapes a handler)."""


@dataclass(frozen=True)
class Filter:
    """``field:value``; ``negated`` for ``-field:value`` or ``NOT field:value``."""

    field: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A query ready for the index.

    ``match`` must match (None: no text condition); ``exclude`` must not (for a query whose
    only text terms are negative, which FTS5 cannot say on its own); ``updated_from`` and
    ``updated_before`` bound the update time as POSIX seconds (inclusive, exclusive).
    """

    match: str | None
    exclude: str | None = None
    filters: tuple[Filter, ...] = field(default=())
    updated_from: float | None = None
    updated_before: float | None = None


# ---- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT NEG FILTER
    text: str = ""
    prefix: bool = False  # WORD*
    name: str = ""  # FILTER name


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The text between the quote at ``start`` and the next quote; position after it."""
    end = text.find('"', start + 1)
    if end < 0:
        raise QueryError('A quotation mark is not closed: add the closing ".')
    return text[start + 1 : end], end + 1


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(_Token("LPAREN"))
            i += 1
        elif c == ")":
            tokens.append(_Token("RPAREN"))
            i += 1
        elif c == '"':
            phrase, i = _read_quoted(text, i)
            tokens.append(_Token("PHRASE", phrase))
        elif c == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != "-":
            tokens.append(_Token("NEG"))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                if text[i] == ":" and i > start and text[start:i].lower() in FILTERS:
                    break
                i += 1
            word = text[start:i]
            if i < n and text[i] == ":" and word.lower() in FILTERS:
                i += 1
                if i < n and text[i] == '"':
                    value, i = _read_quoted(text, i)
                else:
                    vstart = i
                    while i < n and not text[i].isspace() and text[i] not in "()":
                        i += 1
                    value = text[vstart:i]
                if not value.strip():
                    raise QueryError(f"{word.lower()}: needs a value, e.g. {_example(word)}.")
                tokens.append(_Token("FILTER", value.strip(), name=word.lower()))
            elif word in ("AND", "OR", "NOT"):
                tokens.append(_Token(word))
            else:
                if ":" in word:
                    name, rest = word.split(":", 1)
                    # "std::vector" or "http://x" are text; "color:red" looks like a filter.
                    if name.isalpha() and rest and rest[0] not in ":/":
                        raise QueryError(
                            f"Unknown filter {name}: — use one of "
                            + ", ".join(f"{f}:" for f in FILTERS)
                            + ', or put the text in quotes to search for it ("a:b").'
                        )
                prefix = word.endswith("*") and len(word.rstrip("*")) > 0
                tokens.append(_Token("WORD", word.rstrip("*") if prefix else word, prefix))
    return tokens


def _example(name: str) -> str:
    return {
        "tag": "tag:finance",
        "owner": "owner:ana",
        "lang": "lang:python",
        "package": "package:pandas",
        "updated": "updated:>2026-01-01",
    }.get(name.lower(), f"{name}:value")


# ---- parse tree ---------------------------------------------------------------------------
# Node = ("term", fts_string) | ("and", [nodes]) | ("or", [nodes]) | ("not", node)
Node = tuple[str, object]


def _fts_string(text: str) -> str:
    """``text`` as an FTS5 string: a literal, never syntax."""
    return '"' + text.replace('"', '""') + '"'


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.filters: list[Filter] = []
        self.depth = 0
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node | None:
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            if token.kind == "RPAREN":
                raise QueryError("A closing parenthesis has no opening one: remove the extra ).")
            raise QueryError(f"Unexpected {token.kind} in the query.")  # pragma: no cover
        return node

    def or_expr(self) -> Node | None:
        parts = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            following = self.peek()
            if following is None or following.kind in ("RPAREN", "OR", "AND"):
                raise QueryError("OR needs a term on each side, e.g. plot OR chart.")
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        if any(p is None for p in parts):
            raise QueryError(
                "Filters like tag:x apply to the whole query; they cannot be one side of OR."
            )
        return ("or", parts)

    def and_expr(self) -> Node | None:
        parts: list[Node] = []
        first = True
        while (token := self.peek()) is not None and token.kind not in ("OR", "RPAREN"):
            if token.kind == "AND":
                self.take()
                following = self.peek()
                if first or following is None or following.kind in ("OR", "RPAREN", "AND"):
                    raise QueryError("AND needs a term on each side, e.g. pandas AND plot.")
                continue
            first = False
            node = self.unary()
            if node is not None:
                parts.append(node)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self) -> Node | None:
        token = self.take()
        if token.kind in ("NOT", "NEG"):
            following = self.peek()
            if following is None or following.kind in ("OR", "AND", "RPAREN", "NOT", "NEG"):
                word = "NOT" if token.kind == "NOT" else "-"
                raise QueryError(f"{word} needs a term after it, e.g. {word} draft.")
            if following.kind == "FILTER":
                self.take()
                self.add_filter(following, negated=True)
                return None
            inner = self.unary()
            return ("not", inner) if inner is not None else None
        if token.kind == "FILTER":
            self.add_filter(token, negated=False)
            return None
        if token.kind == "LPAREN":
            self.depth += 1
            if self.depth > 20:
                raise QueryError("Too many nested parentheses.")
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise QueryError("A parenthesis is not closed: add the closing ).")
            self.take()
            self.depth -= 1
            if node is None:
                raise QueryError("Empty parentheses: put search words inside ( ).")
            return node
        if token.kind == "RPAREN":  # pragma: no cover - and_expr stops before it
            raise QueryError("A closing parenthesis has no opening one: remove the extra ).")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"Too many search terms (at most {MAX_TERMS}).")
        if token.kind == "PHRASE":
            if not token.text.strip():
                raise QueryError('Empty quotes: put the words to search for between " ".')
            return ("term", _fts_string(token.text))
        return ("term", _fts_string(token.text) + ("*" if token.prefix else ""))

    def add_filter(self, token: _Token, negated: bool) -> None:
        if self.depth:
            raise QueryError(
                "Filters like tag:x apply to the whole query; put them outside parentheses."
            )
        if token.name == "updated" and negated:
            raise QueryError("updated: cannot be negated; use updated:<date or updated:>date.")
        self.filters.append(Filter(token.name, token.text, negated))


# ---- rendering to FTS5 --------------------------------------------------------------------


def _render(node: Node) -> tuple[str | None, str | None]:
    """``(positive, negative)``: rows must match positive and not negative (either may be
    None). FTS5's NOT is binary (``a NOT b``), so a lone negative is handed back to the
    caller instead of being rendered."""
    kind, value = node
    if kind == "term":
        return str(value), None
    if kind == "not":
        pos, neg = _render(value)  # type: ignore[arg-type]
        if pos is None:  # NOT -x is x
            return neg, None
        return None, f"({pos}) NOT ({neg})" if neg else pos
    parts = [_render(child) for child in value]  # type: ignore[attr-defined]
    if kind == "and":
        positives = [p for p, _ in parts if p is not None]
        negatives = [n for _, n in parts if n is not None]
        pos = " AND ".join(f"({p})" for p in positives) if positives else None
        neg = " OR ".join(f"({n})" for n in negatives) if negatives else None
        return pos, neg
    # OR: every side must be expressible as a positive expression.
    rendered: list[str] = []
    for pos, neg in parts:
        if pos is None:
            raise QueryError("Each side of OR needs a word to search for, not only NOT/-.")
        rendered.append(f"({pos}) NOT ({neg})" if neg else f"({pos})")
    return " OR ".join(f"({r})" for r in rendered), None


def _day(text: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise QueryError(f"updated: needs a date like 2026-01-31, not {text[:40]!r}.") from None
    return day.replace(tzinfo=UTC)


def _updated_bounds(filters: list[Filter]) -> tuple[float | None, float | None]:
    start: float | None = None
    end: float | None = None
    for f in filters:
        op = next((o for o in _DATE_OPS if f.value.startswith(o)), "")
        day = _day(f.value[len(op) :].strip())
        lo, hi = day.timestamp(), (day + timedelta(days=1)).timestamp()
        bounds: tuple[float | None, float | None]
        if op == ">":
            bounds = (hi, None)
        elif op == ">=":
            bounds = (lo, None)
        elif op == "<":
            bounds = (None, lo)
        elif op == "<=":
            bounds = (None, hi)
        else:
            bounds = (lo, hi)
        if bounds[0] is not None:
            start = bounds[0] if start is None else max(start, bounds[0])
        if bounds[1] is not None:
            end = bounds[1] if end is None else min(end, bounds[1])
    return start, end


def parse_query(text: str) -> ParsedQuery:
    """Parse what a person typed; raise :class:`QueryError` if it cannot be run."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"The query is too long (at most {MAX_QUERY_LENGTH} characters).")
    if not text.strip():
        raise QueryError("Type something to search for.")
    # FTS5 reads its query as a C string: a NUL would end it inside one of our quoted
    # strings ("unterminated string"). Control characters carry no meaning in a query.
    text = text.translate(_CONTROL_TO_SPACE)
    parser = _Parser(_tokenize(text))
    node = parser.parse()
    filters = [f for f in parser.filters if f.field != "updated"]
    for f in filters:
        if len(f.value) > 200:
            raise QueryError(f"The {f.field}: value is too long.")
    start, end = _updated_bounds([f for f in parser.filters if f.field == "updated"])
    match, exclude = _render(node) if node is not None else (None, None)
    if match is None and exclude is None and not parser.filters:
        raise QueryError("Type something to search for.")  # pragma: no cover - e.g. "()"
    if match is not None and exclude is not None:
        match, exclude = f"({match}) NOT ({exclude})", None
    return ParsedQuery(
        match=match,
        exclude=exclude,
        filters=tuple(filters),
        updated_from=start,
        updated_before=end,
    )
