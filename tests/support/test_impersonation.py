"""Impersonation only inside a window the customer granted: refused without staff break-glass, without a window,
after the window is revoked and after its hour; account-changing actions refused while it runs; audit rows carry
both the user and the staff member; the user is emailed afterwards; the organization sees every session."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import RequestContext, enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.support import impersonation, staff_breakglass

REASON = "Customer reports simulation runs stuck in queued state since this morning."


async def _break_glass(maker, staff, approver) -> None:
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        asked = await staff_breakglass.request(session, RequestContext(user_id=staff.id), reason=REASON, minutes=60)
        await staff_breakglass.approve(session, RequestContext(user_id=approver.id), asked.id)


async def _grant(app, owner) -> object:
    admin = app.test_client()
    await login(admin, owner.email, owner.password)
    page = await admin.get(f"/o/{owner.org_slug}/security")
    assert page.status_code == 200
    token = csrf_from(await page.get_data(as_text=True))
    granted = await admin.post(f"/o/{owner.org_slug}/security/support-access", form={"csrf_token": token, "days": "7"})
    assert granted.status_code == 303, await granted.get_data(as_text=True)
    return admin


async def _impersonate(api, token, user_id, **extra):
    return await api.post(
        f"/api/v1/platform/impersonate/{user_id}",
        headers={"X-CSRF-Token": token},
        json={"reason": REASON, "ticket": "SUP-4711"} | extra,
    )


async def test_refused_without_break_glass_or_window_then_audited_under_both_names(app, factory, maker, count_rows):
    owner = await factory.org_with_owner()
    target = await factory.member(owner, SystemRole.ADMIN, name="Valentina Admin")
    staff, approver = await factory.platform_admin(), await factory.platform_admin()
    api = app.test_client()
    token = await login(api, staff.email, staff.password)

    refused = await _impersonate(api, token, target.id)
    assert refused.status_code == 403 and (await refused.get_json())["details"]["break_glass"] is False
    await _break_glass(maker, staff, approver)
    refused = await _impersonate(api, token, target.id)
    assert refused.status_code == 403 and (await refused.get_json())["details"]["support_access"] is False
    assert (await _impersonate(api, token, staff.id)).status_code in (403, 422)  # staff are never impersonated

    admin = await _grant(app, owner)
    started = await _impersonate(api, token, target.id)
    assert started.status_code == 201, await started.get_json()
    record = await started.get_json()
    assert record["user_id"] == str(target.id) and record["staff_user_id"] == str(staff.id)

    me = await (await api.get("/api/v1/me")).get_json()
    assert me["id"] == str(target.id)
    home = await (await api.get(f"/o/{owner.org_slug}/missions")).get_data(as_text=True)
    assert 'id="impersonation-banner"' in home and "Valentina Admin" in home

    # forbidden while impersonating: credentials, API keys, billing, deleting the organization
    for method, path, body in (
        ("POST", "/api/v1/me/password", {"current_password": "x", "new_password": "y" * 12}),
        ("POST", f"/api/v1/organizations/{owner.org_id}/api-keys", {"name": "x", "permissions": ["missions:read"]}),
        ("DELETE", f"/api/v1/organizations/{owner.org_id}", None),
        ("DELETE", "/api/v1/me", None),
    ):
        answer = await api.open(path, method=method, headers={"X-CSRF-Token": token}, json=body)
        assert answer.status_code == 403, (path, answer.status_code)
        assert (await answer.get_json())["details"]["impersonating"] is True

    created = await api.post(
        f"/api/v1/organizations/{owner.org_id}/missions",
        headers={"X-CSRF-Token": token},
        json={"name": "Fixed by support", "destination": "moon", "crew_size": 4},
    )
    assert created.status_code == 201, await created.get_json()
    mission_id = (await created.get_json())["id"]
    assert (
        await count_rows(
            "audit_logs",
            "entity_id = :m AND actor_user_id = :u AND impersonator_user_id = :s",
            m=mission_id,
            u=target.id,
            s=staff.id,
        )  # fmt: skip
        == 1
    )

    ended = await api.post("/api/v1/platform/impersonate/exit", headers={"X-CSRF-Token": token})
    assert ended.status_code == 200 and (await ended.get_json())["end_reason"] == "exit"
    assert (await (await api.get("/api/v1/me")).get_json())["id"] == str(staff.id)  # staff again
    assert (await api.post("/api/v1/platform/impersonate/exit", headers={"X-CSRF-Token": token})).status_code == 409
    assert await count_rows("email_outbox", "user_id = :u AND template = 'impersonation_ended'", u=target.id) == 1
    page = await (await admin.get(f"/o/{owner.org_slug}/security")).get_data(as_text=True)
    assert "SUP-4711" in page and "exit" in page


async def test_revoking_the_window_or_the_hour_passing_ends_it_at_the_next_request(app, factory, maker, owner_engine):
    owner = await factory.org_with_owner()
    target = await factory.member(owner, SystemRole.CREW_MEMBER, name="Kalpana Crew")
    staff, approver = await factory.platform_admin(), await factory.platform_admin()
    await _break_glass(maker, staff, approver)
    admin = await _grant(app, owner)
    api = app.test_client()
    token = await login(api, staff.email, staff.password)
    assert (await _impersonate(api, token, target.id)).status_code == 201
    assert (await (await api.get("/api/v1/me")).get_json())["id"] == str(target.id)

    page = await admin.get(f"/o/{owner.org_slug}/security")
    async with owner_engine.connect() as conn:
        grant_id = (
            await conn.execute(
                text("SELECT id FROM support_access_grants WHERE organization_id = :o"), {"o": owner.org_id}
            )
        ).scalar_one()
    revoked = await admin.post(
        f"/o/{owner.org_slug}/security/support-access/{grant_id}/revoke",
        form={"csrf_token": csrf_from(await page.get_data(as_text=True))},
    )
    assert revoked.status_code == 303
    assert (await api.get("/api/v1/me")).status_code == 401  # ended at the next request
    refused = await _impersonate(app.test_client(), token, target.id)
    assert refused.status_code in (401, 403)

    # a new window, a new impersonation, and then its hour is over
    await _grant(app, owner)
    again = app.test_client()
    token = await login(again, staff.email, staff.password)
    started = await _impersonate(again, token, target.id)
    assert started.status_code == 201
    record_id = (await started.get_json())["id"]
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE impersonation_id = :i"),
            {"i": record_id},
        )
        await conn.execute(
            text(
                "UPDATE impersonation_sessions SET started_at = now() - interval '61 minutes', "
                "expires_at = now() - interval '1 minute' WHERE id = :i"
            ),
            {"i": record_id},
        )
    assert (await again.get("/api/v1/me")).status_code == 401
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        await impersonation.notify_users(session)
    async with owner_engine.connect() as conn:
        reason, told = (
            await conn.execute(
                text("SELECT end_reason, user_notified_at IS NOT NULL FROM impersonation_sessions WHERE id = :i"),
                {"i": record_id},
            )
        ).one()
    assert reason == "expired" and told
