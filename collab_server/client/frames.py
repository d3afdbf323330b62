"""Rows (JSON objects from the API) into pandas DataFrames with typed columns.

This module owns the one lazy import of pandas and the column types: times are
``datetime64[ns, UTC]``, whole numbers ``Int64``, fractions ``Float64``, yes/no ``boolean``,
text ``string`` (each nullable, so a missing value stays missing), and lists or objects stay
Python objects. An empty result still has every column, with its type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

Kind = Literal["str", "int", "float", "bool", "time", "object"]

_DTYPES: dict[str, str] = {
    "str": "string",
    "int": "Int64",
    "float": "Float64",
    "bool": "boolean",
    "time": "datetime64[ns, UTC]",
    "object": "object",
}

INSTALL_HINT = 'collab_server.client needs pandas: pip install "collab-server[client]"'


def pandas() -> Any:
    """pandas, or an ImportError that says how to install it."""
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return pd


def frame(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, Kind]) -> Any:
    """A DataFrame of ``rows`` with exactly ``columns`` (name → kind), typed."""
    pd = pandas()
    rows = list(rows)
    data: dict[str, Any] = {}
    for name, kind in columns.items():
        values = [row.get(name) for row in rows]
        if kind == "time":
            series = pd.to_datetime(
                pd.Series(values, dtype="object"), utc=True, format="ISO8601", errors="coerce"
            )
            data[name] = series.astype(_DTYPES["time"])
        elif kind == "object":
            data[name] = pd.Series(values, dtype="object")
        else:
            data[name] = pd.Series(values, dtype="object").astype(_DTYPES[kind])
    return pd.DataFrame(data, columns=list(columns))


def dtypes(columns: Mapping[str, Kind]) -> dict[str, str]:
    """The pandas dtype names of ``columns`` (what the tests and the docs promise)."""
    return {name: _DTYPES[kind] for name, kind in columns.items()}
