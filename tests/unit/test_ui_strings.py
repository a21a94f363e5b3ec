from __future__ import annotations

import re
import string
from pathlib import Path
from typing import get_args

import pytest

import thinkingthoughts.ui
from thinkingthoughts.ui.gateway_problems import ProblemKind
from thinkingthoughts.ui.strings import EN, FR, LANGUAGES, texts_for

UI_DIR = Path(thinkingthoughts.ui.__file__).parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_english_and_french_have_the_same_keys() -> None:
    assert set(EN) - set(FR) == set()
    assert set(FR) - set(EN) == set()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_no_string_is_empty(language: str) -> None:
    assert [key for key, text in LANGUAGES[language].items() if not text.strip()] == []


def test_both_languages_fill_the_same_placeholders() -> None:
    differing = [key for key in EN if placeholders(EN[key]) != placeholders(FR[key])]
    assert differing == []


def test_the_languages_are_really_translated() -> None:
    # Some words are the same in both (names, "Page"), most are not.
    same = [key for key in EN if EN[key] == FR[key]]
    assert len(same) < len(EN) // 10


def test_every_key_the_page_uses_exists() -> None:
    used: set[str] = set()
    dynamic: set[str] = set()
    for path in UI_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'texts\[\s*"([^"]+)"\s*\]', source))
        dynamic |= set(re.findall(r'texts(?:\.get\(|\[)\s*f"([^"{]+)\{', source))
    assert used, "the pattern finds the page's uses"
    assert used - set(EN) == set()
    # Keys built from a prefix (nav pages, form fields, usage figures, problems) exist too.
    for prefix in dynamic:
        assert any(key.startswith(prefix) for key in EN), prefix


def test_every_gateway_problem_kind_has_words() -> None:
    missing = [kind for kind in get_args(ProblemKind) if f"problem.{kind}" not in EN]
    assert missing == []


def test_texts_for_a_language_cannot_be_changed_by_the_page() -> None:
    texts = texts_for("fr")
    assert texts["chat.new"] == "Nouvelle discussion"
    with pytest.raises(TypeError):
        texts["chat.new"] = "x"  # type: ignore[index]
