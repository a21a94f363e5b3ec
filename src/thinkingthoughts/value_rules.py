"""What text and numbers the gateway accepts from clients, and how a reply is made storable.

Decided once, here, and enforced at the edge for every API:

- Text is any Unicode string without NUL (U+0000) and without lone surrogates (U+D800 to
  U+DFFF outside a pair). PostgreSQL refuses NUL in text and JSON columns, and no UTF-8
  encoder (SQLite's, PostgreSQL's, orjson's) can write a lone surrogate. In a decoded
  Python string a well-formed pair is already one code point, so any surrogate code point
  left is a lone one. Dictionary keys are text too.
- Integers lie in the signed 64-bit range, what both databases and the JSON encoder hold;
  `true` and `"2"` are not integers, `2.0` is one, as JSON Schema counts them (`Int64`,
  `NUMBERS_ONLY`); `true` is not a number either (`Number`).
- Floats are finite: `1e400` decodes as infinity and `NaN` as not-a-number, and JSON can
  carry neither onwards.

A client's value that breaks a rule is refused with its location (a 422 on the native API,
a 400 with `param` on `/v1`) before anything is stored. An upstream reply is never refused
for its text: `storable_text` replaces each NUL and lone surrogate by U+FFFD, once, where
replies are relayed and recorded, so that what the client receives and what is stored agree.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
REPLACEMENT_CHARACTER = "\ufffd"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Location = tuple[str | int, ...]
T = TypeVar("T")


def text_problem(text: str) -> str | None:
    """Why a client's text is refused, or None when it is accepted as it is."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain the NUL character (U+0000)"
    return f"must not contain a lone surrogate (U+{ord(found.group()):04X})"


def number_problem(number: int | float) -> str | None:
    """Why a client's number is refused, or None. Booleans are values, not numbers, here."""
    if isinstance(number, bool):
        return None
    if isinstance(number, int):
        if MIN_INT64 <= number <= MAX_INT64:
            return None
        return "must be an integer between -2**63 and 2**63 - 1"
    if math.isfinite(number):
        return None
    return "must be a finite number (not infinity or NaN)"


def value_problems(value: Any, location: Location = ()) -> Iterator[tuple[Location, str]]:
    """Every string, key and number in decoded JSON that breaks a rule, with where it is."""
    if isinstance(value, str):
        problem = text_problem(value)
    elif isinstance(value, int | float):
        problem = number_problem(value)
    elif isinstance(value, dict):
        problem = None
        for key, item in value.items():
            # A location is shown in the error, so it must itself be acceptable text.
            where = (*location, storable_text(key) if isinstance(key, str) else key)
            key_problem = text_problem(key) if isinstance(key, str) else None
            if key_problem is not None:
                yield location, f"a key {key_problem}"
            yield from value_problems(item, where)
    elif isinstance(value, list | tuple):
        problem = None
        for index, item in enumerate(value):
            yield from value_problems(item, (*location, index))
    else:
        problem = None
    if problem is not None:
        yield location, problem


def require_acceptable(value: T) -> T:
    """`value` unchanged if every part of it is acceptable; else a pydantic error per
    problem, located inside `value` (pydantic prefixes where `value` itself sits)."""
    problems = list(value_problems(value))
    if not problems:
        return value
    raise ValidationError.from_exception_data(
        "client value",
        [
            InitErrorDetails(
                type=PydanticCustomError("unacceptable_value", problem),
                loc=location,
                input=None,  # never echoed: it may be the very text that cannot be encoded
            )
            for location, problem in problems
        ],
    )


AcceptableText = Annotated[str, AfterValidator(require_acceptable)]
"""A path or query parameter (an id, a ref, a name): text the gateway accepts."""
AcceptableJsonObject = Annotated[dict[str, Any], AfterValidator(require_acceptable)]
"""A free-form JSON object (a merge patch, passthrough fields) whose every part is checked."""


def refuse_boolean(value: T) -> T:
    """JSON's `true` and `false` are not numbers, though Python counts them as integers."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def refuse_non_number(value: T) -> T:
    """Only a JSON number may become an integer: not `true` or `false`, and not `"2"`,
    which pydantic's lax mode would read as 2 though JSON Schema calls it a string."""
    if isinstance(value, str | bytes | bytearray):
        raise ValueError("must be a number, not a string")
    return refuse_boolean(value)


NUMBERS_ONLY = BeforeValidator(refuse_non_number)
"""Makes an `int` field take integers as JSON Schema counts them: `2` and `2.0` alike
(`2.5`, `true` and `"2"` are refused). Put it last, after the field's bounds:
`Annotated[int, Field(ge=1, le=5), NUMBERS_ONLY]` (bounds placed after a validator are
enforced but published under pydantic's names, not as `minimum` and `maximum`)."""
Int64 = Annotated[int, Field(ge=MIN_INT64, le=MAX_INT64), NUMBERS_ONLY]
"""An integer a client sends, within 64 bits (see `NUMBERS_ONLY`)."""


Number = Annotated[StrictFloat | StrictInt, BeforeValidator(refuse_boolean)]
"""A number a client sends, integer or not, kept as sent, never `true` or `false` (finite:
see `ClientModel`); bound it with `Field(ge=..., le=...)` where it is declared."""


class ClientModel(BaseModel):
    """Base of every request body: before its fields are read, each string, key and number
    anywhere in the decoded JSON (extra and free-form fields included) must be acceptable."""

    @model_validator(mode="before")
    @classmethod
    def _acceptable_values(cls, data: Any) -> Any:
        return require_acceptable(data)


