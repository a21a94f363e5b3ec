"""Which part of a conversation goes upstream: pure token budgeting, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContextBudget:
    max_model_len: int
    reply_tokens: int

    @property
    def prompt_tokens(self) -> int:
        """Tokens the prompt may use so that the reply still fits the model's context."""
        return max(self.max_model_len - self.reply_tokens, 0)


def reply_tokens_within(requested: int, *, max_model_len: int, smallest_prompt: int) -> int:
    """The reply's allowance: as requested, unless the model's context could not hold it
    with any prompt at all; then the room the smallest prompt (the system prompt and the
    newest message) leaves, and at least one token. A client's `max_tokens` is an upper
    bound it cannot know the model's context for, not a reason to refuse the turn."""
    if requested < max_model_len:
        return requested
    return max(max_model_len - smallest_prompt, 1)


def fits(*, fixed_tokens: int, required_tokens: int, budget: int) -> bool:
    return fixed_tokens + required_tokens <= budget
