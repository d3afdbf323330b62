"""An app's parameters as JSON Schema, and checking what a caller submits against it.

Pure: notebooks in, JSON Schema and errors out (no I/O).

* The cell tagged ``parameters`` (papermill's convention) holds the defaults. Papermill's own
  translator parses it (``Translator.inspect``: name, annotated type, default expression and
  the ``# help`` comment after it), so a notebook papermill runs is an app here with the same
  names. Papermill reports a type only when the line is annotated (``n: int = 3``); an
  unannotated default is typed by its Python literal (``3`` → integer, ``"a"`` → string,
  ``[…]`` → array, ``{…}`` → object). A default that is an expression (``len(x)``) gives a
  parameter of no declared type and no default: the notebook computes it.
* ``metadata.collab.parameters`` in the notebook is a JSON Schema that overrides the inferred
  one, property by property (enums, ranges, formats such as ``date``, descriptions); its other
  top-level keys (``title``, ``required``, …) replace the inferred ones.
* :func:`check_parameters` refuses names the app does not take and values of the wrong type
  (``Unprocessable``, 422) with the field at fault named, using ``jsonschema``.
"""

from __future__ import annotations

import ast
import copy
import math
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError
from papermill.translators import papermill_translators

from ..core.errors import Unprocessable

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
RESULT_TAG = "result"

# Python type names (annotations and literal defaults) → JSON Schema types.
_JSON_TYPES: dict[str, str] = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "dict": "object",
}

MAX_PARAMETERS = 200


def tags_of(cell: dict[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def tagged_index(nb: dict[str, Any], tag: str) -> int:
    """The index of the first cell tagged ``tag``, or -1."""
    for index, cell in enumerate(nb.get("cells") or []):
        if tag in tags_of(cell):
            return index
    return -1


def _language(nb: dict[str, Any]) -> tuple[str, str]:
    metadata = nb.get("metadata") or {}
    spec = metadata.get("kernelspec") or {}
    kernel = str(spec.get("name") or "python3")
    language = str(spec.get("language") or (metadata.get("language_info") or {}).get("name") or "")
    return kernel, language or "python"


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _literal(text: str) -> tuple[bool, Any]:
    """(True, value) if ``text`` is a Python literal JSON can carry, else (False, None)."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return False, None
    return _jsonable(value), value


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


def _type_of(value: Any) -> str | None:
    if value is None:
        return None
    return _JSON_TYPES.get(type(value).__name__)


def infer_schema(nb: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of the notebook's ``parameters`` cell (no override applied)."""
    schema: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    index = tagged_index(nb, PARAMETERS_TAG)
    if index < 0:
        return schema
    cell = nb["cells"][index]
    kernel, language = _language(nb)
    try:
        translator = papermill_translators.find_translator(kernel, language)
        found = translator.inspect(_Cell(_source(cell)))
    except (NotImplementedError, ValueError):
        # A language papermill cannot read parameters of: the app takes none by inference
        # (metadata.collab.parameters can still declare them).
        return schema
    properties: dict[str, Any] = schema["properties"]
    for parameter in found[:MAX_PARAMETERS]:
        prop: dict[str, Any] = {"title": parameter.name}
        is_literal, default = _literal(str(parameter.default or ""))
        annotated = _JSON_TYPES.get(str(parameter.inferred_type_name or "").split("[")[0])
        json_type = annotated or (_type_of(default) if is_literal else None)
        if json_type is not None:
            prop["type"] = json_type
        if is_literal:
            prop["default"] = default
        if json_type == "number" and isinstance(default, int) and not isinstance(default, bool):
            prop["default"] = float(default)
        if parameter.help:
            prop["description"] = str(parameter.help).strip()
        properties[parameter.name] = prop
    return schema


class _Cell(dict):  # type: ignore[type-arg]
    """What papermill's ``Translator.inspect`` reads of a cell: ``.source``."""

    def __init__(self, source: str) -> None:
        super().__init__(source=source, cell_type="code", metadata={})
        self.source = source


def override_of(nb: dict[str, Any]) -> dict[str, Any] | None:
    collab = (nb.get("metadata") or {}).get("collab") or {}
    override = collab.get("parameters") if isinstance(collab, dict) else None
    return override if isinstance(override, dict) else None


def merge_schema(inferred: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """``inferred`` with ``override`` applied: properties merged one by one (the override's
    keys win), every other top-level key replaced."""
    merged = copy.deepcopy(inferred)
    if not override:
        return merged
    for key, value in override.items():
        if key != "properties":
            merged[key] = copy.deepcopy(value)
    extra = override.get("properties")
    if isinstance(extra, dict):
        properties = merged.setdefault("properties", {})
        for name, prop in extra.items():
            if not isinstance(prop, dict):
                continue
            base = properties.get(name, {"title": name})
            properties[name] = {**base, **copy.deepcopy(prop)}
    return merged


def app_schema(nb: dict[str, Any]) -> dict[str, Any]:
    """The app's parameters schema: inferred, then overridden by the notebook's metadata.

    Raises :class:`Unprocessable` if the override is not a valid JSON Schema (the app cannot
    check what callers send; its publisher has to fix the notebook)."""
    schema = merge_schema(infer_schema(nb), override_of(nb))
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise Unprocessable(
            f"The notebook's metadata.collab.parameters is not a valid JSON Schema: {e.message}"
        ) from None
    return schema


def check_parameters(schema: dict[str, Any], parameters: Any) -> dict[str, Any]:
    """``parameters`` if they fit ``schema``; else :class:`Unprocessable` naming the field."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise Unprocessable('"parameters" must be a JSON object of name → value')
    known = schema.get("properties") or {}
    unknown = sorted(name for name in parameters if name not in known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise Unprocessable(
            f'Unknown parameter "{unknown[0]}": this app takes {takes}',
        )
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(parameters), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        path = list(error.absolute_path)
        if path:
            field = ".".join(str(p) for p in path)
            raise Unprocessable(f'Parameter "{field}": {_short(error.message)}')
        raise Unprocessable(f"Parameters: {_short(error.message)}")
    return parameters


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def kernel_language(nb: dict[str, Any]) -> tuple[str, str]:
    """(kernel name, language) of the notebook, as papermill picks its translator."""
    return _language(nb)
