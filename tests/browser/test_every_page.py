"""Every page a signed-in owner and a crew member can reach, in Debian Chromium at 1366×900 and 390×844: no axe-core
violation, no table wider than its frame on a desktop, no sideways scroll on a phone, and a screenshot of each
under test-output/pages/ for review.

`PAGES=<regular expression>` narrows the walk to matching paths while you work on them.
The pages come from the URL map (every HTML GET route that renders a page), filled with real objects of an
organization that has one of everything, a finished simulation run included.
"""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from sqlalchemy import text

from tests.conftest import OUTPUT, csrf_from
from tests.routes import objects_of, path_for, populate
from webapp.core.permissions import SystemRole

pytestmark = [pytest.mark.browser, pytest.mark.live]

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
# routes that answer with a fragment, a file, a stream or JSON, not a page of their own
NOT_PAGES = re.compile(
    r"\.(row|crew_row|blank_line|export_csv|index_events|runs_events|check_events|check_progress|progress|"
    r"results|subscribe|outbox_email|events|job_events|job_progress|suggest|download_file|invoice_pdf)$"
    r"|^(ops_platform|api_docs)\.|^openapi$"
    # a request's emailed confirmation (needs its token: tests/browser/test_privacy_browser.py walks it) and its
    # archive (a download)
    r"|^privacy_requests\.(confirm_page|archive)$|^org_audit\.(org_export|org_checkpoints)$"
)
SHOTS = OUTPUT / "pages"
CLIPPED_TABLES = """[...document.querySelectorAll('.table-wrap:not(.matrix-wrap)')]
    .filter(w => w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1)
    .map(w => (w.querySelector('table') || w).id || w.className)"""
# axe's defaults plus WCAG 2.2's target size (off by default): every control at least 24 × 24 px, or spaced so
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"target-size": {"enabled": True}}}


def _page_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if (
            "GET" in rule.methods
            and rule.rule.startswith(("/o/", "/me", "/orgs"))
            and not NOT_PAGES.search(rule.endpoint)
        ):
            yield rule


async def _finished_runs(live_stack, member) -> list[str]:
    """A small plan, a trade study and a Pareto sweep, run by the live worker to the end (their pages show results
    and charts)."""
    with httpx.Client(base_url=live_stack, timeout=30) as http:
        token = csrf_from(http.get("/login").text)
        http.post("/login", data={"csrf_token": token, "email": member.email, "password": member.password})
        token = csrf_from(http.get("/me").text)
        mission = http.post(
            f"/api/v1/organizations/{member.org_id}/missions",
            headers={"X-CSRF-Token": token},
            json={
                "name": "Shackleton Crew 2",
                "destination": "moon",
                "crew_size": 4,
                "settings": {
                    "water_recovery_capacity_kg": 6,
                    "water_recovery_drain_kg_per_day": 1.5,
                    "propellant_capacity_kg": 50,
                },
            },  # the results show the named sinks' cards and charts
        ).json()["id"]
        key = http.post(
            f"/api/v1/organizations/{member.org_id}/api-keys",
            headers={"X-CSRF-Token": token},
            json={"name": "pages", "permissions": ["simulations:run", "simulations:read"]},
        ).json()["key"]
    with httpx.Client(base_url=live_stack, timeout=30, headers={"Authorization": f"Bearer {key}"}) as api:
        runs = [
            api.post(f"/api/v1/missions/{mission}/simulations", json={"run_type": run_type, "config": config}).json()
            for run_type, config in (
                ("throughput_optimization", {"time_horizon_days": 14}),
                # the studies' pages: charts with a line per value of a second setting, tables of every plan
                ("trade_study", {"time_horizon_days": 14, "sweep": [
                    {"parameter": "energy_budget_kwh_per_day", "values": [10, 40, 80]},
                    {"parameter": "crew_size", "values": [2, 6]}]}),
                ("pareto_sweep", {"time_horizon_days": 14, "points": 5}),
            )
        ]  # fmt: skip
        deadline = time.monotonic() + 120
        for run in runs:
            while api.get(f"/api/v1/simulation-runs/{run['id']}").json()["status"] not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, "the run did not finish"
                time.sleep(0.5)
    return [run["id"] for run in runs]