def loads_reply_json(raw: str | bytes) -> Any:
    """Decode an upstream's JSON, also when it escapes a lone surrogate (`"\\ud800"`), as
    the standard library's encoder does and orjson refuses: the reply is kept and made
    storable where it is relayed. Anything else that is not JSON raises orjson's error."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as refused:
        try:
            return json.loads(raw)
        except ValueError:
            raise refused from None


def storable_text(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD (the same object when
    there is none). Idempotent: the result is acceptable text."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(REPLACEMENT_CHARACTER, text)


def storable_json(value: T) -> T:
    """Decoded JSON with `storable_text` applied to every string and key; the same object
    when nothing needed replacing, so a clean reply costs no copy."""
    if _encodes_cleanly(value):
        return value
    return _storable_parts(value)


def _encodes_cleanly(value: Any) -> bool:
    # orjson finds both cases in C, far faster than a walk in Python: it refuses a lone
    # surrogate and writes NUL as the escape below (a literal backslash-u0000 in a text
    # merely takes the slow path, which then changes nothing).
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        return False
    return b"\\u0000" not in encoded


def _storable_parts(value: T) -> T:
    if isinstance(value, str):
        return storable_text(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        items = [(_storable_parts(k), _storable_parts(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        cleaned = [_storable_parts(item) for item in value]
        if all(new is old for new, old in zip(cleaned, value, strict=True)):
            return value
        return type(value)(cleaned)
    return value


ACCEPTABLE_TEXT_PATTERN = "^[^\\u0000]*$"
"""The text rule as a JSON Schema pattern, for the published API documents. It names NUL
only: regex engines that read strings as Unicode scalar values (Rust's, used by JSON Schema
validators such as the fuzzer's) refuse a pattern naming surrogates, and drop it whole, NUL
included. A lone surrogate is not a Unicode scalar value, so no such engine (nor I-JSON,
RFC 7493) counts a string holding one as text in the first place."""
WHITESPACE_CLASS = (
    "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
"""Unicode's White_Space characters, what pydantic strips (`strip_whitespace`), as a
character class body that Python's, Rust's and ECMA-262's regex engines all read alike."""
NON_BLANK_TEXT_PATTERN = f"^[^\\u0000]*[^\\u0000{WHITESPACE_CLASS}][^\\u0000]*$"
"""Acceptable text with something besides whitespace: what a stripped field that must not
be empty accepts, as a JSON Schema pattern."""
_BLANK = re.compile(f"[{WHITESPACE_CLASS}]*")


def is_blank(text: str) -> bool:
    """True when `text` is empty or only whitespace, as `NON_BLANK_TEXT_PATTERN` says."""
    return _BLANK.fullmatch(text) is not None


NON_BLANK = Field(json_schema_extra={"pattern": NON_BLANK_TEXT_PATTERN})
"""Publishes that a stripped text field with `min_length=1` refuses blank text (pydantic
strips before it counts, so `minLength` alone would call `"  "` valid)."""
ACCEPTABLE_VALUE_SCHEMA = "AcceptableValue"
"""Name of the document's schema of a free-form JSON value that follows every rule."""


def document_value_rules(schemas: dict[str, Any], fragment: Any) -> None:
    """Write the rules into an OpenAPI fragment, in place: a pattern on every string,
    64-bit bounds on every integer, acceptable keys and values in every free-form object
    (`schemas` gains `ACCEPTABLE_VALUE_SCHEMA` for them). The code enforces them anyway;
    the document says so, so that a request the schema calls valid is not refused."""
    if isinstance(fragment, list):
        for item in fragment:
            document_value_rules(schemas, item)
        return
    if not isinstance(fragment, dict):
        return
    kind = fragment.get("type")
    if kind == "string" and not {"enum", "const", "pattern", "format"} & fragment.keys():
        fragment["pattern"] = ACCEPTABLE_TEXT_PATTERN
    if kind == "integer":
        # The 64-bit bound first: on a tie it is kept as the exact integer, not the float
        # the document builder made of it (-2**63 as a float lets -2**63 - 191 through).
        fragment["minimum"] = max(MIN_INT64, fragment.get("minimum", MIN_INT64))
        fragment["maximum"] = min(MAX_INT64, fragment.get("maximum", MAX_INT64))
    if kind == "object":
        names = fragment.setdefault("propertyNames", {})
        if isinstance(names, dict) and not {"enum", "const", "pattern"} & names.keys():
            names["pattern"] = ACCEPTABLE_TEXT_PATTERN
        if fragment.get("additionalProperties", True) is True:
            fragment["additionalProperties"] = {"$ref": _value_ref()}
            schemas.setdefault(ACCEPTABLE_VALUE_SCHEMA, _acceptable_value_schema())
    for key, value in list(fragment.items()):
        if key != "additionalProperties" or isinstance(value, dict):
            document_value_rules(schemas, value)


def _value_ref() -> str:
    return f"#/components/schemas/{ACCEPTABLE_VALUE_SCHEMA}"


def _acceptable_value_schema() -> dict[str, Any]:
    ref = {"$ref": _value_ref()}
    return {
        "description": "Any JSON value whose texts, keys and integers follow the value rules.",
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "integer", "minimum": MIN_INT64, "maximum": MAX_INT64},
            {"type": "number", "minimum": MIN_INT64, "maximum": MAX_INT64},
            {"type": "string", "pattern": ACCEPTABLE_TEXT_PATTERN},
            {"type": "array", "items": ref},
            {
                "type": "object",
                "propertyNames": {"pattern": ACCEPTABLE_TEXT_PATTERN},
                "additionalProperties": ref,
            },
        ],
    }
