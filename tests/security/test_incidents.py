"""Security incidents: every transition of the workflow, legal and illegal (409); who and when for each; detection
rules turning synthetic bursts of events into incidents (and not below their thresholds); the staff API."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import login
from webapp.core.errors import Conflict
from webapp.core.tenancy import RequestContext, enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.security import incidents, rules
from webapp.security.enums import IncidentSeverity, IncidentStatus, SecurityEventType
from webapp.security.service import record_event

S = IncidentStatus
PATH_TO = {
    S.OPEN: [],
    S.INVESTIGATING: [S.INVESTIGATING],
    S.CONTAINED: [S.INVESTIGATING, S.CONTAINED],
    S.RESOLVED: [S.INVESTIGATING, S.RESOLVED],
    S.FALSE_POSITIVE: [S.FALSE_POSITIVE],
    S.CLOSED: [S.INVESTIGATING, S.RESOLVED, S.CLOSED],
}
LEGAL = {
    (S.OPEN, S.INVESTIGATING), (S.OPEN, S.FALSE_POSITIVE),
    (S.INVESTIGATING, S.CONTAINED), (S.INVESTIGATING, S.RESOLVED), (S.INVESTIGATING, S.FALSE_POSITIVE),
    (S.CONTAINED, S.RESOLVED), (S.CONTAINED, S.INVESTIGATING),
    (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.INVESTIGATING),
    (S.FALSE_POSITIVE, S.CLOSED), (S.FALSE_POSITIVE, S.INVESTIGATING),
}  # fmt: skip


async def _staff_ctx(factory) -> RequestContext:
    staff = await factory.platform_admin()
    return RequestContext(user_id=staff.id, user_name="Incident Commander", is_platform_admin=True)


async def _incident_in(maker, ctx, state: IncidentStatus) -> uuid.UUID:
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        incident = await incidents.report(session, ctx, title=f"Drill toward {state}", severity=IncidentSeverity.SEV3)
        for step in PATH_TO[state]:
            await incidents.change(session, ctx, incident.id, status=step, note=f"step to {step}")
        return incident.id


async def test_every_transition_is_legal_or_a_409(maker, factory):
    ctx = await _staff_ctx(factory)
    for before, after in itertools.product(S, S):
        if before == after:
            continue
        incident_id = await _incident_in(maker, ctx, before)
        async with unit_of_work(maker) as session:
            await enable_rls_bypass(session, reason="test")
            if (before, after) in LEGAL:
                moved = await incidents.change(session, ctx, incident_id, status=after, note="because")
                assert moved.status == after
                entry = (await incidents_timeline(session, incident_id))[-1]
                assert (entry.kind, entry.from_status, entry.to_status, entry.actor_id) == (
                    "transition",
                    before,
                    after,
                    ctx.user_id,
                )
            else:
                with pytest.raises(Conflict) as refused:
                    await incidents.change(session, ctx, incident_id, status=after, note="because")
                assert refused.value.details["status"] == before
                assert sorted(refused.value.details["allowed"]) == sorted(a for b, a in LEGAL if b == before)


async def incidents_timeline(session, incident_id):
    from webapp.security.queries import timeline

    return [activity for activity, _name in await timeline(session, incident_id)]


async def test_milestones_are_stamped_once_and_close_needs_a_review(maker, factory):
    ctx = await _staff_ctx(factory)
    detected = datetime.now(UTC) - timedelta(hours=3)
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        incident = await incidents.report(
            session, ctx, title="Leaked export link", severity=IncidentSeverity.SEV2, detected_at=detected
        )
        assert incident.detected_at == detected and incident.created_at > detected
        await incidents.change(session, ctx, incident.id, status=S.INVESTIGATING)
        await incidents.change(session, ctx, incident.id, status=S.CONTAINED)
        await incidents.change(session, ctx, incident.id, status=S.RESOLVED)
        times = incidents.clock(incident)
        assert times.time_to_acknowledge >= timedelta(hours=3) and times.time_to_resolve >= times.time_to_acknowledge
        from webapp.core.errors import ValidationError

        with pytest.raises(ValidationError):
            await incidents.change(session, ctx, incident.id, status=S.CLOSED)  # no post-incident review
        await incidents.change(session, ctx, incident.id, status=S.CLOSED, note="Review: rotate links hourly.")
        assert incident.closed_at is not None and incident.contained_at is not None


def _address() -> str:
    """A documentation address of its own, so the live detection run and other tests see a burst of its own."""
    return f"2001:db8::{random.randint(1, 0xFFFF):x}:{random.randint(1, 0xFFFF):x}"


async def _events(maker, count: int, event_type, *, ip=None, emails=(), user_id=None, metadata=None) -> None:
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        for n in range(count):
            ctx = RequestContext(ip=ip, user_agent="burst")
            extra = {"email": emails[n % len(emails)]} if emails else {}
            await record_event(
                session, ctx, event_type, user_id=user_id, metadata=(metadata or {}) | extra, organization_id=None
            )


async def _detected(maker, dedupe_key: str):
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        await rules.detect(session)
        from sqlalchemy import func, select

        from webapp.security.models import IncidentEvent, SecurityIncident

        found = (
            (await session.execute(select(SecurityIncident).where(SecurityIncident.dedupe_key == dedupe_key)))
            .scalars()
            .all()
        )
        counts = [
            await session.scalar(
                select(func.count()).select_from(IncidentEvent).where(IncidentEvent.incident_id == i.id)
            )
            for i in found
        ]
        return found, counts


async def test_failed_sign_ins_across_accounts_from_one_address_open_one_incident(maker):
    quiet, spread, narrow = _address(), _address(), _address()
    await _events(maker, 9, SecurityEventType.LOGIN_FAILED, ip=quiet, emails=("a@x.test", "b@x.test", "c@x.test"))
    await _events(maker, 12, SecurityEventType.LOGIN_FAILED, ip=narrow, emails=("a@x.test", "b@x.test"))
    await _events(maker, 10, SecurityEventType.LOGIN_FAILED, ip=spread, emails=("a@x.test", "b@x.test", "c@x.test"))
    assert (await _detected(maker, f"failed_signins_one_address:{quiet}"))[0] == []  # 9 < 10
    assert (await _detected(maker, f"failed_signins_one_address:{narrow}"))[0] == []  # two accounts: a typo
    found, counts = await _detected(maker, f"failed_signins_one_address:{spread}")
    assert len(found) == 1 and counts == [10]
    incident = found[0]
    assert incident.severity == IncidentSeverity.SEV3 and incident.rule == "failed_signins_one_address"
    assert incident.status == S.OPEN and incident.detected_at <= incident.created_at
    # the burst goes on: the new events join the live incident, no second one opens
    await _events(maker, 4, SecurityEventType.LOGIN_FAILED, ip=spread, emails=("d@x.test",))
    found, counts = await _detected(maker, f"failed_signins_one_address:{spread}")
    assert len(found) == 1 and counts == [14]


async def test_token_reuse_webhook_failures_and_break_glass_each_open_incidents(maker, factory):
    victim = await factory.org_with_owner()
    await _events(maker, 1, SecurityEventType.TOKEN_REUSE, user_id=victim.id)
    found, _ = await _detected(maker, f"refresh_token_reuse:{victim.id}")
    assert len(found) == 1 and found[0].severity == IncidentSeverity.SEV2

    provider = f"stripe-{uuid.uuid4().hex[:8]}"
    await _events(maker, 4, SecurityEventType.WEBHOOK_REJECTED, metadata={"provider": provider})
    assert (await _detected(maker, f"webhook_signature_failures:{provider}"))[0] == []
    await _events(maker, 1, SecurityEventType.WEBHOOK_REJECTED, metadata={"provider": provider})
    found, counts = await _detected(maker, f"webhook_signature_failures:{provider}")
    assert len(found) == 1 and counts == [5]

    activation = str(uuid.uuid4())
    await _events(maker, 1, SecurityEventType.BREAK_GLASS_ACTIVATED, metadata={"activation_id": activation})
    found, _ = await _detected(maker, f"break_glass_use:{activation}")
    assert len(found) == 1 and found[0].severity == IncidentSeverity.SEV4


async def test_staff_api_reports_moves_and_refuses_illegal_transitions(app, factory):
    member = await factory.org_with_owner()
    staff = await factory.platform_admin()
    api = app.test_client()
    token = await login(api, staff.email, staff.password)
    headers = {"X-CSRF-Token": token}
    detected = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    created = await api.post(
        "/api/v1/security/incidents", headers=headers,
        json={"title": "Lost crew tablet", "severity": "sev2", "detected_at": detected,
              "organization_ids": [str(member.org_id)], "personal_data_breach": True},
    )  # fmt: skip
    assert created.status_code == 201, await created.get_json()
    body = await created.get_json()
    assert created.headers["Location"].endswith(body["id"])
    assert body["status"] == "open" and body["allowed_next"] == ["investigating", "false_positive"]
    assert body["organization_ids"] == [str(member.org_id)]
    flagged = datetime.fromisoformat(body["breach_flagged_at"])
    assert datetime.fromisoformat(body["notify_authority_by"]) == flagged + timedelta(hours=72)
    path = f"/api/v1/security/incidents/{body['id']}"

    illegal = await api.patch(path, headers=headers, json={"status": "closed"})
    assert illegal.status_code == 409
    assert (await illegal.get_json())["details"]["allowed"] == ["investigating", "false_positive"]
    stale = await api.patch(path, headers=headers, json={"status": "investigating", "version": body["version"] + 5})
    assert stale.status_code == 409
    moved = await api.patch(
        path, headers=headers,
        json={"status": "investigating", "note": "Tablet was encrypted?", "assigned_to": str(staff.id),
              "version": body["version"]},
    )  # fmt: skip
    assert moved.status_code == 200, await moved.get_json()
    state = await moved.get_json()
    assert state["status"] == "investigating" and state["assigned_to"] == str(staff.id)
    assert state["time_to_acknowledge_seconds"] >= 3600
    transition = next(t for t in state["timeline"] if t["kind"] == "transition")
    assert (transition["from_status"], transition["to_status"], transition["actor_id"]) == (
        "open",
        "investigating",
        str(staff.id),
    )
    unassigned = await api.patch(path, headers=headers, json={"assigned_to": None, "authority_notified": True})
    assert (await unassigned.get_json())["assigned_to"] is None
    assert (await unassigned.get_json())["authority_notified_at"] is not None

    listed = await (
        await api.get(
            "/api/v1/security/incidents", headers=headers, query_string={"organization_id": str(member.org_id)}
        )
    ).get_json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]

    outsider = app.test_client()
    other = await login(outsider, member.email, member.password)
    assert (await outsider.get("/api/v1/security/incidents")).status_code == 404
    assert (await outsider.patch(path, headers={"X-CSRF-Token": other}, json={"status": "closed"})).status_code == 404


async def test_staff_pages_report_move_and_show_the_timeline(app, factory):
    staff = await factory.platform_admin()
    browser = app.test_client()
    token = await login(browser, staff.email, staff.password)
    listing = await browser.get("/admin/security/incidents")
    assert listing.status_code == 200
    opened = await browser.post(
        "/admin/security/incidents",
        form={"csrf_token": token, "title": "Phishing mail to crew", "severity": "sev3", "summary": "Reported by crew"},
    )
    assert opened.status_code == 303
    page_path = opened.headers["Location"]
    illegal = await browser.post(page_path, form={"csrf_token": token, "status": "closed", "note": "done"})
    assert illegal.status_code == 409
    assert "cannot become closed" in await illegal.get_data(as_text=True)
    moved = await browser.post(page_path, form={"csrf_token": token, "status": "investigating", "note": "Looking"})
    assert moved.status_code == 303
    html = await (await browser.get(page_path)).get_data(as_text=True)
    assert 'id="incident-status">investigating' in html and "Looking" in html
    assert "Phishing mail to crew" in await (await browser.get("/admin/security/incidents")).get_data(as_text=True)
    assert (await browser.get("/admin/security/events", query_string={"severity": "warning"})).status_code == 200

    member = await factory.org_with_owner()
    outsider = app.test_client()
    await login(outsider, member.email, member.password)
    assert (await outsider.get(page_path)).status_code == 404
    assert (await outsider.get("/admin/security/events")).status_code == 404
