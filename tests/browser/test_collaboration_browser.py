"""Collaboration in Debian Chromium: one person comments, a second replies with an image uploaded straight to the
store (its progress bar, then its thumbnail) while the first sees both appear without reloading; then the first
finds the mission from the header search by a word of its name, with the keyboard."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.async_api import expect

from tests.browser.test_app_frame_browser import _signed_in
from tests.helpers import api_key_headers
from tests.missions.test_missions_api import MISSION
from webapp.core.permissions import SystemRole

pytestmark = [pytest.mark.browser, pytest.mark.live]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def test_reply_with_an_image_appears_live_then_header_search_finds_the_mission(
    app, browser, live_stack, factory, tmp_path
):
    owner = await factory.org_with_owner(name="Utopia Works")
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Valentina Ortiz")
    auth = await api_key_headers(app.test_client(), owner, ["missions:read", "missions:write"])
    created = await app.test_client().post(
        f"/api/v1/organizations/{owner.org_id}/missions",
        headers=auth,
        json=MISSION | {"name": "Utopia Planitia Foundry"},
    )
    mission = await created.get_json()
    url = f"{live_stack}/o/{owner.org_slug}/missions/{mission['id']}"

    first, page_a, errors_a = await _signed_in(browser, live_stack, owner, {"width": 1366, "height": 900})
    second, page_b, errors_b = await _signed_in(browser, live_stack, crew, {"width": 1280, "height": 900})
    await page_a.goto(url)
    await page_b.goto(url)
    await expect(page_b.locator("#discussion")).to_contain_text("No comments yet")

    # the first person asks; the second sees it arrive
    await page_a.get_by_label("Add a comment").fill("Is the **sinter furnace** clogged again?")
    await page_a.locator("#discussion form.comment-form:not(.reply-form)").get_by_role("button", name="Comment").click()
    question = page_b.locator("#discussion article.comment", has_text="clogged again")
    await expect(question).to_be_visible(timeout=15_000)
    await expect(question.locator("strong", has_text="sinter furnace")).to_be_visible()

    # the second replies with a photo: a progress bar per file, then the reply with its thumbnail
    await question.get_by_role("link", name="Reply").click()
    reply_form = page_b.locator("form.reply-form")
    await expect(reply_form).to_be_visible()
    photo = tmp_path / "furnace.png"
    photo.write_bytes(PNG)
    await reply_form.locator("input[type=file]").set_input_files(str(photo))
    await expect(reply_form.locator(".upload-list li", has_text="furnace.png")).to_contain_text(
        "Attached", timeout=15_000
    )
    await reply_form.get_by_label("Reply").fill("Yes, photo attached.")
    await reply_form.get_by_role("button", name="Reply").click()

    reply = page_a.locator(".replies article.comment", has_text="photo attached")
    await expect(reply).to_be_visible(timeout=15_000)
    thumbnail = reply.locator("img[alt='furnace.png']")
    await expect(thumbnail).to_be_visible()
    assert (
        await thumbnail.evaluate(
            "img => img.complete ? img.naturalWidth : new Promise(r => img.onload = () => r(img.naturalWidth))"
        )
        > 0
    )
    await expect(page_a.locator("#discussion [data-comment-count]")).to_have_text("2")

    # the header search: type a word of the mission's name, choose it with the keyboard
    await page_a.goto(f"{live_stack}/o/{owner.org_slug}/")
    await page_a.keyboard.press("/")
    box = page_a.locator("#header-q")
    await expect(box).to_be_focused()
    await box.type("planitia", delay=30)
    option = page_a.get_by_role("option", name=re.compile("Utopia Planitia Foundry"))
    await expect(option).to_be_visible(timeout=10_000)
    await expect(box).to_have_attribute("aria-expanded", "true")
    await page_a.keyboard.press("ArrowDown")
    await expect(page_a.locator("[role=option][aria-selected=true]")).to_contain_text("Utopia Planitia Foundry")
    await page_a.keyboard.press("Enter")
    await page_a.wait_for_url(re.compile(rf".*/missions/{mission['id']}$"))
    await expect(page_a.get_by_role("heading", level=1)).to_contain_text("Utopia Planitia Foundry")

    assert errors_a == [] and errors_b == []
    await first.close()
    await second.close()
