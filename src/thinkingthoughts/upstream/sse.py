"""Incremental Server-Sent Events decoding for OpenAI-compatible streams."""

from __future__ import annotations

DONE_SENTINEL = "[DONE]"


class SSEDecoder:
    """Turns arbitrary byte chunks into the `data:` payloads of complete events.

    Chunks may split lines and events anywhere; comments (`: ping`) and fields other
    than `data` are ignored, and multi-line data is joined with newlines as the
    specification says.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data_lines: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer += chunk
        events: list[str] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return events
            raw_line = self._buffer[:newline]
            self._buffer = self._buffer[newline + 1 :]
            # Invalid UTF-8 (a raw lone surrogate among it) becomes U+FFFD: a reply is
            # never lost for its bytes.
            line = raw_line.rstrip(b"\r").decode("utf-8", errors="replace")
            event = self._consume_line(line)
            if event is not None:
                events.append(event)

    def _consume_line(self, line: str) -> str | None:
        if not line:
            if not self._data_lines:
                return None
            data = "\n".join(self._data_lines)
            self._data_lines = []
            return data
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self._data_lines.append(value[1:] if value.startswith(" ") else value)
        return None
