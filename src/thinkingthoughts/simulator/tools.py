"""Tool calls: which tool a chat request makes the simulator call, and the call it makes.

A request with `tools` gets one call of the tool `tool_choice` names, else of the first
tool, unless `tool_choice` is "none" or (with "auto" or no choice) the request ends with a
tool result, which the simulator answers in text so that a client's tool loop ends.
The call is derived from the request alone: arguments `{"echo":"<first words of the last
user message>"}` and an id hashed from the messages, so two runs can be compared.

Pure functions; requests vLLM would refuse raise `ToolRequestError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from thinkingthoughts.simulator.replies import QUOTED_WORDS, last_user_text

TOOL_CALL_ID_PREFIX = "call_"
_TOOL_CALL_ID_HEX_DIGITS = 24
_NAMED_CHOICE_USAGE = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'


class ToolRequestError(ValueError):
    """Tools, tool choice or tool messages that vLLM refuses with a 400; the message says why."""


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """The tool the simulator calls, and whether the request forced it by name."""

    name: str
    named: bool

    @property
    def finish_reason(self) -> str:
        """OpenAI and vLLM end a named call with "stop" and a chosen one with "tool_calls"."""
        return "stop" if self.named else "tool_calls"


def declared_tools(tools: object) -> list[dict[str, Any]]:
    """The request's `tools` once checked: [] when absent, else function tools with names."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ToolRequestError("`tools` must be a list of tools.")
    if not tools:
        raise ToolRequestError(
            "`tools` must not be an empty array. "
            "Either provide at least one tool or omit the field entirely."
        )
    for index, tool in enumerate(tools):
        if not (
            isinstance(tool, dict)
            and tool.get("type", "function") == "function"
            and _function_name(tool) is not None
        ):
            raise ToolRequestError(
                f'tools[{index}] must be an object with `type` "function" and a `function` '
                "object with a non-empty string `name`."
            )
    return tools


def choose_tool(
    tools: Sequence[Mapping[str, Any]],
    tool_choice: object,
    messages: Sequence[Mapping[str, Any]],
) -> ToolChoice | None:
    """The tool to call for this request, or None to answer with text."""
    if tool_choice == "none":
        return None
    if tool_choice is None:
        return _chosen_by_model(tools, messages)
    if not tools:
        raise ToolRequestError("When using `tool_choice`, `tools` must be set.")
    if tool_choice == "auto":
        return _chosen_by_model(tools, messages)
    if tool_choice == "required":
        return ToolChoice(name=_tool_names(tools)[0], named=False)
    if isinstance(tool_choice, dict):
        name = _named_choice(tool_choice)
        if name not in _tool_names(tools):
            raise ToolRequestError(
                "The tool specified in `tool_choice` does not match any of the specified `tools`"
            )
        return ToolChoice(name=name, named=True)
    raise ToolRequestError(
        f"Invalid value for `tool_choice`: {tool_choice}! "
        'Only named tools, "none", "auto" or "required" are supported.'
    )


def check_tool_messages(messages: Sequence[Mapping[str, Any]]) -> None:
    """Refuse tool results without a call id and assistant tool calls of the wrong shape."""
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            _check_tool_result(index, message)
        elif role == "assistant" and message.get("tool_calls") is not None:
            _check_assistant_tool_calls(index, message["tool_calls"])


def tool_call_arguments(messages: Sequence[Mapping[str, Any]]) -> str:
    """The call's arguments, a JSON object echoing the start of the last user message."""
    words = last_user_text(messages).split()
    return orjson.dumps({"echo": " ".join(words[:QUOTED_WORDS])}).decode()


def tool_call_id(messages: Sequence[Mapping[str, Any]], tool_name: str) -> str:
    """`call_` and 24 hex digits, the same for the same messages and tool."""
    request = orjson.dumps({"messages": messages, "tool": tool_name}, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha1(request, usedforsecurity=False).hexdigest()
    return TOOL_CALL_ID_PREFIX + digest[:_TOOL_CALL_ID_HEX_DIGITS]


def _chosen_by_model(
    tools: Sequence[Mapping[str, Any]], messages: Sequence[Mapping[str, Any]]
) -> ToolChoice | None:
    if not tools or messages[-1].get("role") == "tool":
        return None
    return ToolChoice(name=_tool_names(tools)[0], named=False)


def _tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [name for name in map(_function_name, tools) if name is not None]


def _function_name(tool: Mapping[str, Any]) -> str | None:
    function = tool.get("function")
    if not isinstance(function, Mapping):
        return None
    name = function.get("name")
    return name if isinstance(name, str) and name else None


def _named_choice(tool_choice: Mapping[str, Any]) -> str:
    if tool_choice.get("type", "function") != "function":
        raise ToolRequestError(
            f"Invalid value for `tool_choice`: {tool_choice}! {_NAMED_CHOICE_USAGE}"
        )
    name = _function_name(tool_choice)
    if name is None:
        raise ToolRequestError(
            f"Expected a non-empty string `name` in `function` in `tool_choice`! "
            f"{_NAMED_CHOICE_USAGE}"
        )
    return name


def _check_tool_result(index: int, message: Mapping[str, Any]) -> None:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ToolRequestError(
            f"messages[{index}]: a message with role `tool` needs a string `tool_call_id`."
        )
    if not isinstance(message.get("content"), str | list):
        raise ToolRequestError(
            f"messages[{index}]: a message with role `tool` needs a `content` string."
        )


def _check_assistant_tool_calls(index: int, calls: object) -> None:
    if not isinstance(calls, list) or not all(_is_tool_call(call) for call in calls):
        raise ToolRequestError(
            f"messages[{index}].tool_calls must be a list of calls, each with a string `id` "
            'and a `function` with string `name` and `arguments`, of `type` "function".'
        )


def _is_tool_call(call: object) -> bool:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        return False
    function = call.get("function")
    return (
        isinstance(call.get("id"), str)
        and isinstance(function, dict)
        and isinstance(function.get("name"), str)
        and isinstance(function.get("arguments"), str)
    )
