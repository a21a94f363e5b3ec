"""How the bundled inference simulator behaves: model name, latency, lengths, injected failures."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Lets 0.1 + 0.2 + 0.7 through despite binary rounding.
_RATE_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Settings of one simulator app.

    Latencies are in seconds. The three failure rates are the fractions of chat requests
    that answer 429, answer 500, or lose their connection mid-answer; they are drawn from
    one seeded random generator per app, so a run with the same seed and the same
    requests fails the same way.
    """

    model: str = "thinkingthoughts-sim"
    time_to_first_token: float = 0.0
    inter_token_latency: float = 0.0
    reply_tokens: int = 32
    max_model_len: int = 4096
    fail_429_rate: float = 0.0
    fail_500_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    record_requests: int = 100

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("model must be a non-empty name")
        for name in ("time_to_first_token", "inter_token_latency"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
        for name in ("reply_tokens", "max_model_len"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be a positive number of tokens, got {value!r}")
        if self.record_requests < 0:
            raise ValueError(f"record_requests must be >= 0, got {self.record_requests!r}")
        rates = {
            "fail_429_rate": self.fail_429_rate,
            "fail_500_rate": self.fail_500_rate,
            "drop_rate": self.drop_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate!r}")
        if sum(rates.values()) > 1.0 + _RATE_SUM_TOLERANCE:
            raise ValueError(
                "fail_429_rate + fail_500_rate + drop_rate must not exceed 1 "
                f"(each is a share of all chat requests), got {sum(rates.values())!r}"
            )

    @property
    def failure_rate(self) -> float:
        """Share of chat requests that fail one way or another."""
        return self.fail_429_rate + self.fail_500_rate + self.drop_rate
