"""Conversation exports (Markdown and JSON documents): pure, data in, text out.

An export holds the active path; the JSON document also gives each message its
alternatives (the siblings not on the path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ROLE_HEADINGS = {"user": "You", "system": "System"}


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    seq: int
    role: str
    content: str
    status: str
    created_at: datetime
    tool_calls: Sequence[Mapping[str, Any]] = ()
    alternatives: Sequence[TranscriptMessage] = ()
    """The other messages sharing its parent (other replies, other edits), by seq."""


@dataclass(frozen=True, slots=True)
class Transcript:
    session_id: str
    title: str | None
    persona_name: str | None
    persona_slug: str | None
    created_at: datetime
    messages: Sequence[TranscriptMessage]


def transcript_markdown(transcript: Transcript) -> str:
    speaker = transcript.persona_name or "Assistant"
    lines = [f"# {transcript.title or 'Conversation'}", ""]
    if transcript.persona_name:
        lines.append(f"- Persona: {transcript.persona_name}")
    lines += [
        f"- Session: `{transcript.session_id}`",
        f"- Started: {transcript.created_at.isoformat(timespec='seconds')}",
        "",
    ]
    for message in transcript.messages:
        heading = speaker if message.role == "assistant" else ROLE_HEADINGS.get(message.role, "?")
        marker = "" if message.status == "complete" else f" _({message.status})_"
        lines += [f"**{heading}**{marker}", ""]
        if message.content:
            lines += [message.content, ""]
        lines += [f"_calls `{call_signature(call)}`_" for call in message.tool_calls]
        if message.tool_calls:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def transcript_document(transcript: Transcript) -> dict[str, Any]:
    return {
        "session_id": transcript.session_id,
        "title": transcript.title,
        "persona": transcript.persona_slug,
        "created_at": transcript.created_at.isoformat(),
        "messages": [_message_document(m) for m in transcript.messages],
    }


def _message_document(message: TranscriptMessage) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "created_at": message.created_at.isoformat(),
        **({"tool_calls": list(message.tool_calls)} if message.tool_calls else {}),
        **(
            {"alternatives": [_message_document(a) for a in message.alternatives]}
            if message.alternatives
            else {}
        ),
    }


def call_signature(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    return f"{function.get('name', '?')}({function.get('arguments', '')})"
