from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from thinkingthoughts.api.chat_schemas import ChatRequest


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
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "robot", "content": "a"}]},
        {"history": [{"role": "user", "content": "a"}], "messages": []},
        {"message": "a", "history": [], "session_id": "s"},
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
