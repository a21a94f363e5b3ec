"""Conversation exports (Markdown and JSON documents): pure, data in, text out."""

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
        "messages": [
            {
                "seq": m.seq,
                "role": m.role,
                "content": m.content,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                **({"tool_calls": list(m.tool_calls)} if m.tool_calls else {}),
            }
            for m in transcript.messages
        ],
    }


def call_signature(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    return f"{function.get('name', '?')}({function.get('arguments', '')})"
