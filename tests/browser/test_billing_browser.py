"""A new organization on the free plan fills its three seats, is told so next to the invite form with a way to
upgrade, buys the Crew plan at the sandbox checkout, waits while the sandbox's signed webhook reaches the app and the
worker applies it, then invites a fourth member and sees the invoice — in Debian Chromium against the real web,
worker and scheduler processes."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import expect

from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def test_upgrade_through_the_sandbox_checkout_then_invite_a_fourth_member(browser, live_stack, factory):
    owner = await factory.org_with_owner(name="Jezero Recycling Co", plan="free")
    await factory.member(owner)
    await factory.member(owner)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()

    fourth = f"fourth-{secrets.token_hex(3)}@example.org"
    await page.get_by_role("link", name="Members").click()
    await expect(page.locator("#seat-use")).to_contain_text("3 of 3 seats on the Free plan taken")
    await page.get_by_label("Email address").fill(fourth)
    await page.get_by_role("button", name="Send invitation").click()
    refusal = page.get_by_role("alert")
    await expect(refusal).to_contain_text("All 3 seats of the Free plan are taken")
    await refusal.get_by_role("link", name="See plans and upgrade").click()

    await expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    await expect(page.locator("#plan-card")).to_contain_text("Free plan")
    crew = page.locator("article.plan-card", has=page.get_by_role("heading", name="Crew", exact=True))
    await crew.get_by_role("button", name="Switch to Crew").click()

    await expect(page.get_by_role("heading", name="Pay for Crew")).to_be_visible()
    await expect(page.locator("#amount-due")).to_have_text("$49.00")
    await page.get_by_role("button", name="Pay $49.00").click()

    # the sandbox's events travel as signed webhooks through a worker job to the web process, and the worker
    # applies them; the page polls until then
    await expect(page.locator("#plan-card")).to_contain_text("Crew plan", timeout=60_000)
    await expect(page.locator("#plan-card")).to_contain_text("5 paid seats")
    await expect(page.locator("#invoices-h ~ .table-wrap")).to_contain_text("$49.00", timeout=30_000)
    await page.screenshot(path=str(OUTPUT / "billing-after-upgrade.png"), full_page=True)

    await page.get_by_role("link", name="Members").click()
    await expect(page.locator("#seat-use")).to_contain_text("3 of 5 seats on the Crew plan taken")
    await page.get_by_label("Email address").fill(fourth)
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.locator("#invitations")).to_contain_text(fourth)

    await page.get_by_role("link", name="Billing").click()
    await page.locator("#invoices-h ~ .table-wrap a").first.click()
    await expect(page.locator("#invoice-total")).to_have_text("$49.00")
    await expect(page.get_by_text("Crew plan, monthly")).to_be_visible()
