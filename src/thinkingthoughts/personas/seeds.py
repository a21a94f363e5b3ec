"""The example personas stored on first start, read from the bundled `seed_personas.json`."""

from __future__ import annotations

from importlib.resources import files

from pydantic import TypeAdapter

from thinkingthoughts.personas.sheet import PersonaSheet

SEED_PERSONAS_FILE = "seed_personas.json"
DEFAULT_SEED_SLUG = "seline"


def load_seed_personas() -> list[PersonaSheet]:
    """The shipped personas, the default one (`seline`) first."""
    document = files("thinkingthoughts.personas").joinpath(SEED_PERSONAS_FILE).read_bytes()
    return TypeAdapter(list[PersonaSheet]).validate_json(document)
