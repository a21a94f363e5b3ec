from __future__ import annotations

import pytest

from thinkingthoughts.upstream.sse import SSEDecoder


def test_events_split_across_chunks_are_reassembled() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a"') == []
    assert decoder.feed(b": 1}\n") == []
    assert decoder.feed(b"\ndata: [DONE]\n\n") == ['{"a": 1}', "[DONE]"]


def test_comments_and_other_fields_are_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": ping\n\nevent: delta\nid: 7\ndata: x\n\n")
    assert events == ["x"]


def test_multiline_data_is_joined_with_newlines() -> None:
    assert SSEDecoder().feed(b"data: one\ndata: two\n\n") == ["one\ntwo"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_both_line_endings_are_accepted(newline: bytes) -> None:
    raw = b"data: hello" + newline + newline
    assert SSEDecoder().feed(raw) == ["hello"]


def test_data_without_space_after_colon_is_kept_whole() -> None:
    assert SSEDecoder().feed(b"data:tight\n\n") == ["tight"]


def test_multibyte_characters_split_between_chunks_decode() -> None:
    payload = "data: café ☕\n\n".encode()
    decoder = SSEDecoder()
    middle = payload.index("☕".encode()) + 1
    assert decoder.feed(payload[:middle]) == []
    assert decoder.feed(payload[middle:]) == ["café ☕"]
