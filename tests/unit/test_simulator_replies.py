from __future__ import annotations

from typing import Any

import pytest

from thinkingthoughts.simulator.replies import (
    MESSAGE_OVERHEAD_TOKENS,
    answered_tool_name,
    build_reply,
    count_tokens,
    last_user_text,
    message_text,
    persona_name_from_system_prompt,
    prompt_token_count,
    prompt_token_ids,
    split_into_pieces,
    text_token_ids,
    tokenize,
)

Messages = list[dict[str, Any]]


def _system(text: str) -> dict[str, Any]:
    return {"role": "system", "content": text}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("   \n\t ", []),
        ("hello", ["hello"]),
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("don't stop", ["don", "'", "t", "stop"]),
        ("a...b", ["a", ".", ".", ".", "b"]),
        ("élan vital 42", ["élan", "vital", "42"]),
        ("snake_case\nnext", ["snake_case", "next"]),
    ],
)
def test_tokenize_splits_words_and_punctuation(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens
    assert count_tokens(text) == len(tokens)


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"role": "user", "content": "plain"}, "plain"),
        ({"role": "assistant", "content": None}, ""),
        ({"role": "user"}, ""),
        (
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look at"},
                    {"type": "image_url", "image_url": {"url": "http://example.test/a.png"}},
                    {"type": "text", "text": "this picture"},
                ],
            },
            "look at\nthis picture",
        ),
        ({"role": "user", "content": [{"type": "text"}, "loose string"]}, ""),
    ],
)
def test_message_text_reads_strings_and_text_parts(message: dict[str, Any], text: str) -> None:
    assert message_text(message) == text


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], 0),
        ([_user("")], MESSAGE_OVERHEAD_TOKENS),
        ([_user("Hello, world!")], MESSAGE_OVERHEAD_TOKENS + 4),
        ([_system("Be kind."), _user("hi"), _assistant("hey there")], 3 * 4 + 3 + 1 + 2),
        (
            [{"role": "user", "content": [{"type": "text", "text": "two words"}]}],
            MESSAGE_OVERHEAD_TOKENS + 2,
        ),
    ],
)
def test_prompt_token_count_adds_a_fixed_overhead_per_message(
    messages: Messages, expected: int
) -> None:
    assert prompt_token_count(messages) == expected
    assert len(prompt_token_ids(messages)) == expected


def test_token_ids_are_stable_and_equal_for_equal_tokens() -> None:
    ids = text_token_ids("cat dog cat")
    assert ids[0] == ids[2] != ids[1]
    assert text_token_ids("cat dog cat") == ids
    assert all(isinstance(token_id, int) and token_id >= 0 for token_id in ids)


@pytest.mark.parametrize(
    ("system_prompts", "name"),
    [
        (["Name: Seline\nAge: 24"], "Seline"),
        (["Persona sheet\n- Name: Seline Dupont\n- Tone: warm"], "Seline Dupont"),
        (["**Name:** Maya."], "Maya"),
        (["You are Seline, a cheerful guide."], "Seline"),
        (["you are Kai and you love tea."], "Kai"),
        (["Intro line. You are Maya Lin. Name: Other"], "Maya Lin"),
        (["Name: First\nYou are Second"], "First"),
        (["You are a helpful assistant."], None),
        (["Username: bob"], None),
        (["Name:\nYou are Kai"], "Kai"),
        (["No name here.", "Name: Second Prompt"], "Second Prompt"),
        ([], None),
    ],
)
def test_persona_name_comes_from_the_first_match_in_system_messages(
    system_prompts: list[str], name: str | None
) -> None:
    messages = [_system(prompt) for prompt in system_prompts] + [_user("hi")]
    assert persona_name_from_system_prompt(messages) == name


def test_persona_name_is_not_read_from_user_messages() -> None:
    assert persona_name_from_system_prompt([_user("Name: Mallory"), _user("You are Eve")]) is None


def test_last_user_text_skips_later_assistant_turns() -> None:
    messages = [_user("first"), _user("second"), _assistant("reply")]
    assert last_user_text(messages) == "second"
    assert last_user_text([_system("Name: X")]) == ""


@pytest.mark.parametrize(
    ("messages", "start"),
    [
        (
            [_system("Name: Seline"), _user("Tell me about rainy days")],
            '[Seline] You said: "Tell me about rainy days". (2 messages)',
        ),
        ([_user("hi")], '[assistant] You said: "hi". (1 message)'),
        (
            [_system("You are Kai."), _user("one"), _assistant("two"), _user("three\nfour")],
            '[Kai] You said: "three four". (4 messages)',
        ),
        (
            [_user("one two three four five six seven eight nine ten eleven twelve thirteen")],
            '[assistant] You said: "one two three four five six seven eight nine ten eleven '
            'twelve...". (1 message)',
        ),
        ([_system("Name: Seline")], '[Seline] You said: "". (1 message)'),
    ],
)
def test_reply_echoes_speaker_quote_and_message_count(messages: Messages, start: str) -> None:
    reply = "".join(build_reply(messages, 200))
    assert reply.startswith(start + " This is a simulated reply")


