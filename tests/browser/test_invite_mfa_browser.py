"""An owner invites a crew member, who accepts, turns on two-factor, signs in again with a TOTP code and
reaches the members page — in Debian Chromium against the real web, worker and scheduler processes."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.async_api import expect

from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def _sign_in(page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_invite_accept_enrol_mfa_and_sign_in_with_totp(browser, live_stack, factory, mailbox):
    owner = await factory.org_with_owner(name="Valles Marineris Depot")
    invitee = f"engineer-{secrets.token_hex(3)}@example.org"

    admin_page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await _sign_in(admin_page, live_stack, owner.email, owner.password)
    await admin_page.get_by_role("link", name="Members").click()
    await expect(admin_page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    await admin_page.get_by_label("Email address").fill(invitee)
    await admin_page.get_by_label("Role", exact=True).select_option(label="Crew member")
    await admin_page.get_by_role("button", name="Send invitation").click()
    await expect(admin_page.locator("#invitations")).to_contain_text(invitee)

    message = await mailbox.wait_for(invitee, "invited you to Valles Marineris Depot", timeout=60)
    link = urlsplit(message.link("/invitations/accept"))

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{live_stack}{link.path}?{link.query}")
    await expect(page.get_by_role("heading", name="Join Valles Marineris Depot")).to_be_visible()
    password = "basalt fibre for the greenhouse"
    await page.get_by_label("Your name").fill("Noor Haddad")
    await page.get_by_label("Choose a password").fill(password)
    await page.get_by_label("Repeat the password").fill(password)
    await page.get_by_label("I accept the terms of service").check()
    await page.get_by_role("button", name="Create account and join").click()
    await expect(page.get_by_role("heading", name="Valles Marineris Depot")).to_be_visible()

    await page.goto(live_stack + "/me/security")
    secret = (await page.locator(".secret-key").inner_text()).replace(" ", "")
    totp = pyotp.TOTP(secret)
    enrolled_step = int(time.time() // 30)
    await page.get_by_label("6-digit code from the app").fill(totp.now())
    await page.get_by_label("Current password").fill(password)
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()

    await page.locator("details.account-menu > summary").click()
    await page.get_by_role("button", name="Sign out").click()
    await _sign_in(page, live_stack, invitee, password)
    await expect(page.get_by_label("Code")).to_be_visible()
    while int(time.time() // 30) == enrolled_step:  # each 30-second code works once: wait for the next one
        await asyncio.sleep(1)
    await page.get_by_label("Code").fill(totp.now())
    await page.get_by_role("button", name="Verify and sign in").click()
    await expect(page.get_by_role("heading", name="Valles Marineris Depot")).to_be_visible()

    await page.get_by_role("link", name="Members").click()
    members = page.locator("#members")
    await expect(members).to_contain_text("Noor Haddad")
    await expect(members).to_contain_text(owner.email)
    await expect(page.locator(f"#members tr:has-text('{invitee}') .pill-succeeded")).to_have_text("on")
    await page.screenshot(path=str(OUTPUT / "members-after-invite.png"), full_page=True)
    await expect(page.locator("#invitation-list")).to_have_count(0)  # accepted: nothing pending
    await expect(page.locator("#invitations")).to_contain_text("No invitations are waiting")

    # the owner sees the new member and can change their role inline (htmx row swap)
    await admin_page.reload()
    row = admin_page.locator("#members tr", has_text=invitee)
    await row.get_by_role("combobox").select_option(label="Analyst")
    confirm = admin_page.get_by_role("dialog", name="Are you sure?")  # a role change asks first, in the app's dialog
    await expect(confirm).to_contain_text("Make Noor Haddad Analyst?")
    await confirm.get_by_role("button", name="Change role").click()
    await expect(admin_page.locator("#toasts")).to_contain_text("Noor Haddad is now Analyst")
    await expect(admin_page.locator("#members tr", has_text=invitee).get_by_role("combobox")).to_have_value(
        await row.locator("option", has_text="Analyst").get_attribute("value")
    )
    await admin_page.reload()
    await expect(admin_page.locator("#members tr", has_text=invitee).locator("option[selected]")).to_have_text(
        "Analyst"
    )
    await admin_page.screenshot(path=str(OUTPUT / "members-owner-view.png"), full_page=True)
