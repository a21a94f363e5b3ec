"""What `/v1` requests must hold beyond their fields' types, as JSON Schema.

The wire models (`protocol`) enforce these rules in validators; the published document
states the same rules with these fragments, so that a request the schema calls valid is
one the gateway accepts (and a fuzzer driven by the schema finds no difference). Each
fragment mirrors one validator, named where it is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from thinkingthoughts.value_rules import ACCEPTABLE_TEXT_PATTERN

ROLES_THAT_NEED_CONTENT = ("system", "developer", "user", "tool", "function")
"""Every role but `assistant`, which may carry calls instead of content."""


def number_schema(low: float, high: float) -> dict[str, Any]:
    """A number (integer or not) from `low` to `high`, both included."""
    return {"type": "number", "minimum": low, "maximum": high}


def message_rules() -> dict[str, Any]:
    """`ChatMessage._content_where_required`: content by role, and a function's name."""
    present_content = {"type": ["string", "array"]}  # given and not null: text or parts
    return {
        "allOf": [
            {
                "if": {"properties": {"role": {"enum": list(ROLES_THAT_NEED_CONTENT)}}},
                "then": {"required": ["content"], "properties": {"content": present_content}},
            },
            {
                "if": {"properties": {"role": {"const": "assistant"}}},
                "then": {
                    "anyOf": [
                        {"required": ["content"], "properties": {"content": present_content}},
                        {
                            "required": ["tool_calls"],
                            "properties": {"tool_calls": {"type": "array", "minItems": 1}},
                        },
                        {
                            "required": ["function_call"],
                            "properties": {"function_call": {"type": "object"}},
                        },
                    ]
                },
            },
            {
                "if": {"properties": {"role": {"const": "function"}}},
                "then": {"required": ["name"], "properties": {"name": {"type": "string"}}},
            },
        ]
    }


def content_part_rules() -> dict[str, Any]:
    """`ContentPart._text_parts_have_text`: a text part carries its text."""
    return {
        "if": {"properties": {"type": {"const": "text"}}},
        "then": {"required": ["text"], "properties": {"text": {"type": "string"}}},
    }


def persona_model_pattern(persona_model_prefix: str) -> str:
    """A persona model's name (`persona:<slug>`) as a JSON Schema pattern; acceptable text."""
    return "^" + re.escape(persona_model_prefix) + "[^\\u0000]*$"


def model_schema(persona_model_prefix: str) -> dict[str, Any]:
    """`model`: a persona model, or any other name (acceptable text, not empty). The persona
    branch is spelled with the very pattern `persona_only_traits` requires, so that a
    generator meets one pattern there, not two to intersect."""
    return {
        "anyOf": [
            {"type": "string", "pattern": persona_model_pattern(persona_model_prefix)},
            {"type": "string", "minLength": 1, "pattern": ACCEPTABLE_TEXT_PATTERN},
        ]
    }


def persona_only_traits(persona_model_prefix: str) -> dict[str, Any]:
    """`traits` (levels asked for) apply to persona models only: with any other model, a
    non-empty map is refused (`invalid_traits`); none, null or an empty one asks for nothing.
    Said as "unless traits ask for nothing, the model is a persona": the complement of a
    short enum is one a generator draws cheaply, unlike that of a whole object schema."""
    return {
        "if": {"properties": {"traits": {"enum": [None, {}]}}},
        "else": {"properties": {"model": {"pattern": persona_model_pattern(persona_model_prefix)}}},
    }


def published(rules: Callable[[], dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    """A pydantic `json_schema_extra` adding the fragment `rules()` builds to a model's
    schema: built anew each time, since the document is completed in place."""

    def add_rules(schema: dict[str, Any]) -> None:
        schema.update(rules())

    return add_rules
