from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.encoding import completion_body, stream_frames
from thinkingthoughts.simulator.protocol import CompletionPlan, ErrorAnswer, plan_chat_completion
from thinkingthoughts.simulator.replies import count_tokens, split_into_pieces
from thinkingthoughts.simulator.tools import (
    ToolChoice,
    ToolRequestError,
    check_tool_messages,
    choose_tool,
    declared_tools,
    tool_call_arguments,
    tool_call_id,
)

Messages = list[dict[str, Any]]

CALL_ID = re.compile(r"^call_[0-9a-f]{24}$")


def _tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


TOOLS = [_tool("get_weather"), _tool("get_time")]
ASK: Messages = [
    {"role": "system", "content": "Name: Seline"},
    {"role": "user", "content": "What is the weather in Paris?"},
]
CALL = {
    "id": "call_0123456789abcdef01234567",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}
ANSWERED: Messages = [
    *ASK,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": CALL["id"], "content": "Sunny, 21 degrees."},
]


# --- which tool, if any --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        (None, ToolChoice(name="get_weather", named=False)),
        ("auto", ToolChoice(name="get_weather", named=False)),
        ("required", ToolChoice(name="get_weather", named=False)),
        (_named("get_time"), ToolChoice(name="get_time", named=True)),
        ({"function": {"name": "get_time"}}, ToolChoice(name="get_time", named=True)),
        ("none", None),
    ],
)
def test_tools_make_the_first_or_the_named_tool_be_called(
    tool_choice: object, expected: ToolChoice | None
) -> None:
    assert choose_tool(TOOLS, tool_choice, ASK) == expected


@pytest.mark.parametrize("tool_choice", [None, "none"])
def test_without_tools_the_answer_is_text(tool_choice: object) -> None:
    assert choose_tool([], tool_choice, ASK) is None


@pytest.mark.parametrize("tool_choice", [None, "auto", "none"])
def test_a_tool_result_is_answered_in_text_unless_a_call_is_forced(tool_choice: object) -> None:
    assert choose_tool(TOOLS, tool_choice, ANSWERED) is None


@pytest.mark.parametrize(
    ("tool_choice", "name"), [("required", "get_weather"), (_named("get_time"), "get_time")]
)
def test_a_forced_call_is_made_even_after_a_tool_result(tool_choice: object, name: str) -> None:
    chosen = choose_tool(TOOLS, tool_choice, ANSWERED)
    assert chosen is not None
    assert chosen.name == name


def test_a_named_call_finishes_with_stop_and_a_chosen_one_with_tool_calls() -> None:
    assert ToolChoice(name="f", named=True).finish_reason == "stop"
    assert ToolChoice(name="f", named=False).finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("tools", "tool_choice", "complaint"),
    [
        (TOOLS, _named("delete_everything"), "does not match any of the specified `tools`"),
        ([], "auto", "`tools` must be set"),
        ([], "required", "`tools` must be set"),
        ([], _named("get_weather"), "`tools` must be set"),
        (TOOLS, "sometimes", "Invalid value for `tool_choice`: sometimes"),
        (TOOLS, 3, "Invalid value for `tool_choice`"),
        (TOOLS, {"type": "function", "function": {}}, "non-empty string `name`"),
        (TOOLS, {"type": "function", "function": {"name": ""}}, "non-empty string `name`"),
        (TOOLS, {"type": "custom", "function": {"name": "get_weather"}}, "Correct usage"),
    ],
)
def test_tool_choices_vllm_refuses_raise(
    tools: list[dict[str, Any]], tool_choice: object, complaint: str
) -> None:
    with pytest.raises(ToolRequestError, match=re.escape(complaint)):
        choose_tool(tools, tool_choice, ASK)


# --- declared tools and tool messages ------------------------------------------------


def test_declared_tools_are_none_or_function_tools_with_names() -> None:
    assert declared_tools(None) == []
    assert declared_tools(TOOLS) == TOOLS
    untyped = [{"function": {"name": "f"}}]
    assert declared_tools(untyped) == untyped


@pytest.mark.parametrize(
    ("tools", "complaint"),
    [
        ({"type": "function"}, "must be a list"),
        ([], "must not be an empty array"),
        (["get_weather"], "tools[0]"),
        ([_tool("ok"), {"type": "function", "function": {}}], "tools[1]"),
        ([{"type": "function", "function": "get_weather"}], "tools[0]"),
        ([{"type": "retrieval", "function": {"name": "f"}}], "tools[0]"),
    ],
)
def test_malformed_tools_raise(tools: object, complaint: str) -> None:
    with pytest.raises(ToolRequestError, match=re.escape(complaint)):
        declared_tools(tools)