class Report:
    """What a walk over pages found: unexpected statuses, axe violations, pages wider than a phone."""

    def __init__(self):
        self.axe, self.visited = Axe(), 0
        self.statuses: list[str] = []
        self.violations: list[str] = []
        self.sideways: list[str] = []
        self.clipped: list[str] = []

    async def walk(self, browser, live_stack, who, member, paths, *, slug="", expected=None):
        """Visit `paths` at both sizes (signed in as `member`, or signed out when None): axe, width, screenshot.
        `expected` maps a path to the status it should answer (200 or 403 otherwise)."""
        for size, viewport in SIZES.items():
            # axe injects its script; the app's CSP is tested elsewhere (no inline script may run here)
            context = await browser.new_context(viewport=viewport, bypass_csp=True)
            page = await _sign_in(context, live_stack, member) if member else await context.new_page()
            for path in paths:
                response = await page.goto(live_stack + path)
                allowed = {expected[path]} if expected and path in expected else {200, 403}
                if response.status not in allowed:
                    self.statuses.append(f"{who} {path}: {response.status}")
                    continue
                await page.wait_for_load_state("networkidle")
                self.visited += 1
                result = await self.axe.run(page, options=AXE_OPTIONS)
                for violation in result.response["violations"]:
                    targets = [n["target"] for n in violation["nodes"]][:3]
                    self.violations.append(f"{who} {size} {path}: {violation['id']} ({violation['impact']}) {targets}")
                if size == "desktop":  # a table wider than its frame hides columns (the matrix scrolls on purpose)
                    for table in await page.evaluate(CLIPPED_TABLES):
                        self.clipped.append(f"{who} {path}: {table}")
                if size == "phone":
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    if width > viewport["width"]:
                        self.sideways.append(f"{who} {path}: {width}px")
                name = re.sub(r"[^a-z0-9]+", "-", (path.replace(slug, "org") if slug else path).lower()).strip("-")
                await page.screenshot(path=str(SHOTS / f"{who}-{size}-{name or 'home'}.png"), full_page=True)
            await context.close()


async def _sign_in(context, live_stack, member):
    page = await context.new_page()
    await page.goto(live_stack + "/login")
    await page.get_by_label("Email").fill(member.email)
    await page.get_by_label("Password").fill(member.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)  # signed in: an organization's home, or "/"
    return page


async def test_every_page_is_accessible_fits_a_phone_and_is_photographed(
    app,
    browser,
    live_stack,
    factory,
    owner_engine,
):
    owner = await factory.org_with_owner(name="Shackleton Works")
    await populate(owner_engine, owner.org_id, owner.id)
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER)
    run_id, *studies = await _finished_runs(live_stack, owner)
    objects = await objects_of(owner_engine, owner.org_id) | {"run_id": run_id}
    base = {"org_slug": owner.org_slug, "org_id": str(owner.org_id)}
    paths = sorted({path_for(rule, base, objects) for rule in _page_rules(app)})
    paths.append(f"/o/{owner.org_slug}/simulation-runs/compare?a={objects['run_id']}&b={run_id}")
    paths += [f"/o/{owner.org_slug}/simulation-runs/{study}" for study in studies]
    # the catalog's rules take materials for their kind: a recipe's page and form too (its lines and blend)
    async with owner_engine.connect() as conn:
        tile = (
            await conn.execute(
                text("SELECT id FROM processing_recipes WHERE organization_id = :o AND key = 'hmc_trash_tile'"),
                {"o": owner.org_id},
            )
        ).scalar_one()
        hmc = (
            await conn.execute(
                text("SELECT id FROM processing_modules WHERE organization_id = :o AND key = 'hmc'"),
                {"o": owner.org_id},
            )
        ).scalar_one()
    paths += [f"/o/{owner.org_slug}/catalog/recipes/{tile}", f"/o/{owner.org_slug}/catalog/recipes/{tile}/edit"]
    paths.append(f"/o/{owner.org_slug}/catalog/modules/{hmc}")  # its maintenance log and logistics figures
    only = os.environ.get("PAGES")  # a regular expression: while working on some pages, visit only those
    paths = [p for p in paths if re.search(only, p)] if only else paths
    SHOTS.mkdir(exist_ok=True)
    report = Report()
    for who, member in (("owner", owner), ("crew", crew)):
        await report.walk(browser, live_stack, who, member, paths, slug=owner.org_slug)
    assert report.visited >= (4 if only else 4 * 30)
    assert report.statuses == [], "\n".join(report.statuses)
    assert report.violations == [], "\n".join(report.violations)
    assert report.sideways == [], "\n".join(report.sideways)
    assert report.clipped == [], "\n".join(report.clipped)


