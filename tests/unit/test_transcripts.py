from __future__ import annotations

from datetime import UTC, datetime

from thinkingthoughts.conversations.transcripts import (
    Transcript,
    TranscriptMessage,
    transcript_document,
    transcript_markdown,
)

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _transcript(persona: str | None = "Seline") -> Transcript:
    return Transcript(
        session_id="s1",
        title="Rainy days",
        persona_name=persona,
        persona_slug="seline" if persona else None,
        created_at=MOMENT,
        messages=[
            TranscriptMessage(1, "assistant", "Hello there!", "complete", MOMENT),
            TranscriptMessage(2, "user", "It rains.", "complete", MOMENT),
            TranscriptMessage(3, "assistant", "Then tea", "interrupted", MOMENT),
        ],
    )


def test_markdown_names_speakers_in_order_and_marks_unfinished_replies() -> None:
    text = transcript_markdown(_transcript())
    assert text.startswith("# Rainy days\n")
    assert "- Persona: Seline" in text
    assert text.index("Hello there!") < text.index("It rains.") < text.index("Then tea")
    assert "**You**\n\nIt rains." in text
    assert "**Seline** _(interrupted)_\n\nThen tea" in text


def test_markdown_without_persona_uses_a_neutral_speaker() -> None:
    text = transcript_markdown(_transcript(persona=None))
    assert "**Assistant**" in text
    assert "Persona:" not in text


def test_json_document_keeps_every_message_field() -> None:
    document = transcript_document(_transcript())
    assert document["persona"] == "seline"
    assert [m["seq"] for m in document["messages"]] == [1, 2, 3]
    assert document["messages"][2]["status"] == "interrupted"
    assert document["created_at"] == MOMENT.isoformat()