@pytest.mark.parametrize("max_tokens", [0, 1, 3, 10, 32, 100, 257])
def test_reply_has_exactly_max_tokens_pieces_that_retokenize_the_same(max_tokens: int) -> None:
    messages = [_system("Name: Seline"), _user("What's up, friend? Tell me everything!")]
    pieces = build_reply(messages, max_tokens)
    assert len(pieces) == max_tokens
    assert count_tokens("".join(pieces)) == max_tokens
    assert all(piece.strip() for piece in pieces)


def test_short_reply_is_the_start_of_the_long_one() -> None:
    messages = [_user("hello there")]
    assert build_reply(messages, 3) == ["[", "assistant", "]"]
    assert build_reply(messages, 40)[:20] == build_reply(messages, 20)


def test_reply_is_deterministic() -> None:
    messages = [_system("Name: Seline"), _user("same input")]
    assert build_reply(messages, 64) == build_reply(list(messages), 64)


def test_french_persona_intro_names_the_persona() -> None:
    messages = [{"role": "system", "content": "Règles.\n\nTu es Camille.\n"}]
    assert persona_name_from_system_prompt(messages) == "Camille"


# --- tool calls and tool results -----------------------------------------------------

WEATHER_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def _asked_weather() -> Messages:
    return [
        _system("Name: Seline"),
        _user("Weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [WEATHER_CALL]},
    ]


def _tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


@pytest.mark.parametrize(
    "text",
    ["", "hello", '{"echo":"say \\"hi\\" now"}', "  leading and inner   spaces", "a\nb, c!"],
)
def test_pieces_join_back_to_the_text_one_per_token(text: str) -> None:
    pieces = split_into_pieces(text)
    assert "".join(pieces) == text.rstrip()
    assert len(pieces) == count_tokens(text)


def test_prompt_counts_tool_call_names_and_arguments_and_tool_results() -> None:
    messages = [*_asked_weather(), _tool_result("call_1", "Sunny, 21 degrees.")]
    system, user, result = 3, 4, 5  # Name : Seline / Weather in Paris ? / Sunny , 21 degrees .
    call = 1 + 9  # get_weather / { " city " : " Paris " }
    expected = 4 * MESSAGE_OVERHEAD_TOKENS + system + user + call + result
    assert prompt_token_count(messages) == expected
    assert len(prompt_token_ids(messages)) == expected


def test_prompt_counts_declared_tools_by_their_json_text() -> None:
    messages = [_user("hi")]
    tools = [{"type": "function", "function": {"name": "get_weather"}}]
    # [ { " type " : " function " , " function " : { " name " : " get_weather " } } ]
    tool_tokens = 25
    assert prompt_token_count(messages, tools) == prompt_token_count(messages) + tool_tokens
    assert len(prompt_token_ids(messages, tools)) == prompt_token_count(messages, tools)


def test_malformed_tool_calls_count_only_what_is_text() -> None:
    messages = [{"role": "assistant", "content": None, "tool_calls": ["x", {"function": 3}]}]
    assert prompt_token_count(messages) == MESSAGE_OVERHEAD_TOKENS


def test_answered_tool_name_follows_the_call_id_to_the_assistant_message() -> None:
    messages = _asked_weather()
    assert answered_tool_name(messages, "call_1") == "get_weather"
    assert answered_tool_name(messages, "call_2") is None
    assert answered_tool_name([_user("hi")], "call_1") is None


@pytest.mark.parametrize(
    ("call_id", "start"),
    [
        (
            "call_1",
            '[Seline] Tool get_weather returned: "Sunny, 21 degrees.". (4 messages)',
        ),
        ("call_unknown", '[Seline] A tool returned: "Sunny, 21 degrees.". (4 messages)'),
    ],
)
def test_reply_to_a_tool_result_quotes_it_and_names_the_tool(call_id: str, start: str) -> None:
    messages = [*_asked_weather(), _tool_result(call_id, "Sunny, 21 degrees.")]
    assert "".join(build_reply(messages, 200)).startswith(start + " This is a simulated reply")


def test_a_user_message_after_a_tool_result_is_quoted_again() -> None:
    messages = [*_asked_weather(), _tool_result("call_1", "Sunny."), _user("Thanks!")]
    assert "".join(build_reply(messages, 200)).startswith('[Seline] You said: "Thanks!". ')
