"""The app frame in Debian Chromium: the sidebar's menus by keyboard (focus visible, Escape closes and gives focus
back), the drawer on a phone with the account menu reachable, no wrapped navigation at 1280–1440 px, and a
chart read by keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.routes import populate

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def _signed_in(browser, live_stack, member, viewport):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(member.email)
    await page.get_by_label("Password").fill(member.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/(o/|orgs).*"))
    await page.goto(f"{live_stack}/o/{member.org_slug}/")
    return context, page, errors


async def _tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_the_menus_work_by_keyboard_and_show_focus(browser, live_stack, factory):
    owner = await factory.org_with_owner(name="Olympus Works")
    second = await factory.org_with_owner(name="Hellas Depot")
    await factory.join(second, owner)
    context, page, errors = await _signed_in(browser, live_stack, owner, {"width": 1366, "height": 900})

    account = page.locator("details.account-menu")
    summary = account.locator("summary")
    await _tab_to(page, "details.account-menu > summary")
    assert await summary.evaluate("s => s.matches(':focus-visible')")
    assert await summary.evaluate("s => getComputedStyle(s).outlineStyle") != "none"  # the focus ring shows
    await page.keyboard.press("Enter")
    await expect(account).to_have_attribute("open", "")
    await expect(account.get_by_role("link", name="Your account")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(account).not_to_have_attribute("open", "")
    assert await summary.evaluate("s => document.activeElement === s")  # focus goes back to the menu's button

    # the organization switcher lists the other organization; opening it closes any other menu
    await page.keyboard.press("Enter")
    org_menu = page.locator("details.org-menu")
    await org_menu.locator("summary").focus()
    await page.keyboard.press("Enter")
    await expect(org_menu).to_have_attribute("open", "")
    await expect(account).not_to_have_attribute("open", "")
    await expect(org_menu.get_by_role("link", name=re.compile("Hellas Depot"))).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(org_menu).not_to_have_attribute("open", "")

    # 1280–1440 px: every navigation entry on one line
    for width in (1280, 1440):
        await page.set_viewport_size({"width": width, "height": 900})
        heights = await page.locator(".sidebar-nav .nav-link").evaluate_all("links => links.map(a => a.offsetHeight)")
        assert len(heights) >= 7 and max(heights) == min(heights), (width, heights)
    assert errors == []
    await context.close()


async def test_on_a_phone_the_menu_button_opens_the_navigation_and_the_account_menu(
    browser, live_stack, factory, owner_engine
):
    owner = await factory.org_with_owner(name="Arcadia Station")
    await populate(owner_engine, owner.org_id, owner.id)
    context, page, errors = await _signed_in(browser, live_stack, owner, {"width": 390, "height": 844})

    sidebar = page.locator("#sidebar")
    await expect(sidebar.get_by_role("link", name="Missions")).not_to_be_in_viewport()
    toggle = page.get_by_role("button", name="Open navigation")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(sidebar.get_by_role("link", name="Missions")).to_be_in_viewport()
    await page.keyboard.press("Escape")
    await expect(toggle).to_have_attribute("aria-expanded", "false")

    await toggle.click()
    await sidebar.locator("details.account-menu > summary").click()
    sign_out = sidebar.get_by_role("button", name="Sign out")
    await expect(sign_out).to_be_in_viewport()  # the account menu stays on screen
    await sidebar.get_by_role("link", name="Your account").click()
    await expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    # a list becomes cards: each mission row shows its fields with their labels, nothing scrolls sideways
    await page.goto(f"{live_stack}/o/{owner.org_slug}/")
    await toggle.click()
    await sidebar.get_by_role("link", name="Missions").click()
    first = page.locator("#mission-results tbody tr").first
    await expect(first.locator("td[data-label]").first).to_be_visible()
    label = await first.locator("td[data-label]").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label.strip('"') == await first.locator("td[data-label]").first.get_attribute("data-label")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
    await context.close()
