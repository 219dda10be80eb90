"""A planner starts a Monte Carlo run from the mission dashboard, watches the progress bar reach 100 % over SSE,
reads the results (KPI cards and charts), and sees the run on the usage page and charged on the credits page;
another run is cancelled midway — in Debian Chromium against real
web, worker and scheduler, with no console error and no Content-Security-Policy violation."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]


# every Content-Security-Policy violation the page sees, kept where the test can read it
CSP_WATCH = """window.__csp = []; document.addEventListener("securitypolicyviolation",
    e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile + ":" + e.lineNumber));"""


async def _signed_in_page(chromium, live_stack, owner, errors: list, missing: list):
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def _new_mission(page, name: str) -> None:
    await page.get_by_role("link", name="Missions").first.click()
    await page.get_by_role("button", name="New mission").click()
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Crew size").fill("4")
    await page.get_by_role("button", name="Create mission").click()
    await expect(page.locator("#runs")).to_contain_text("No simulation runs yet")


async def _start_monte_carlo(page, name: str, scenarios: int, days: int = 30) -> None:
    await page.get_by_role("button", name="New simulation run").click()
    form = page.locator("#run-form")
    await expect(form).to_be_visible()
    await form.get_by_label("Name", exact=True).fill(name)
    await form.get_by_label("What to plan").select_option("monte_carlo")
    await form.get_by_label("Scenarios (Monte Carlo)").fill(str(scenarios))
    await form.get_by_label("Horizon (days)").fill(str(days))
    await form.get_by_role("button", name="Start run").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()


async def test_start_a_run_watch_it_finish_and_read_the_charts(browser, live_stack, factory):
    owner = await factory.org_with_owner(name="Shackleton Works")
    errors, missing = [], []
    page = await _signed_in_page(browser, live_stack, owner, errors, missing)
    await _new_mission(page, "Shackleton Crew 1")
    await _start_monte_carlo(page, "Brick risk", 300)

    actions = page.locator("#run-actions")
    await expect(actions.get_by_role("button", name="Cancel run")).to_be_visible()
    await expect(actions.get_by_role("button", name="Re-run with the same inputs")).to_be_hidden()
    bar = page.locator("#run-bar")
    await expect(bar).to_have_attribute("value", "100", timeout=120_000)
    # the run ended while the page watched: its buttons changed with it, no reload
    await expect(actions.get_by_role("button", name="Re-run with the same inputs")).to_be_visible()
    await expect(actions.get_by_role("button", name="Delete")).to_be_visible()
    await expect(actions.get_by_role("button", name="Cancel run")).to_be_hidden()
    results = page.locator("#results")
    await expect(results.get_by_role("heading", name="Results")).to_be_visible(timeout=30_000)
    await expect(results.locator(".kpi").first).to_contain_text("Brick P50")
    await expect(results.locator("figure.line-chart")).to_have_count(5)
    await expect(results.locator("polygon.band")).to_have_count(2)  # the scenarios' spread and the sensitivity
    sensitivity = results.locator("figure.line-chart").last
    await expect(sensitivity).to_contain_text("against repair crew time")
    await expect(sensitivity.locator(".chart-plot")).to_have_attribute("aria-label", re.compile("point by point"))
    await expect(page.locator("#log-tail")).to_contain_text("Finished:")
    await page.screenshot(path=str(OUTPUT / "simulation-run.png"), full_page=True)

    await page.get_by_role("link", name="Shackleton Crew 1").first.click()
    runs = page.locator("#runs")
    await expect(runs).to_contain_text("Brick risk")
    await expect(runs.locator(".pill-succeeded")).to_have_count(1)

    # the run was metered (the scheduler rolls usage up every minute) and charged its engine time
    await page.get_by_role("link", name="Usage").first.click()
    total = page.locator("#usage-monte_carlo_scenarios [data-total]")
    for _ in range(50):
        if (await total.get_attribute("data-total") or "0").startswith("300"):
            break
        await page.wait_for_timeout(2000)
        await page.reload()
    await expect(total).to_contain_text("300 scenarios")
    await expect(page.locator("#usage-simulation_runs [data-total]")).to_contain_text("1 runs")
    await expect(page.locator("#usage-simulation_runs figure.column-chart rect.column")).not_to_have_count(0)
    await page.screenshot(path=str(OUTPUT / "usage.png"), full_page=True)
    await page.goto(f"{live_stack}/o/{owner.org_slug}/billing/credits")
    ledger = page.locator("#ledger")
    await expect(ledger).to_contain_text("Brick risk")
    await expect(ledger).to_contain_text("charged")
    assert errors == [] and missing == [], (errors, missing)
    assert await page.evaluate("window.__csp") == []


async def test_cancel_a_running_monte_carlo(browser, live_stack, factory, count_rows):
    owner = await factory.org_with_owner(name="Jezero Works")
    errors, missing = [], []
    page = await _signed_in_page(browser, live_stack, owner, errors, missing)
    await _new_mission(page, "Jezero Crew 1")
    await _start_monte_carlo(page, "Long risk study", 5000, days=40)

    bar, progress = page.locator("#run-bar"), page.locator("#run-progress")
    await expect(progress).to_have_attribute("data-status", "running", timeout=60_000)
    seen = set()
    for _ in range(200):  # watch the bar move: small steps, not a jump at the end
        seen.add(int(await bar.get_attribute("value")))
        if len([v for v in seen if v > 10]) >= 3:
            break
        await page.wait_for_timeout(100)
    steps = sorted(v for v in seen if v >= 10)
    assert len(steps) >= 3 and max(b - a for a, b in zip(steps, steps[1:], strict=False)) <= 5, seen

    cancel = page.locator("#run-actions").get_by_role("button", name="Cancel run")
    await cancel.click()
    await expect(page.locator("#run-actions button[data-cancel]")).to_have_text("Cancelling…")
    await expect(progress).to_have_attribute("data-status", "cancelled", timeout=30_000)
    stopped_at = await bar.get_attribute("value")
    await expect(page.locator(".progress-figure")).to_contain_text(f"Cancelled at {stopped_at} %")
    assert 10 <= int(stopped_at) < 100
    actions = page.locator("#run-actions")
    await expect(actions.get_by_role("button", name="Re-run with the same inputs")).to_be_visible()
    await expect(actions.locator("button[data-cancel]")).to_be_hidden()
    await expect(page.locator("#log-tail")).to_contain_text("Cancelled on request.")
    await page.screenshot(path=str(OUTPUT / "simulation-cancelled.png"), full_page=True)
    assert (
        await count_rows(
            "products", "mission_id IN (SELECT id FROM missions WHERE organization_id = :o)", o=owner.org_id
        )
        == 0
    )
    assert errors == [] and missing == [], (errors, missing)
    assert await page.evaluate("window.__csp") == []
