"""A conversation's alternatives, edits, branches and address in a real headless browser,
against a live gateway and simulator.

As a person would go: ask, regenerate and flip between the two replies with ‹ and ›,
edit the question, reload and find the same conversation open (its address names it),
branch from a reply into a new conversation, and reload again.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import STEP_TIMEOUT_MS, LiveStack
from tests.browser.test_chat_in_browser import assistant_texts, main_area, shoot

QUESTION = "Which tea for a cold morning?"
EDITED = "Which coffee for a cold morning?"
SESSION_IN_URL = re.compile(r"[?&]session=([0-9a-f-]{36})")


def session_in_url(page: Page) -> str:
    expect(page).to_have_url(SESSION_IN_URL, timeout=STEP_TIMEOUT_MS)
    found = SESSION_IN_URL.search(page.url)
    assert found is not None
    return found.group(1)


def active_path(stack: LiveStack, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.gateway.base_url}/api/sessions/{session_id}",
        params={"limit": 500},
        headers={"x-api-key": stack.admin_key},
    )
    response.raise_for_status()
    return list(response.json()["messages"])


def bubbles(page: Page) -> Locator:
    return main_area(page).get_by_test_id("stChatMessage")


def user_bubbles(page: Page) -> Locator:
    return bubbles(page).filter(has=page.get_by_test_id("stChatMessageAvatarUser"))


def settled(page: Page) -> None:
    """Wait until the reply under way is stored and the page drawn again after it."""
    expect(main_area(page).get_by_role("button", name="Regenerate")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )


def position(page: Page, text: str) -> None:
    expect(main_area(page).get_by_text(text, exact=True)).to_be_visible(timeout=STEP_TIMEOUT_MS)


def test_1_regenerate_then_flip_between_the_two_replies(page: Page, live_stack: LiveStack) -> None:
    page.get_by_placeholder("Type your message…").fill(QUESTION)
    page.keyboard.press("Enter")
    settled(page)
    session_id = session_in_url(page)
    first_reply = active_path(live_stack, session_id)[-1]["id"]

    main_area(page).get_by_role("button", name="Regenerate").click()
    position(page, "2/2")
    settled(page)
    second_reply = active_path(live_stack, session_id)[-1]["id"]
    assert second_reply != first_reply
    shoot(page, live_stack, "10-two-replies")

    bubbles(page).last.get_by_role("button", name="‹").click()
    position(page, "1/2")
    assert active_path(live_stack, session_id)[-1]["id"] == first_reply

    bubbles(page).last.get_by_role("button", name="›").click()
    position(page, "2/2")
    assert active_path(live_stack, session_id)[-1]["id"] == second_reply


def test_2_an_edited_question_is_answered_on_a_new_branch(
    page: Page, live_stack: LiveStack
) -> None:
    question = user_bubbles(page).filter(has_text=QUESTION).last
    question.get_by_role("button", name="Edit").click()
    box = main_area(page).get_by_role("textbox", name="Edited message")
    expect(box).to_have_value(QUESTION, timeout=STEP_TIMEOUT_MS)
    box.fill(EDITED)
    main_area(page).get_by_role("button", name="Send", exact=True).click()

    expect(bubbles(page).filter(has_text=f'You said: "{EDITED}"')).to_have_count(
        1, timeout=STEP_TIMEOUT_MS
    )
    settled(page)
    position(page, "2/2")  # the question has two versions now
    assert not any(QUESTION in text for text in assistant_texts(page))
    path = active_path(live_stack, session_in_url(page))
    assert [m["content"] for m in path if m["role"] == "user"] == [EDITED]
    shoot(page, live_stack, "11-edited")


def test_3_a_reload_keeps_the_conversation_open(page: Page, live_stack: LiveStack) -> None:
    session_id = session_in_url(page)

    page.reload()

    expect(bubbles(page).filter(has_text=f'You said: "{EDITED}"')).to_have_count(
        1, timeout=STEP_TIMEOUT_MS
    )
    settled(page)
    assert session_in_url(page) == session_id
    position(page, "2/2")


def test_4_branch_from_a_reply_opens_a_new_conversation(page: Page, live_stack: LiveStack) -> None:
    source_id = session_in_url(page)
    source = active_path(live_stack, source_id)

    bubbles(page).last.get_by_role("button", name="Branch from here").click()

    expect(page).not_to_have_url(re.compile(f"session={source_id}"), timeout=STEP_TIMEOUT_MS)
    branch_id = session_in_url(page)
    expect(page.get_by_text("A new conversation branched from that message")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )
    branch = active_path(live_stack, branch_id)
    assert [m["content"] for m in branch] == [m["content"] for m in source]
    assert {m["id"] for m in branch}.isdisjoint(m["id"] for m in source)
    shoot(page, live_stack, "12-branch")

    page.reload()

    expect(bubbles(page).filter(has_text=f'You said: "{EDITED}"')).to_have_count(
        1, timeout=STEP_TIMEOUT_MS
    )
    assert session_in_url(page) == branch_id
    expect(page.get_by_text("A new conversation branched from that message")).to_have_count(
        0, timeout=STEP_TIMEOUT_MS
    )