# signed out: the pages before an account, what a bad or used link shows, and the error page
PUBLIC_PAGES = {
    "/login": 200,
    "/signup": 200,
    "/forgot-password": 200,
    "/reset-password?token=expired-or-made-up": 200,
    "/verify-email?token=expired-or-made-up": 200,
    "/unlock?token=expired-or-made-up": 200,
    "/invitations/accept?token=expired-or-made-up": 404,
    "/legal/terms": 200,
    "/legal/privacy_notice/v1": 200,
    "/legal/records-of-processing": 200,
    "/no-such-page": 404,
}


async def test_signed_out_pages_error_pages_and_the_staff_list_are_accessible_and_fit_a_phone(
    browser, live_stack, factory, maker
):
    from webapp.core.transaction import unit_of_work
    from webapp.privacy import holds
    from webapp.privacy import requests as privacy_requests
    from webapp.privacy.enums import SubjectRequestType
    from webapp.security import incidents
    from webapp.security.enums import IncidentSeverity

    hellas = await factory.org_with_owner(name="Hellas Depot")  # something for the staff lists to show
    staff = await factory.platform_admin()
    async with unit_of_work(maker) as session:  # a request waiting for its emailed confirmation, and a hold
        from webapp.core.tenancy import RequestContext, enable_rls_bypass

        await enable_rls_bypass(session, reason="test data for the staff privacy pages")
        request = await privacy_requests.submit(
            session,
            None,
            user_id=hellas.id,
            email=hellas.email,
            request_type=SubjectRequestType.ACCESS,
            reauthenticated=False,
            send_confirmation=False,
        )
        ctx = RequestContext(user_id=staff.id, is_platform_admin=True)
        await holds.place(
            session, ctx, organization_id=hellas.org_id, reason="Preserve for an insurer's claim.", reference="CLAIM-88"
        )
        incident = await incidents.report(  # with a breach clock, a linked organization and a long title
            session, ctx, title="Credential stuffing against Hellas Depot sign-ins from one address range",
            severity=IncidentSeverity.SEV2, summary="Many failed sign-ins.", organization_ids=[hellas.org_id],
            personal_data_breach=True,
        )  # fmt: skip
    SHOTS.mkdir(exist_ok=True)
    report = Report()
    await report.walk(browser, live_stack, "visitor", None, list(PUBLIC_PAGES), expected=PUBLIC_PAGES)
    # staff belong to no organization: "/" says so, the staff list shows every organization
    staff_pages = ["/", "/admin/organizations", "/orgs", "/admin/plans", "/admin/billing/events"]
    staff_pages.append("/admin/privacy/documents")
    staff_pages += ["/admin/privacy/requests", "/admin/privacy/requests?all=1", "/admin/privacy/holds", "/admin/audit"]
    staff_pages.append(f"/admin/privacy/requests/{request.id}")
    staff_pages.append(f"/admin/billing/organizations/{hellas.org_id}/invoices")
    staff_pages += ["/admin/security/incidents", f"/admin/security/incidents/{incident.id}", "/admin/security/events"]
    staff_pages += ["/admin/support", "/admin/audit/integrity"]
    await report.walk(browser, live_stack, "staff", staff, staff_pages + ["/admin/billing/subscriptions"])
    assert report.statuses == [], "\n".join(report.statuses)
    assert report.visited == 2 * (len(PUBLIC_PAGES) + len(staff_pages) + 1)
    assert report.violations == [], "\n".join(report.violations)
    assert report.sideways == [], "\n".join(report.sideways)
    assert report.clipped == [], "\n".join(report.clipped)
