"""OpenAI's words for the gateway's errors on `/v1`: error `type` and validation `code`.

OpenAI answers every client mistake (400, 404, 409) with type `invalid_request_error` and
its own failures with `server_error`; a refused field names itself in `param` and says
what is wrong in `code` (`missing_required_parameter`, `invalid_type`, `invalid_value`,
`integer_below_min_value`, ...). Pure functions over pydantic's error list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

OPENAI_ERROR_TYPES = {
    "not_found_error": "invalid_request_error",
    "conflict_error": "invalid_request_error",
    "upstream_error": "server_error",
    "internal_error": "server_error",
}
"""The gateway's error types OpenAI names otherwise; the rest are the same on `/v1`."""

_TYPE_MISMATCHES = frozenset(
    {"bool_type", "int_type", "float_type", "string_type", "list_type", "dict_type",
     "model_type", "model_attributes_type", "int_from_float", "bool_parsing", "int_parsing",
     "float_parsing", "union_tag_invalid", "is_instance_of"}
)  # fmt: skip
_BOUNDS = {
    "greater_than": "below_min_value",
    "greater_than_equal": "below_min_value",
    "less_than": "above_max_value",
    "less_than_equal": "above_max_value",
}


def openai_error_type(error_type: str) -> str:
    return OPENAI_ERROR_TYPES.get(error_type, error_type)


def validation_code(errors: Sequence[Mapping[str, Any]]) -> str:
    """OpenAI's code for the first field at fault in pydantic's `errors`."""
    first = next((e for e in errors if e.get("type") != "json_invalid"), None)
    if first is None:
        return "invalid_json"
    kind = str(first.get("type"))
    if kind == "missing":
        return "missing_required_parameter"
    if kind in _TYPE_MISMATCHES:
        return "invalid_type"
    if kind in _BOUNDS:
        number = "integer" if isinstance(first.get("input"), int) else "decimal"
        return f"{number}_{_BOUNDS[kind]}"
    if kind == "too_short":
        return "empty_array" if first.get("input") == [] else "invalid_value"
    if kind == "unsupported_value":
        return kind
    return "invalid_value"
