from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from thinkingthoughts.api.chat_schemas import ChatRequest

SESSION_ID = "6f1c0b7e-2d4a-4c1e-9b8f-0a1b2c3d4e5f"


def test_message_alone_starts_a_session() -> None:
    request = ChatRequest.model_validate({"message": "hi"})
    assert not request.stateless
    assert [(m.role, m.content) for m in request.turns()] == [("user", "hi")]


def test_messages_without_session_are_stateless() -> None:
    request = ChatRequest.model_validate(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ]
        }
    )
    assert request.stateless
    assert len(request.turns()) == 3


def test_prototype_call_with_history_and_sliders_is_stateless() -> None:
    request = ChatRequest.model_validate(
        {
            "message": "now",
            "history": [{"role": "user", "content": "before"}],
            "sliders": {"tone": 4},
        }
    )
    assert request.stateless
    assert request.traits == {"tone": 4}
    assert [m.content for m in request.turns()] == ["before", "now"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": "a", "messages": [{"role": "user", "content": "b"}]},
        {"messages": []},
        {"message": "   "},
        {"messages": [{"role": "robot", "content": "a"}]},
        {"history": [{"role": "user", "content": "a"}], "messages": []},
        {"message": "a", "history": [{"role": "user", "content": "b"}], "session_id": SESSION_ID},
        {"message": "\u3000\n"},
        {"messages": [{"role": "user", "content": " \u00a0"}]},
        {"regenerate": True},
        {"regenerate": True, "session_id": SESSION_ID, "message": "a"},
        {
            "regenerate": True,
            "session_id": SESSION_ID,
            "history": [{"role": "user", "content": "a"}],
        },
        {"message": "a", "max_tokens": True},
        {"message": "a", "max_tokens": "5"},
        {"message": "a", "max_tokens": 5.5},
        {"message": "a", "temperature": True},
        {"message": "a", "temperature": 3},
        {"message": "a", "top_p": 0},
        {"message": "a", "max_tokens": 0},
        {"message": "a", "surprise": True},
        {"message": 5},
    ],
)
def test_malformed_turns_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChatRequest.model_validate(body)


ACCEPTED_TURNS: list[dict[str, Any]] = [
    {"message": "hi"},
    {"message": "hi", "messages": None, "history": None, "session_id": None},
    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
    {"messages": [{"role": "system", "content": " "}, {"role": "user", "content": "x"}]},
    {"history": [{"role": "user", "content": "a"}], "messages": [{"role": "user", "content": "b"}]},
    {"message": "a", "history": [], "session_id": SESSION_ID},
    {"regenerate": True, "session_id": SESSION_ID},
    {"regenerate": True, "session_id": SESSION_ID, "history": [], "message": None},
    {"regenerate": False, "message": "\x1c"},
    {"message": "a", "max_tokens": 5.0, "temperature": 1},
]
"""Bodies refused before only by rules that protected nothing, and the edge of the rest."""


def test_a_turn_may_end_on_any_role_and_an_empty_history_is_no_history() -> None:
    assert [m.role for m in ChatRequest.model_validate(ACCEPTED_TURNS[2]).turns()] == [
        "user",
        "assistant",
    ]
    with_history = ChatRequest.model_validate(ACCEPTED_TURNS[4])
    assert [m.content for m in with_history.turns()] == ["a", "b"]
    assert ChatRequest.model_validate(ACCEPTED_TURNS[5]).turns()[0].content == "a"


@pytest.mark.parametrize("body", ACCEPTED_TURNS)
def test_accepted_turns_are_accepted(body: dict[str, Any]) -> None:
    ChatRequest.model_validate(body)


def published_schema_accepts(body: dict[str, Any]) -> bool:
    """What a JSON Schema 2020-12 validator (the fuzzer's own) says of `body`."""
    schema = ChatRequest.model_json_schema()
    return bool(jsonschema_rs.Draft202012Validator(schema).is_valid(body))


@pytest.mark.parametrize("body", ACCEPTED_TURNS)
def test_the_published_schema_accepts_what_the_gateway_accepts(body: dict[str, Any]) -> None:
    assert published_schema_accepts(body)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": "a", "messages": [{"role": "user", "content": "b"}]},
        {"messages": []},
        {"message": "   "},
        {"messages": [{"role": "user", "content": " \u00a0"}]},
        {"message": "a", "history": [{"role": "user", "content": "b"}], "session_id": SESSION_ID},
        {"regenerate": True},
        {"regenerate": True, "session_id": SESSION_ID, "message": "a"},
        {
            "regenerate": True,
            "session_id": SESSION_ID,
            "history": [{"role": "user", "content": "a"}],
        },
        {"message": "a", "max_tokens": 5.5},
        {"message": "a", "temperature": 3},
    ],
)
def test_the_published_schema_refuses_what_the_gateway_refuses(body: dict[str, Any]) -> None:
    assert not published_schema_accepts(body)
    with pytest.raises((ValidationError, ValueError)):
        ChatRequest.model_validate(body)
