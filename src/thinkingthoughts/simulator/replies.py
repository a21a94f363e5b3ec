"""What the simulator "generates": token counting and a reply derived from the request.

The reply says who answers, what the user said and how many messages arrived, e.g.
`[Seline] You said: "hello there". (3 messages) This is a simulated reply ...`, so a test
can prove from the reply alone what the gateway sent upstream (persona, last user
message, history length after trimming). After a tool result it quotes that result and
names the tool whose call it answers: `[Seline] Tool get_weather returned: "sunny". (5 messages)`.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

# One token is a run of word characters or one other visible character.
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
# The same tokens with the whitespace before them, so that pieces join back to the text.
_PIECE_RE = re.compile(r"\s*(?:\w+|[^\w\s])")

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template spends around each message (start, role, separator, end)."""
_MESSAGE_OVERHEAD_IDS = (1, 2, 3, 4)
_FIRST_TEXT_TOKEN_ID = 16
_VOCAB_SIZE = 32_000

QUOTED_WORDS = 12
"""How many words of the last user message the reply quotes."""
DEFAULT_SPEAKER = "assistant"

_FILLER_PIECES = (
    " This",
    " is",
    " a",
    " simulated",
    " reply",
    " from",
    " the",
    " inference",
    " simulator",
    ",",
    " standing",
    " in",
    " for",
    " a",
    " real",
    " model",
    ".",
)

_SYSTEM_ROLES = frozenset({"system", "developer"})
_NAME_WORD = r"[^\W\d_][\w'’-]*"
_PERSONA_NAME_RE = re.compile(
    r"^[ \t>#*-]*(?i:name)[ \t*]*:[ \t*]*(?P<line_name>[^\n]*?)[ \t*.,;]*$"
    rf"|\b(?i:you are|tu es)[ \t]+(?P<intro_name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})",
    re.MULTILINE,
)
_MAX_NAME_LENGTH = 60


def tokenize(text: str) -> list[str]:
    """Split text into the simulator's tokens: words and single punctuation marks."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens `tokenize` would return, without building the strings' list twice."""
    return len(_TOKEN_RE.findall(text))


def text_token_ids(text: str) -> list[int]:
    """Stable integer ids of the text's tokens (the same token always gets the same id)."""
    return [_token_id(token) for token in _TOKEN_RE.findall(text)]


def message_text(message: Mapping[str, Any]) -> str:
    """The text of one chat message: its string content, or its text parts joined."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def split_into_pieces(text: str) -> list[str]:
    """The text's tokens, each with the whitespace before it: they join back to the text.

    Trailing whitespace is the one thing lost, as it belongs to no token.
    """
    return _PIECE_RE.findall(text)


def prompt_token_count(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[dict[str, Any]] = ()
) -> int:
    """Prompt length of a chat request: each message's text tokens plus a fixed overhead.

    The names and arguments of an assistant message's tool calls count as its text, and
    the declared tools count with their JSON text, as a chat template renders them.
    """
    text_tokens = sum(count_tokens(text) for text in _prompt_texts(messages, tools))
    return text_tokens + MESSAGE_OVERHEAD_TOKENS * len(messages)


def prompt_token_ids(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[dict[str, Any]] = ()
) -> list[int]:
    """Token ids of a chat prompt; as many as `prompt_token_count` says."""
    ids: list[int] = []
    for message in messages:
        ids.extend(_MESSAGE_OVERHEAD_IDS)
        ids.extend(text_token_ids(_message_prompt_text(message)))
    if tools:
        ids.extend(text_token_ids(_tools_text(tools)))
    return ids


def persona_name_from_system_prompt(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The persona's name from the system message(s), or None when none is given.

    Recognises a `Name: Seline` line and the phrases `You are Seline` or `Tu es Seline`;
    the first one in the text wins. After "You are", only capitalised words count as a name, so
    "You are a helpful assistant" names nobody.
    """
    for message in messages:
        if message.get("role") not in _SYSTEM_ROLES:
            continue
        for match in _PERSONA_NAME_RE.finditer(message_text(message)):
            name = _name_from_match(match)
            if name:
                return name
    return None


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last message whose role is `user`, or "" when there is none."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def answered_tool_name(messages: Sequence[Mapping[str, Any]], tool_call_id: object) -> str | None:
    """The name of the tool whose call (in an assistant message) has this id, if any."""
    for message in reversed(messages):
        for call in _tool_calls_of(message):
            function = call.get("function")
            if call.get("id") == tool_call_id and isinstance(function, Mapping):
                name = function.get("name")
                return name if isinstance(name, str) and name else None
    return None


def reply_header(messages: Sequence[Mapping[str, Any]]) -> str:
    """The part of the reply that echoes the request: speaker, quote, message count.

    The quote is the last user message, or the tool result when the request ends with one.
    """
    speaker = persona_name_from_system_prompt(messages) or DEFAULT_SPEAKER
    count = len(messages)
    plural = "message" if count == 1 else "messages"
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        name = answered_tool_name(messages, last.get("tool_call_id"))
        said = f"Tool {name} returned" if name else "A tool returned"
        quote = _quote(message_text(last))
    else:
        said, quote = "You said", _quote(last_user_text(messages))
    return f'[{speaker}] {said}: "{quote}". ({count} {plural})'


def build_reply(messages: Sequence[Mapping[str, Any]], max_tokens: int) -> list[str]:
    """The reply as `max_tokens` pieces, one per streamed token.

    The pieces carry their leading whitespace, so `"".join(pieces)` is the reply text
    and `count_tokens` of that text is `len(pieces)`. The header comes first (cut short
    when `max_tokens` is smaller than it), then filler sentences up to the length.
    """
    if max_tokens <= 0:
        return []
    header = split_into_pieces(reply_header(messages))
    if len(header) >= max_tokens:
        return header[:max_tokens]
    filler = itertools.islice(itertools.cycle(_FILLER_PIECES), max_tokens - len(header))
    return [*header, *filler]


def _quote(text: str) -> str:
    words = text.split()
    return " ".join(words[:QUOTED_WORDS]) + ("..." if len(words) > QUOTED_WORDS else "")


def _prompt_texts(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[dict[str, Any]]
) -> Iterator[str]:
    for message in messages:
        yield _message_prompt_text(message)
    if tools:
        yield _tools_text(tools)


def _message_prompt_text(message: Mapping[str, Any]) -> str:
    text = message_text(message)
    calls = _tool_calls_of(message)
    if not calls:
        return text
    parts = [text]
    for call in calls:
        function = call.get("function")
        if isinstance(function, Mapping):
            parts.extend(
                value
                for value in (function.get("name"), function.get("arguments"))
                if isinstance(value, str)
            )
    return "\n".join(parts)


def _tool_calls_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [call for call in calls if isinstance(call, Mapping)]


def _tools_text(tools: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(list(tools)).decode()


def _name_from_match(match: re.Match[str]) -> str | None:
    line_name = match.group("line_name")
    if line_name is not None:
        name = line_name.strip(" \t\r*\"'.")
        return name[:_MAX_NAME_LENGTH] if name else None
    words = match.group("intro_name").split()
    capitalised = list(itertools.takewhile(lambda word: word[0].isupper(), words))
    return " ".join(capitalised) or None


def _token_id(token: str) -> int:
    # crc32 rather than hash(): ids must not change between processes.
    return _FIRST_TEXT_TOKEN_ID + zlib.crc32(token.encode("utf-8")) % _VOCAB_SIZE
