"""The OpenAI-compatible surface: personas offered as models, sessions by header."""
