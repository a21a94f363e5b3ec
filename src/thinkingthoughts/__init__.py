"""ThinkingThoughts: a persona chat platform and gateway for OpenAI-compatible inference servers.

The public entry points: `create_app(settings)` builds the FastAPI gateway, `Settings`
reads its configuration, and the `thinkingthoughts` command runs it.
"""

from importlib.metadata import version as _distribution_version

from thinkingthoughts.app import create_app
from thinkingthoughts.settings import Settings

__version__ = _distribution_version("thinkingthoughts")

__all__ = ["Settings", "__version__", "create_app"]
