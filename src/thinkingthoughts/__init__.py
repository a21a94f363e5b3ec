"""ThinkingThoughts: a persona chat platform and gateway for OpenAI-compatible inference servers.

The public entry points: `create_app(settings)` builds the FastAPI gateway, `Settings`
reads its configuration, and the `thinkingthoughts` command runs it.

Importing the package loads nothing else: `create_app` and `Settings` are looked up on
first use, so a process that needs one subpackage (the UI, the simulator) loads neither
FastAPI nor SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import version as _distribution_version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinkingthoughts.app import create_app
    from thinkingthoughts.settings import Settings

__version__ = _distribution_version("thinkingthoughts")

__all__ = ["Settings", "__version__", "create_app"]

_PUBLIC_HOMES = {"create_app": "thinkingthoughts.app", "Settings": "thinkingthoughts.settings"}


def __getattr__(name: str) -> Any:
    home = _PUBLIC_HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'thinkingthoughts' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
