from __future__ import annotations

from datetime import timedelta

import pytest

from thinkingthoughts.operations import parse_age


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_an_age_is_a_count_and_a_unit(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "d", "30", "3.5d", "0h", "30s", "1d2h"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an age"):
        parse_age(text)
