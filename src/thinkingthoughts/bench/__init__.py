"""Load scenarios for `thinkingthoughts bench`: the gateway measured side by side with the
inference server called directly, a bare FastAPI passthrough and, where installed, LiteLLM.

Every server runs in its own process on a loopback port; the load generator
(`loadgen`) runs in the calling process. Figures are benchmark figures, not test
assertions: `scenarios` only checks them against the targets in the report.
"""
