"""A `GatewayProblem` told in the page's language. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping

from thinkingthoughts.ui.gateway_problems import GatewayProblem

_WITH_DETAIL = {"upstream", "too_long", "forbidden", "gone", "invalid", "conflict", "unavailable"}


def problem_text(problem: GatewayProblem, texts: Mapping[str, str], *, url: str) -> str:
    """One sentence for people; the gateway's own message is added where it helps."""
    key = f"problem.{problem.kind}"
    if problem.kind == "unreachable" and problem.code == "timeout":
        key = "problem.unreachable_timeout"
    if problem.kind == "rate_limited" and problem.retry_after is None:
        key = "problem.rate_limited_unknown"
    seconds = max(1, math.ceil(problem.retry_after)) if problem.retry_after is not None else 0
    sentence = texts[key].format(url=url, seconds=seconds)
    detail = problem.detail
    if problem.kind == "unexpected":
        detail = detail or problem.message
    elif problem.kind not in _WITH_DETAIL:
        detail = None
    return f"{sentence} ({detail})" if detail else sentence
