from __future__ import annotations

from typing import Any

from thinkingthoughts.upstream.protocol import (
    chunk_from,
    completion_tool_calls,
    merge_tool_call_deltas,
)


def _delta(**fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}


def test_streamed_fragments_fold_into_whole_calls() -> None:
    fragments = [
        {"index": 0, "id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"city": '}},
        {"index": 1, "id": "call_2", "type": "function",
         "function": {"name": "get_time", "arguments": "{}"}},
        {"index": 0, "function": {"arguments": '"Lyon"}'}},
    ]  # fmt: skip
    calls: list[dict[str, Any]] = []
    for fragment in fragments:
        calls = merge_tool_call_deltas(calls, (fragment,))
    assert calls == [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]  # fmt: skip


def test_merging_does_not_change_the_calls_given() -> None:
    calls: list[dict[str, Any]] = [{"id": "a", "function": {"name": "f", "arguments": "{"}}]
    merge_tool_call_deltas(calls, ({"index": 0, "function": {"arguments": "}"}},))
    assert calls[0]["function"]["arguments"] == "{"


def test_malformed_fragments_are_ignored() -> None:
    assert merge_tool_call_deltas([], ({"index": -1}, {"index": "x"})) == []


def test_chunks_expose_their_tool_call_fragments() -> None:
    fragment = {"index": 0, "function": {"arguments": "{}"}}
    chunk = chunk_from(_delta(tool_calls=[fragment, "junk"]))
    assert chunk.tool_call_deltas == (fragment,)
    assert chunk_from(_delta(content="hi")).tool_call_deltas == ()


def test_whole_completions_expose_their_tool_calls() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    payload = {"choices": [{"message": {"role": "assistant", "content": None,
                                        "tool_calls": [call]}}]}  # fmt: skip
    assert completion_tool_calls(payload) == [call]
    assert completion_tool_calls({"choices": [{"message": {"content": "hi"}}]}) == []
