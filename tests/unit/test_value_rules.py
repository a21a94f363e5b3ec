"""Properties of the text and number rules, over generated values (hypothesis)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from thinkingthoughts.value_rules import (
    MAX_INT64,
    MIN_INT64,
    NON_BLANK_TEXT_PATTERN,
    REPLACEMENT_CHARACTER,
    ClientModel,
    Int64,
    Number,
    is_blank,
    loads_reply_json,
    number_problem,
    require_acceptable,
    storable_json,
    storable_text,
    text_problem,
)

UNSTORABLE = st.sampled_from(["\x00", *map(chr, range(0xD800, 0xE000))])
ACCEPTABLE_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
)
ANY_TEXT = st.text(alphabet=st.characters())
INT64 = st.integers(min_value=MIN_INT64, max_value=MAX_INT64)
BEYOND_INT64 = st.one_of(st.integers(min_value=MAX_INT64 + 1), st.integers(max_value=MIN_INT64 - 1))
NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])


@st.composite
def unacceptable_texts(draw: st.DrawFn) -> str:
    """Acceptable text with one NUL or lone surrogate put somewhere in it."""
    text, bad = draw(ACCEPTABLE_TEXT), draw(UNSTORABLE)
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:at] + bad + text[at:]


ACCEPTABLE_JSON = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False)
    | ACCEPTABLE_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(ACCEPTABLE_TEXT, children, max_size=4),
    max_leaves=12,
)  # fmt: skip


class Body(ClientModel):
    model_config = ConfigDict(extra="allow")

    text: str = ""


class Declared(BaseModel):
    count: Int64 | None = None
    number: Number | None = None


@given(ACCEPTABLE_TEXT)
def test_any_text_without_nul_or_lone_surrogate_is_accepted_unchanged(text: str) -> None:
    assert text_problem(text) is None
    assert Body.model_validate({"text": text, "extra": {text: [text]}}).text == text
    assert storable_text(text) is text


@given(unacceptable_texts())
def test_any_text_with_a_nul_or_lone_surrogate_is_refused_wherever_it_is(text: str) -> None:
    assert text_problem(text) is not None
    for body in ({"text": text}, {"extra": [1, {"deep": text}]}, {"extra": {text: 1}}):
        with pytest.raises(ValidationError):
            Body.model_validate(body)


@given(ANY_TEXT)
def test_storable_text_is_acceptable_and_changes_only_the_unstorable_characters(
    text: str,
) -> None:
    stored = storable_text(text)

    assert text_problem(stored) is None
    assert len(stored) == len(text)
    for before, after in zip(text, stored, strict=True):
        assert after == (REPLACEMENT_CHARACTER if text_problem(before) else before)
    assert storable_text(stored) == stored


@given(ACCEPTABLE_JSON)
def test_acceptable_json_passes_every_rule_and_is_kept_as_the_same_object(value: Any) -> None:
    assert require_acceptable(value) is value
    assert storable_json(value) is value


@given(st.dictionaries(ANY_TEXT, st.lists(ANY_TEXT, max_size=3), max_size=3))
def test_storable_json_leaves_no_text_a_client_could_not_send(value: dict[str, Any]) -> None:
    stored = storable_json(value)
    assert require_acceptable(stored) == stored


@given(INT64)
def test_integers_within_64_bits_are_accepted(number: int) -> None:
    assert number_problem(number) is None
    assert Declared(count=number).count == number


@given(BEYOND_INT64)
def test_integers_beyond_64_bits_are_refused(number: int) -> None:
    assert number_problem(number) is not None
    with pytest.raises(ValidationError):
        Body.model_validate({"extra": {"seed": number}})
    with pytest.raises(ValidationError):
        Declared(count=number)


@given(NON_FINITE)
def test_non_finite_floats_are_refused(number: float) -> None:
    assert number_problem(number) is not None
    with pytest.raises(ValidationError):
        Body.model_validate({"extra": [number]})


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_are_accepted(number: float) -> None:
    assert number_problem(number) is None
    assert Declared(number=number).number == number


@given(INT64.filter(lambda n: abs(n) <= 2**53))
def test_a_whole_float_is_the_integer_it_holds(number: int) -> None:
    assert Declared(count=float(number)).count == number


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()))
def test_a_float_with_a_fraction_is_not_an_integer(number: float) -> None:
    with pytest.raises(ValidationError):
        Declared(count=number)


@given(INT64)
def test_a_string_of_digits_is_not_an_integer(number: int) -> None:
    with pytest.raises(ValidationError):
        Declared(count=str(number))


@given(ACCEPTABLE_TEXT)
def test_blank_means_what_pydantic_strips(text: str) -> None:
    stripped = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])
    assert is_blank(text) == (stripped.validate_python(text) == "")


@given(ACCEPTABLE_TEXT)
def test_the_non_blank_pattern_says_what_is_blank(text: str) -> None:
    assert (re.fullmatch(NON_BLANK_TEXT_PATTERN, text) is None) == is_blank(text)


@given(st.booleans())
def test_booleans_are_not_numbers_where_numbers_are_declared(flag: bool) -> None:
    with pytest.raises(ValidationError):
        Declared(count=flag)
    with pytest.raises(ValidationError):
        Declared(number=flag)
    assert require_acceptable({"free_form": flag}) == {"free_form": flag}


def test_a_refusal_names_where_the_value_is() -> None:
    with pytest.raises(ValidationError) as refused:
        Body.model_validate({"extra": [0, {"deep": "a\x00"}], "text": "ok"})

    assert [e["loc"] for e in refused.value.errors()] == [("extra", 1, "deep")]


def test_upstream_json_escaping_a_lone_surrogate_is_decoded_and_then_made_storable() -> None:
    decoded = loads_reply_json('{"content": "a\\ud800b\\u0000"}')

    assert storable_json(decoded) == {"content": "a\ufffdb\ufffd"}
    with pytest.raises(orjson.JSONDecodeError):
        loads_reply_json("{not json")
