from __future__ import annotations

import pytest

from thinkingthoughts.ui.sse import SseDecodeError, SseEvent, parse_sse


def events(text: str) -> list[SseEvent]:
    return list(parse_sse(text.split("\n")))


def test_named_events_come_with_their_json_data() -> None:
    stream = (
        'event: start\ndata: {"session_id": "s1"}\n\n'
        'event: delta\ndata: {"content": "Hi"}\n\n'
        'event: done\ndata: {"finish_reason": "stop"}\n\n'
    )
    assert events(stream) == [
        SseEvent("start", {"session_id": "s1"}),
        SseEvent("delta", {"content": "Hi"}),
        SseEvent("done", {"finish_reason": "stop"}),
    ]


def test_comment_lines_are_ignored_even_between_fields() -> None:
    stream = ': ping - 2026-01-01\n\nevent: delta\n: keep-alive\ndata: {"content": "a"}\n\n'
    assert events(stream) == [SseEvent("delta", {"content": "a"})]


def test_several_data_lines_are_joined_with_newlines() -> None:
    stream = 'event: delta\ndata: {"content":\ndata:  "two lines"}\n\n'
    assert events(stream) == [SseEvent("delta", {"content": "two lines"})]


def test_joined_data_keeps_the_newline_between_lines() -> None:
    # JSON strings cannot hold a raw newline, so the join is seen through a JSON array.
    assert events("data: [1,\ndata: 2]\n\n") == [SseEvent("message", [1, 2])]


def test_an_event_without_a_name_is_a_message() -> None:
    assert events('data: {"a": 1}\n\n') == [SseEvent("message", {"a": 1})]


def test_data_without_a_space_after_the_colon_and_carriage_returns() -> None:
    lines = ["event:delta\r", 'data:{"content":"x"}\r', "\r"]
    assert list(parse_sse(lines)) == [SseEvent("delta", {"content": "x"})]


def test_blank_lines_without_data_dispatch_nothing_and_reset_the_name() -> None:
    assert events("event: ignored\n\n\ndata: 1\n\n") == [SseEvent("message", 1)]


def test_id_retry_and_unknown_fields_are_ignored() -> None:
    assert events("id: 7\nretry: 100\nweird\nevent: done\ndata: null\n\n") == [
        SseEvent("done", None)
    ]


def test_an_event_cut_off_at_the_end_is_dropped() -> None:
    assert events('event: delta\ndata: {"content": "a"}\n\nevent: delta\ndata: {"c') == [
        SseEvent("delta", {"content": "a"})
    ]


def test_data_that_is_not_json_raises() -> None:
    with pytest.raises(SseDecodeError, match="delta"):
        events("event: delta\ndata: not json\n\n")


def test_events_are_parsed_as_lines_arrive() -> None:
    lines = iter(["event: delta", 'data: {"content": "a"}', "", "event: delta"])
    parsed = parse_sse(lines)
    assert next(parsed) == SseEvent("delta", {"content": "a"})
    assert next(lines) == "event: delta"  # nothing was read ahead of the first event
