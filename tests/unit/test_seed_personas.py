from __future__ import annotations

import pytest

from thinkingthoughts.personas.catalog import (
    load_trait_catalog,
    resolve_trait_levels,
    validate_trait_levels,
)
from thinkingthoughts.personas.compiler import compile_system_prompt
from thinkingthoughts.personas.policy import default_operator_policy
from thinkingthoughts.personas.seeds import DEFAULT_SEED_SLUG, load_seed_personas
from thinkingthoughts.personas.sheet import PersonaSheet

CATALOG = load_trait_catalog()
SEEDS = load_seed_personas()
BY_SLUG = {seed.slug: seed for seed in SEEDS}
FILLED_FIELDS = (
    "greeting",
    "tone",
    "humor",
    "interests",
    "forbidden_topics",
    "emoji_usage",
    "message_style",
    "example_dialogue",
    "default_traits",
)


def test_three_personas_ship_with_the_default_first() -> None:
    assert [seed.slug for seed in SEEDS] == ["seline", "tutor", "concierge"]
    assert SEEDS[0].slug == DEFAULT_SEED_SLUG


def test_default_persona_is_seline() -> None:
    assert BY_SLUG["seline"].name == "Seline"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.slug)
def test_seed_fills_every_descriptive_field(seed: PersonaSheet) -> None:
    for field in FILLED_FIELDS:
        assert getattr(seed, field), f"{seed.slug}: {field} is empty"
    assert seed.base_prompt
    assert seed.locale == "en"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.slug)
def test_seed_default_traits_exist_in_the_catalog(seed: PersonaSheet) -> None:
    assert validate_trait_levels(CATALOG, seed.default_traits).keys() == seed.default_traits.keys()


def test_concierge_recommends_proactively_and_others_do_not() -> None:
    assert BY_SLUG["concierge"].default_traits["sales_tactic"] == 4
    assert BY_SLUG["seline"].default_traits["sales_tactic"] == 1
    assert BY_SLUG["tutor"].default_traits["sales_tactic"] == 1


def test_concierge_is_honest_about_recommendations() -> None:
    prompt = BY_SLUG["concierge"].base_prompt
    assert "says that it is a recommendation" in prompt
    assert "never invents prices" in prompt


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.slug)
def test_seed_compiles_into_a_prompt_that_names_it(seed: PersonaSheet) -> None:
    levels = resolve_trait_levels(CATALOG, persona_defaults=seed.default_traits, requested={})
    prompt = compile_system_prompt(
        sheet=seed, trait_levels=levels, catalog=CATALOG, policy=default_operator_policy("en")
    )
    assert f"\nYou are {seed.name}.\n" in prompt
    assert "Forbidden topics: " in prompt


@pytest.mark.parametrize(
    "word", ["sexy", "sexual", "flirt", "seduc", "lover", "girlfriend", "manipulat", "hurry"]
)
def test_seed_wording_suits_any_audience(word: str) -> None:
    for seed in SEEDS:
        assert word not in seed.model_dump_json().lower(), seed.slug
