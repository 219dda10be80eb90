"""Break-glass: reason and a second member's approval, a banner and marked audit rows while active,
ends by itself or on demand, then a review by someone else."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import text

from tests.helpers import login
from webapp.core.permissions import SystemRole


async def _setup(client, factory, owner_engine):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER)
    officer = await factory.member(owner, role=SystemRole.SECURITY_OFFICER)
    token = await login(client, owner.email, owner.password)
    created = await client.post(
        f"/o/{owner.org_slug}/roles",
        data=urlencode(
            [
                ("csrf_token", token),
                ("name", "Emergency responder"),
                ("permissions", "members:read"),
                ("permissions", "roles:write"),
                ("permissions", "roles:read"),
                ("break_glass", "y"),
            ]
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert created.status_code == 303
    await client.post("/logout", form={"csrf_token": token})
    async with owner_engine.connect() as conn:
        role_id = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'emergency_responder'"),
                {"o": owner.org_id},
            )
        ).scalar_one()
    return owner, crew, officer, role_id


async def _activation(owner_engine, user_id):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT id, status FROM break_glass_activations WHERE user_id = :u ORDER BY created_at DESC LIMIT 1"
                ),
                {"u": user_id},
            )
        ).one()


async def test_break_glass_needs_a_reason_and_a_second_member_and_marks_what_is_done(
    app, client, factory, owner_engine, count_rows, mailbox, deliver
):
    owner, crew, officer, role_id = await _setup(client, factory, owner_engine)
    base = f"/o/{owner.org_slug}/break-glass"
    crew_client = app.test_client()
    token = await login(crew_client, crew.email, crew.password)

    short = await crew_client.post(
        base, form={"csrf_token": token, "role_id": str(role_id), "reason": "urgent", "minutes": "60"}
    )
    assert short.status_code == 422 and await count_rows("break_glass_activations", "user_id = :u", u=crew.id) == 0
    too_long = await crew_client.post(
        base,
        form={
            "csrf_token": token,
            "role_id": str(role_id),
            "minutes": "600",
            "reason": "Sabatier reactor offline, need to reassign the crew",
        },
    )
    assert too_long.status_code == 422
    asked = await crew_client.post(
        base,
        form={
            "csrf_token": token,
            "role_id": str(role_id),
            "minutes": "60",
            "reason": "Sabatier reactor offline, need to reassign the crew",
        },
    )
    assert asked.status_code == 303
    activation_id, status = await _activation(owner_engine, crew.id)
    assert status == "pending"
    await deliver()
    alert = await mailbox.wait_for(officer.email, "Break-glass request")  # approvers hear about it at once
    assert "Sabatier reactor offline" in alert.text and alert.link("/break-glass")
    assert await mailbox.wait_for(owner.email, "Break-glass request")
    assert not mailbox.to(crew.email)  # not the requester
    async with owner_engine.connect() as conn:
        viewer = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'viewer'"), {"o": owner.org_id}
            )
        ).scalar_one()
    grant = {"csrf_token": token, "user_id": str(officer.id), "role_id": str(viewer), "reason": "cover"}
    assert (await crew_client.post(f"/o/{owner.org_slug}/roles/assignments", form=grant)).status_code == 403

    own = await crew_client.post(f"{base}/{activation_id}/approve", form={"csrf_token": token})
    assert own.status_code == 403  # nobody approves their own request

    officer_client = app.test_client()
    officer_token = await login(officer_client, officer.email, officer.password)
    approved = await officer_client.post(f"{base}/{activation_id}/approve", form={"csrf_token": officer_token})
    assert approved.status_code == 303
    assert await count_rows("security_events", "event_type = 'break_glass.activated' AND user_id = :u", u=crew.id) == 1

    page = await crew_client.get(f"/o/{owner.org_slug}/roles/assignments")
    body = await page.get_data(as_text=True)
    assert page.status_code == 200 and "Break-glass access is active" in body
    granted = await crew_client.post(f"/o/{owner.org_slug}/roles/assignments", form=grant)
    assert granted.status_code == 303
    assert (
        await count_rows(
            "audit_logs",
            "action = 'role_assignment.create' AND break_glass AND metadata->>'break_glass_id' = :a",
            a=str(activation_id),
        )
        == 1
    )

    ended = await crew_client.post(f"{base}/{activation_id}/end", form={"csrf_token": token})
    assert ended.status_code == 303
    again = await crew_client.post(f"/o/{owner.org_slug}/roles/assignments", form={**grant, "user_id": str(owner.id)})
    assert again.status_code == 403  # the extra permissions are gone with it
    assert "Break-glass access is active" not in await (await crew_client.get(base)).get_data(as_text=True)

    self_review = await crew_client.post(
        f"{base}/{activation_id}/review", form={"csrf_token": token, "notes": "All fine, honestly"}
    )
    assert self_review.status_code == 403
    reviewed = await officer_client.post(
        f"{base}/{activation_id}/review",
        form={"csrf_token": officer_token, "notes": "Reassignment was needed; one viewer grant, justified."},
    )
    assert reviewed.status_code == 303
    history = await (await officer_client.get(base)).get_data(as_text=True)
    assert "Reassignment was needed" in history


async def test_the_schema_itself_refuses_self_approval_and_long_grants(factory, owner_engine, client):
    import pytest
    from sqlalchemy.exc import IntegrityError

    owner, crew, _, role_id = await _setup(client, factory, owner_engine)
    async with owner_engine.connect() as conn:
        membership = (
            await conn.execute(text("SELECT id FROM memberships WHERE user_id = :u"), {"u": crew.id})
        ).scalar_one()
    base = (
        "INSERT INTO break_glass_activations (id, organization_id, membership_id, user_id, role_id, reason, minutes, "
        "status, approved_by, approved_at, expires_at) VALUES (gen_random_uuid(), :o, :m, :u, :r, "
        "'a reason that is long enough', :minutes, 'approved', :by, now(), now() + :span * interval '1 minute')"
    )
    params = {"o": owner.org_id, "m": membership, "u": crew.id, "r": role_id}
    for minutes, by, span in ((60, crew.id, 60), (300, owner.id, 300), (60, owner.id, 241)):
        with pytest.raises(IntegrityError):
            async with owner_engine.begin() as conn:
                await conn.execute(text(base), {**params, "minutes": minutes, "by": by, "span": span})
