"""Staff verify every audit chain from the integrity page: the live worker runs each verification, the page polls
until they finish and shows each chain holding — in Debian Chromium against the real processes, axe-checked."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_privacy_browser import _no_axe_violations, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def test_staff_verify_every_chain_and_watch_the_results_arrive(browser, live_stack, factory):
    await factory.org_with_owner(name="Gale Crater Reclamation")
    staff = await factory.platform_admin()
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await _sign_in(page, live_stack, staff.email, staff.password)
    await page.goto(live_stack + "/admin/audit/integrity")
    row = page.locator("#audit-chains tr", has_text="Gale Crater Reclamation")
    await expect(row).to_contain_text("never")
    await _no_axe_violations(page)
    await page.get_by_role("button", name="Verify every chain").click()
    await expect(row).to_contain_text("holds", timeout=30_000)  # the worker ran it; the page polled
    await expect(page.locator("#integrity")).not_to_contain_text("running")
    await expect(page.locator("#audit-chains")).to_contain_text("Platform (no organization)")
    await _no_axe_violations(page)
