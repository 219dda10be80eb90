"""A person asks for a copy of their data on their privacy page, downloads the archive from the emailed link,
confirms a request made over the API on the page its email links to, then erases their account and can no longer
sign in — in Debian Chromium against the real web, worker and scheduler processes, axe-checked along the way."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect
from sqlalchemy import text

from tests.browser.test_every_page import AXE_OPTIONS
from tests.conftest import OUTPUT
from webapp.privacy.erasure import pseudonym

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def _sign_in(page, base: str, email: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def _no_axe_violations(page) -> None:
    result = await Axe().run(page, options=AXE_OPTIONS)
    assert [v["id"] for v in result.response["violations"]] == [], result.response["violations"]


async def test_export_by_emailed_link_then_erasure_ends_the_account(
    browser, live_stack, factory, mailbox, owner_engine
):
    owner = await factory.org_with_owner(name="Jezero Recyclers")
    person = await factory.member(owner, name="Imogen Tarrant-Vos")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await _sign_in(page, live_stack, person.email, person.password)

    await page.goto(live_stack + "/me/privacy")
    await expect(page.get_by_role("heading", name="Your data", exact=True)).to_be_visible()
    await expect(page.get_by_text("You have made no requests.")).to_be_visible()
    assert (await page.title()).startswith("Privacy")  # the title is the page's name, nothing more
    await page.locator("#access-current-password").fill(person.password)
    await page.get_by_role("button", name="Request a copy").click()
    await expect(page.get_by_text("Export requested.")).to_be_visible()

    # the live worker builds the archive and emails the link; the signed-in browser downloads it
    ready = await mailbox.wait_for(person.email, "export is ready", timeout=90)
    link = urlsplit(ready.link("/archive"))
    download = await page.request.get(live_stack + link.path)
    assert download.status == 200 and download.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(await download.body()))
    assert json.loads(bundle.read("tables/users.json"))[0]["email"] == person.email
    assert "manifest.json" in bundle.namelist() and "README.txt" in bundle.namelist()

    await page.reload()
    row = page.locator("tr", has_text="Copy of my data")
    await expect(row.locator("td[data-label=State] > .pill")).to_have_text("completed")
    await expect(row.get_by_role("button", name="Download archive")).to_be_visible()
    await row.get_by_text("Steps").click()
    await expect(row.locator(".timeline li")).to_have_count(4)
    await _no_axe_violations(page)
    await page.screenshot(path=str(OUTPUT / "privacy-requests.png"), full_page=True)

    # a request made over the API is confirmed on the page its email links to
    csrf = await page.locator("body").get_attribute("data-csrf")
    made = await page.request.post(
        live_stack + "/api/v1/privacy/requests/access", data={}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 202, await made.text()
    confirm = urlsplit(
        (await mailbox.wait_for(person.email, "Confirm your access request", timeout=60)).link("/confirm")
    )
    await page.goto(f"{live_stack}{confirm.path}?{confirm.query}")
    await expect(page.get_by_role("heading", name="Confirm your request")).to_be_visible()
    await _no_axe_violations(page)
    await page.get_by_role("button", name="Confirm the export").click()
    await expect(page.get_by_text("Confirmed.")).to_be_visible()

    # erasure: password again and a deliberate tick; signed out at once, the worker erases the account
    await page.locator("#erase-current-password").fill(person.password)
    await page.get_by_role("button", name="Erase my account").click()
    await expect(page.get_by_text("Tick the box to confirm.")).to_be_visible()
    await page.locator("#erase-current-password").fill(person.password)
    await page.get_by_label("I understand that my account ends").check()
    await page.get_by_role("button", name="Erase my account").click()
    await expect(page.get_by_text("Your account has ended")).to_be_visible()
    assert "/login" in page.url

    for _ in range(180):
        async with owner_engine.connect() as conn:
            name = (
                await conn.execute(
                    text("SELECT name FROM users WHERE id = :u AND erased_at IS NOT NULL"), {"u": person.id}
                )
            ).scalar_one_or_none()
        if name:
            break
        await asyncio.sleep(0.5)
    assert name == pseudonym(person.id)

    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    assert "/login" in page.url
