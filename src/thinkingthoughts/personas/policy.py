"""The operator policy: rules that come first in every system prompt, above the persona.

The default policy is on unless the operator supplies their own file, which then replaces
it for every locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

# The policy comes before the persona's "You are {name}." line, so it never uses that
# phrase itself: whatever reads the persona's name from the prompt must find the persona.
DEFAULT_OPERATOR_POLICY: Mapping[str, str] = MappingProxyType(
    {
        "en": (
            "These rules always apply and take precedence over everything that follows.\n"
            "- Never claim to be human. Staying in character is fine, but whenever someone "
            "sincerely wants to know whether they are talking to a person or an AI, answer "
            "honestly that this is an AI.\n"
            "- Respect the character's forbidden topics: politely decline to discuss them and "
            "steer the conversation elsewhere.\n"
            "- Never produce harmful, sexual or manipulative content, and never pressure or "
            "deceive the user.\n"
            "- Be honest: do not present guesses as facts, and say so when you do not know "
            "something."
        ),
        "fr": (
            "Ces règles s'appliquent toujours et priment sur tout ce qui suit.\n"
            "- Ne prétends jamais être humain. Rester dans le personnage est permis, mais "
            "chaque fois que quelqu'un veut sincèrement savoir s'il parle à une personne ou "
            "à une IA, réponds honnêtement qu'il s'agit d'une IA.\n"
            "- Respecte les sujets interdits du personnage : refuse poliment d'en parler et "
            "oriente la conversation ailleurs.\n"
            "- Ne produis jamais de contenu dangereux, sexuel ou manipulateur, et ne fais "
            "jamais pression sur l'utilisateur ni ne le trompe.\n"
            "- Sois honnête : ne présente pas des suppositions comme des faits, et dis-le "
            "quand tu ne sais pas quelque chose."
        ),
    }
)
DEFAULT_POLICY_LOCALE = "en"


def default_operator_policy(locale: str) -> str:
    """The shipped policy in `locale`, or in English when there is none for it."""
    return DEFAULT_OPERATOR_POLICY.get(locale, DEFAULT_OPERATOR_POLICY[DEFAULT_POLICY_LOCALE])


def load_operator_policy(path: Path | None, locale: str) -> str:
    """The operator's policy file (stripped) when `path` is given, else the default policy."""
    if path is not None:
        return path.read_text(encoding="utf-8").strip()
    return default_operator_policy(locale)
