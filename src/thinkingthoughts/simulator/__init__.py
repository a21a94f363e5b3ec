"""The bundled OpenAI-compatible inference simulator that stands in for vLLM."""

from __future__ import annotations

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.server import create_simulator_app, run_simulator

__all__ = ["SimulatorConfig", "create_simulator_app", "run_simulator"]
