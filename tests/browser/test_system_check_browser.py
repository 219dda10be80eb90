"""A person signs in, opens the system check, and watches the SSE progress bar reach 100 %."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def test_sign_in_and_watch_the_system_check(browser, live_stack, factory):
    member = await factory.org_with_owner(name="Artemis Base Camp")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    await page.goto(live_stack + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email").fill(member.email)
    await page.get_by_label("Password").fill(member.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Artemis Base Camp")).to_be_visible()

    await page.get_by_role("link", name="System check").first.click()
    await expect(page.get_by_role("heading", name="System check", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Start system check").click()

    bar = page.locator("#check-bar")
    await expect(bar).to_have_attribute("value", "100", timeout=30_000)
    await expect(page.locator("#check-progress")).to_have_attribute("data-status", "succeeded")
    await expect(page.locator(".step-ok")).to_have_count(4)
    assert page.url.startswith(live_stack + f"/o/{member.org_slug}/ops/checks/")
    await page.screenshot(path=str(OUTPUT / "system-check.png"), full_page=True)

    # phone-sized screen: the same page stays usable
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(bar).to_have_attribute("value", "100")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    await page.screenshot(path=str(OUTPUT / "system-check-phone.png"), full_page=True)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


async def test_progress_arrives_over_sse_while_the_page_is_open(browser, live_stack, factory, maker, app):
    """The page opens on a queued check (0 %), then the worker runs it and SSE moves the bar to 100 %."""
    from sqlalchemy import text

    from tests.security.test_rls import _seed_checks
    from webapp.core.tenancy import scope_session
    from webapp.ops.tasks import enqueue_system_check

    member = await factory.org_with_owner()
    await _seed_checks(maker, member, 1)  # queued, deliberately not enqueued yet
    async with maker() as session:
        await session.begin()
        await scope_session(session, org_id=member.org_id)
        check_id = (await session.execute(text("SELECT id FROM system_checks"))).scalar_one()

    page = await browser.new_page()
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(member.email)
    await page.get_by_label("Password").fill(member.password)
    await page.get_by_role("button", name="Sign in").click()
    async with page.expect_request(lambda r: r.url.endswith("/events"), timeout=10_000):
        await page.goto(f"{live_stack}/o/{member.org_slug}/ops/checks/{check_id}")
    bar = page.locator("#check-bar")
    await expect(page.get_by_text("Waiting for a worker")).to_be_visible()
    await expect(bar).to_have_attribute("value", "0")

    await enqueue_system_check(str(check_id), str(member.org_id))
    await expect(bar).to_have_attribute("value", "100", timeout=30_000)
    await expect(page.get_by_text("All checks passed")).to_be_visible()
    await page.screenshot(path=str(OUTPUT / "system-check-sse.png"), full_page=True)