def test_tool_results_and_assistant_tool_calls_are_accepted() -> None:
    parts_result = {
        "role": "tool",
        "tool_call_id": "c1",
        "content": [{"type": "text", "text": "ok"}],
    }
    check_tool_messages([*ANSWERED, parts_result])
    check_tool_messages([{"role": "assistant", "content": "plain", "tool_calls": None}])


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"role": "tool", "content": "sunny"}, "`tool_call_id`"),
        ({"role": "tool", "tool_call_id": "", "content": "sunny"}, "`tool_call_id`"),
        ({"role": "tool", "tool_call_id": 7, "content": "sunny"}, "`tool_call_id`"),
        ({"role": "tool", "tool_call_id": "c1"}, "`content`"),
        ({"role": "tool", "tool_call_id": "c1", "content": None}, "`content`"),
        ({"role": "assistant", "content": None, "tool_calls": CALL}, "tool_calls"),
        ({"role": "assistant", "tool_calls": [{**CALL, "id": None}]}, "tool_calls"),
        ({"role": "assistant", "tool_calls": [{**CALL, "type": "other"}]}, "tool_calls"),
        (
            {"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f"}}]},
            "tool_calls",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [{**CALL, "function": {"name": "f", "arguments": {"city": "X"}}}],
            },
            "tool_calls",
        ),
    ],
)
def test_malformed_tool_messages_raise_naming_the_message(
    message: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ToolRequestError, match=r"messages\[1\]") as raised:
        check_tool_messages([{"role": "user", "content": "hi"}, message])
    assert complaint in str(raised.value)


# --- the call ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "echo"),
    [
        (ASK, "What is the weather in Paris?"),
        ([{"role": "user", "content": 'say "hi" \\ then\nstop'}], 'say "hi" \\ then stop'),
        (
            [
                {
                    "role": "user",
                    "content": "one two three four five six seven eight nine ten "
                    "eleven twelve thirteen",
                }
            ],
            "one two three four five six seven eight nine ten eleven twelve",
        ),
        ([{"role": "system", "content": "no user yet"}], ""),
        (ANSWERED, "What is the weather in Paris?"),
    ],
)
def test_arguments_are_a_json_object_echoing_the_last_user_message(
    messages: Messages, echo: str
) -> None:
    arguments = tool_call_arguments(messages)
    assert orjson.loads(arguments) == {"echo": echo}
    assert "".join(split_into_pieces(arguments)) == arguments
    assert len(split_into_pieces(arguments)) == count_tokens(arguments)


def test_call_id_is_deterministic_and_depends_on_messages_and_tool() -> None:
    call_id = tool_call_id(ASK, "get_weather")
    assert CALL_ID.match(call_id)
    assert tool_call_id([dict(reversed(m.items())) for m in ASK], "get_weather") == call_id
    assert tool_call_id(ASK, "get_time") != call_id
    assert tool_call_id(ANSWERED, "get_weather") != call_id


# --- the plan and its bytes ----------------------------------------------------------


def _plan(**body: Any) -> CompletionPlan:
    plan = plan_chat_completion({"messages": ASK, "tools": TOOLS, **body}, SimulatorConfig())
    assert isinstance(plan, CompletionPlan)
    return plan


def test_a_tool_call_plan_streams_the_arguments_token_by_token() -> None:
    plan = _plan()
    assert plan.tool_call is not None
    assert plan.tool_call.name == "get_weather"
    assert plan.tool_call.call_id == tool_call_id(ASK, "get_weather")
    assert "".join(plan.pieces) == tool_call_arguments(ASK)
    assert plan.finish_reason == "tool_calls"
    assert plan.completion_tokens == count_tokens(tool_call_arguments(ASK))


def test_max_tokens_cuts_the_arguments_with_finish_reason_length() -> None:
    plan = _plan(max_tokens=4, tool_choice=_named("get_time"))
    assert plan.pieces == split_into_pieces(tool_call_arguments(ASK))[:4]
    assert plan.finish_reason == "length"


def test_a_max_tokens_the_arguments_fit_in_keeps_the_finish_reason() -> None:
    assert _plan(max_tokens=200, tool_choice=_named("get_time")).finish_reason == "stop"


def test_a_refused_tool_request_is_a_vllm_400() -> None:
    answer = plan_chat_completion(
        {"messages": ASK, "tools": TOOLS, "tool_choice": _named("nope")}, SimulatorConfig()
    )
    assert isinstance(answer, ErrorAnswer)
    assert answer.status == 400
    assert answer.error_type == "BadRequestError"


def test_streamed_argument_pieces_join_to_the_whole_arguments() -> None:
    plan = _plan(stream=True)
    whole = orjson.loads(completion_body(plan, completion_id="chatcmpl-1", created=1))
    frames = stream_frames(plan, completion_id="chatcmpl-1", created=1)
    chunks = [orjson.loads(frame.removeprefix(b"data: ")) for frame in frames.pieces]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    pieces = [delta["tool_calls"][0]["function"]["arguments"] for delta in deltas]
    assert deltas == [
        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} for piece in pieces
    ]
    assert pieces == plan.pieces
    assert (
        "".join(pieces) == whole["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    )
