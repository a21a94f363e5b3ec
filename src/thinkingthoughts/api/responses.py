"""JSON responses rendered by orjson, for bodies that have no response model."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


def json_text(payload: Any) -> str:
    """JSON as text, for Server-Sent Event data."""
    return orjson.dumps(payload).decode()


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
