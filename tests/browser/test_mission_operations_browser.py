"""A commander plans a mission, assigns a crew member, edits a processing module inline (and meets a stale
edit's conflict row), and imports waste materials from CSV after fixing a broken row — in Debian Chromium
against the real web, worker and scheduler processes."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.test_simulation_browser import CSP_WATCH
from tests.conftest import OUTPUT

pytestmark = [pytest.mark.browser, pytest.mark.live]

BROKEN_CSV = (
    "key,name,category,generation_kg_per_cm_day,moisture_fraction,density_kg_m3,hazardous\n"
    "suit_liner,Suit liner,textile,0.02,0,150,no\n"
    "battery_cells,Battery cells,other,0.001,,lots,yes\n"
    "filter_media,Filter media,other,0.01,0.1,300,no\n"
)


async def test_plan_a_mission_crew_it_edit_a_module_inline_and_import_materials(browser, live_stack, factory):
    owner = await factory.org_with_owner(name="Jezero Outpost")
    crew = await factory.member(owner)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill(owner.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Jezero Outpost")).to_be_visible()

    # plan a mission
    await page.get_by_role("link", name="Missions").first.click()
    await page.get_by_role("button", name="New mission").click()
    await page.get_by_label("Name").fill("Jezero Crew 1")
    await page.get_by_label("Crew size").fill("4")
    await page.get_by_role("button", name="Create mission").click()
    await expect(page.get_by_role("heading", name="Jezero Crew 1")).to_be_visible()
    await expect(page.locator("#waste-h")).to_contain_text("7.32 kg/day")

    # assign crew
    await page.get_by_label("Member").select_option(label=f"Crew Person ({crew.email})")
    await page.get_by_label("Specialization").fill("ECLSS engineer")
    await page.get_by_role("button", name="Assign").click()
    await expect(page.locator("#crew")).to_contain_text("ECLSS engineer")
    await page.screenshot(path=str(OUTPUT / "mission-dashboard.png"), full_page=True)

    # edit a module inline: the row becomes inputs, Save swaps it back
    await page.get_by_role("link", name="Catalog").first.click()
    await page.get_by_role("link", name="Processing modules").click()
    row = page.locator("tr", has_text="Shredder").first
    await row.get_by_role("link", name="Edit").click()
    editing = page.locator("tr.editing")
    await expect(editing).to_be_visible()
    await editing.get_by_label("Status").select_option("degraded")
    await editing.get_by_label("Throughput (kg/h)").fill("3.5")
    await editing.get_by_role("button", name="Save").click()
    await expect(page.locator("tr.editing")).to_have_count(0)
    shredder = page.locator("tr", has_text="Shredder").first
    await expect(shredder.locator(".pill-degraded")).to_be_visible()
    await expect(shredder).to_contain_text("3.5")

    # a stale inline edit: someone else saves first, this row shows their value
    await shredder.get_by_role("link", name="Edit").click()
    other = await (await browser.new_context()).new_page()
    await other.goto(live_stack + "/login")
    await other.get_by_label("Email").fill(owner.email)
    await other.get_by_label("Password").fill(owner.password)
    await other.get_by_role("button", name="Sign in").click()
    await other.goto(page.url)
    other_row = other.locator("tr", has_text="Shredder").first
    await other_row.get_by_role("link", name="Edit").click()
    await other.locator("tr.editing").get_by_label("Power (kW)").fill("2.25")
    await other.locator("tr.editing").get_by_role("button", name="Save").click()
    await expect(other.locator("tr.editing")).to_have_count(0)
    await page.locator("tr.editing").get_by_label("Power (kW)").fill("1.75")
    await page.locator("tr.editing").get_by_role("button", name="Save").click()
    await expect(page.locator("tr.editing")).to_contain_text("Saved: 2.25")
    await page.screenshot(path=str(OUTPUT / "module-inline-conflict.png"), full_page=True)

    # import materials: a broken row in the middle imports nothing and says where
    await page.get_by_role("link", name="Waste materials").click()
    await page.get_by_role("button", name="Import CSV").click()
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "materials.csv", "mimeType": "text/csv", "buffer": BROKEN_CSV.encode()}]
    )
    await page.get_by_role("button", name="Import").click()
    problems = page.locator("#import-errors")
    await expect(problems).to_contain_text("nothing was imported")
    await expect(problems.locator("tr", has_text="density_kg_m3")).to_contain_text("3")
    await page.screenshot(path=str(OUTPUT / "materials-import-errors.png"), full_page=True)
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "materials.csv", "mimeType": "text/csv", "buffer": BROKEN_CSV.replace("lots", "2000").encode()}]
    )
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("#toasts .toast-success")).to_contain_text("3 added, 0 updated")
    await expect(page.locator("#catalog-results")).to_contain_text("Battery cells")
    await page.screenshot(path=str(OUTPUT / "materials-after-import.png"), full_page=True)

    # htmx swaps that once tripped the CSP: search as you type, a recipe's "Add a line", an inline mission edit
    await page.get_by_role("link", name="Recipes", exact=True).click()
    await page.get_by_role("searchbox").first.fill("brick")
    await expect(page.locator("#catalog-results")).to_contain_text("brick", ignore_case=True)
    await page.get_by_role("button", name="New recipe").click()
    await expect(page.locator("#modal #item-form")).to_be_visible()
    lines = page.locator("#line-rows tr")
    await expect(lines.first).to_be_visible()
    before = await lines.count()
    await page.get_by_role("button", name="Add a line").click()
    await expect(lines).to_have_count(before + 1)
    await page.keyboard.press("Escape")
    await page.get_by_role("link", name="Missions").first.click()
    await page.get_by_role("searchbox").first.fill("jez")
    await expect(page.locator("#mission-results")).to_contain_text("Jezero Crew 1")
    await page.get_by_role("link", name="Jezero Crew 1").first.click()
    await page.get_by_role("button", name="Edit mission").click()
    await page.get_by_label("Crew size").fill("5")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.locator("#toasts")).to_contain_text("Mission saved.")  # back on the dashboard, told so
    await expect(page.get_by_role("heading", name="Jezero Crew 1")).to_be_visible()
    assert await page.evaluate("window.__csp") == []

    # phone-sized: the catalog list stays usable without sideways scrolling of the page
    await page.get_by_role("link", name="Catalog").first.click()
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    assert not [e for e in errors if "Content Security Policy" in e], errors
