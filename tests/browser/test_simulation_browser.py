"""A planner starts a Monte Carlo run from the mission dashboard, watches the progress bar reach 100 % over SSE,
and reads the results: KPI cards and charts — in Debian Chromium against real web, worker and scheduler."""
from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_system_check_browser import browser  # noqa: F401 (fixture)
from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]


async def test_start_a_run_watch_it_finish_and_read_the_charts(browser, live_stack, factory):  # noqa: F811
    owner = await factory.org_with_owner(name="Shackleton Works")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    errors, missing = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Missions").first.click()
    await page.get_by_role("button", name="New mission").click()
    await page.get_by_label("Name").fill("Shackleton Crew 1")
    await page.get_by_label("Crew size").fill("4")
    await page.get_by_role("button", name="Create mission").click()
    await expect(page.locator("#runs")).to_contain_text("No simulation runs yet")

    await page.get_by_role("button", name="New simulation run").click()
    form = page.locator("#run-form")
    await expect(form).to_be_visible()
    await form.get_by_label("Name", exact=True).fill("Brick risk")
    await form.get_by_label("What to plan").select_option("monte_carlo")
    await form.get_by_label("Scenarios (Monte Carlo)").fill("300")
    await form.get_by_role("button", name="Start run").click()

    await expect(page.get_by_role("heading", name="Brick risk")).to_be_visible()
    bar = page.locator("#run-bar")
    await expect(bar).to_have_attribute("value", "100", timeout=120_000)
    results = page.locator("#results")
    await expect(results.get_by_role("heading", name="Results")).to_be_visible(timeout=30_000)
    await expect(results.locator(".kpi").first).to_contain_text("Brick P50")
    await expect(results.locator("figure.line-chart")).to_have_count(4)
    await expect(results.locator("polygon.band")).to_have_count(1)
    await expect(page.locator("#log-tail")).to_contain_text("Finished:")
    await page.screenshot(path=str(OUTPUT / "simulation-run.png"), full_page=True)

    await page.get_by_role("link", name="Shackleton Crew 1").first.click()
    runs = page.locator("#runs")
    await expect(runs).to_contain_text("Brick risk")
    await expect(runs.locator(".pill-succeeded")).to_have_count(1)
    # a stream the server ends (run finished, page left) shows up as a transport error; nothing else may
    noise = ("ERR_INCOMPLETE_CHUNKED_ENCODING", "[object Event]")
    assert not [e for e in errors if not any(n in e for n in noise) and "404" not in e], errors
    assert not missing, missing
