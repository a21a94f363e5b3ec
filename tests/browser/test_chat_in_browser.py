"""The chat UI in a real headless browser, against a live gateway and simulator.

One conversation, step by step, as a person would go: send a message and watch the
reply stream in, switch persona and meet its greeting, move a slider and see the system
prompt preview change, reload and find the conversation in the sidebar, export it. Each
step leaves a screenshot in the artifacts folder; the first is the README's picture.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import LiveStack

MESSAGE = "Any idea for a rainy Sunday?"
CHOOSE_ATTEMPTS = 4
CHOOSE_TIMEOUT_MS = 7_000


def persona(stack: LiveStack, slug: str) -> dict[str, object]:
    response = httpx.get(
        f"{stack.gateway.base_url}/api/personas/{slug}", headers={"x-api-key": stack.admin_key}
    )
    response.raise_for_status()
    return dict(response.json())


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMainBlockContainer")


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`.

    A rerun of the page (a slow machine finishing the last one) can redraw the open list
    and close it under the pointer: open it again and retry, a few times."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    expect(box).to_be_visible()
    for attempt in range(CHOOSE_ATTEMPTS):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=CHOOSE_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            if attempt == CHOOSE_ATTEMPTS - 1:
                raise
            page.keyboard.press("Escape")
        else:
            return


def shoot(page: Page, stack: LiveStack, name: str) -> Path:
    path = stack.artifacts / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def assistant_texts(page: Page) -> list[str]:
    """The text of each chat message: its first markdown block, not the buttons after it."""
    texts = []
    for message in main_area(page).get_by_test_id("stChatMessage").all():
        blocks = message.get_by_test_id("stMarkdownContainer").all_inner_texts()
        texts.append(blocks[0] if blocks else "")
    return texts


def test_1_a_reply_streams_in(page: Page, live_stack: LiveStack) -> None:
    choose(page, "Persona", "Seline")
    page.get_by_placeholder("Type your message…").fill(MESSAGE)
    page.keyboard.press("Enter")
    reply_start = f'[Seline] You said: "{MESSAGE}"'
    seen: list[str] = []
    for _ in range(400):  # watch the reply grow, token by token
        replies = [t for t in assistant_texts(page) if reply_start in t]
        if replies:
            seen.append(replies[-1])
            if "simulated reply" in replies[-1] and len(set(seen)) > 1 and _settled(page):
                break
        page.wait_for_timeout(25)
    assert len(set(seen)) > 2, "the reply did not arrive in pieces"
    final = seen[-1]
    assert all(final.startswith(partial.rstrip()) for partial in seen), seen
    shoot(page, live_stack, "01-chat")


def _settled(page: Page) -> bool:
    return main_area(page).get_by_role("button", name="Regenerate").count() > 0


def test_2_another_persona_greets(page: Page, live_stack: LiveStack) -> None:
    tutor = persona(live_stack, "tutor")
    choose(page, "Persona", str(tutor["name"]))
    page.get_by_role("button", name="New conversation").click()
    expect(main_area(page).get_by_text(str(tutor["greeting"]))).to_be_visible()
    shoot(page, live_stack, "02-persona-greeting")


def test_3_a_slider_changes_the_prompt_preview(page: Page, live_stack: LiveStack) -> None:
    page.get_by_text("Personas", exact=True).click()
    choose(page, "Persona to edit", "Seline (seline)")
    preview = main_area(page).get_by_test_id("stCode").last
    expect(preview).to_be_visible()
    before = preview.inner_text()
    slider = main_area(page).get_by_test_id("stSlider").filter(has_text="Emojis")
    thumb = slider.get_by_role("slider")
    level = int(thumb.get_attribute("aria-valuenow") or "0")
    thumb.focus()
    page.keyboard.press("ArrowLeft" if level == 5 else "ArrowRight")
    expect(preview).not_to_have_text(before)
    shoot(page, live_stack, "03-prompt-preview")


def test_4_after_a_reload_the_conversation_is_in_the_sidebar(
    page: Page, live_stack: LiveStack
) -> None:
    page.reload()
    sidebar = page.get_by_test_id("stSidebar")
    entry = sidebar.get_by_role("button", name=MESSAGE)
    expect(entry).to_be_visible()
    entry.click()
    expect(main_area(page).get_by_text(MESSAGE).first).to_be_visible()
    shoot(page, live_stack, "04-sidebar-after-reload")


def test_5_the_conversation_exports_to_markdown(page: Page, live_stack: LiveStack) -> None:
    with page.expect_download() as caught:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Export").click()
    saved = live_stack.artifacts / "05-export.md"
    caught.value.save_as(saved)
    exported = saved.read_text()
    assert MESSAGE in exported
    assert "[Seline] You said:" in exported
    shoot(page, live_stack, "05-export")
