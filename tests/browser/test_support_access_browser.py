"""An organization admin grants support access; staff (with break-glass approved by a second staff member) act as
a member and see the banner on every page; the admin sees the session on the security page and revokes the access,
and the impersonation ends at its next request — in Debian Chromium against the real processes, axe-checked."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.test_privacy_browser import _no_axe_violations, _sign_in
from tests.support.test_impersonation import REASON, _break_glass

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def test_admin_grants_staff_impersonate_admin_revokes(browser, live_stack, factory, maker):
    owner = await factory.org_with_owner(name="Utopia Planitia Works")
    member = await factory.member(owner, name="Mae Jemison-Kerr")
    staff, approver = await factory.platform_admin(), await factory.platform_admin()
    await _break_glass(maker, staff, approver)

    admin = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await _sign_in(admin, live_stack, owner.email, owner.password)
    await admin.goto(f"{live_stack}/o/{owner.org_slug}/security")
    await expect(admin.get_by_role("heading", name="Support access")).to_be_visible()
    await expect(admin.get_by_text("No one from support has acted as a member.")).to_be_visible()
    await _no_axe_violations(admin)
    await admin.get_by_label("Let ClosedLoop support in for").select_option("3")
    await admin.get_by_role("button", name="Grant support access").click()
    await expect(admin.get_by_text("Support access granted for 3 day(s).")).to_be_visible()

    support = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await _sign_in(support, live_stack, staff.email, staff.password)
    await support.goto(live_stack + "/admin/support")
    await expect(support.get_by_text("Your grant runs until")).to_be_visible()
    await _no_axe_violations(support)
    await support.get_by_label("The person's email address").fill(member.email)
    await support.get_by_label("Support ticket").fill("SUP-2040")
    await support.get_by_label("Why you must act as them").fill(REASON)
    await support.get_by_role("button", name="Act as this person for up to an hour").click()
    banner = support.locator("#impersonation-banner")
    await expect(banner).to_contain_text("You are acting as Mae Jemison-Kerr")
    await _no_axe_violations(support)
    await support.goto(f"{live_stack}/o/{owner.org_slug}/missions")
    await expect(banner).to_be_visible()  # on every page

    await admin.reload()
    sessions = admin.locator("#impersonation-sessions")
    await expect(sessions).to_contain_text("SUP-2040")
    await expect(sessions).to_contain_text("Mae Jemison-Kerr")
    await expect(sessions).to_contain_text("live")
    await admin.get_by_role("button", name="Revoke support access now").click()
    await expect(admin.get_by_text("Support access revoked")).to_be_visible()
    await expect(admin.locator("#impersonation-sessions")).to_contain_text("access revoked")

    await support.reload()  # the impersonated session ended with the window
    await expect(support).to_have_url(re.compile(r"/login"))
    await expect(support.locator("#impersonation-banner")).to_have_count(0)
