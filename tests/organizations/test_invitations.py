"""Invitations end to end over real SMTP: invite, accept as a new or existing user, resend, revoke, reuse."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from tests.conftest import csrf_from
from tests.helpers import login


async def _role_id(owner_engine, org_id, key: str) -> str:
    async with owner_engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    text("SELECT id FROM roles WHERE organization_id = :o AND key = :k"), {"o": org_id, "k": key}
                )
            ).scalar_one()
        )


async def _invite(client, token, member, email, role_id):
    return await client.post(
        f"/o/{member.org_slug}/members/invitations", form={"csrf_token": token, "email": email, "role_id": role_id}
    )


def _token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def _next_token(mailbox, address: str, *, other_than: str, timeout: float = 20) -> str:
    """The token of the first invitation email to `address` whose link differs from `other_than`."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tokens = [_token_of(m.link("/invitations/accept")) for m in mailbox.to(address)]
        fresh = [t for t in tokens if t != other_than]
        if fresh:
            return fresh[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no new invitation link for {address}")


async def test_invite_a_new_person_who_creates_an_account_and_joins(
    app, client, factory, mailbox, deliver, owner_engine, count_rows
):
    owner = await factory.org_with_owner(name="Jezero Crater Works")
    token = await login(client, owner.email, owner.password)
    email = f"new-{secrets.token_hex(3)}@example.org"
    analyst = await _role_id(owner_engine, owner.org_id, "analyst")
    response = await _invite(client, token, owner, email, analyst)
    assert response.status_code == 303
    page = await (await client.get(f"/o/{owner.org_slug}/members")).get_data(as_text=True)
    assert email in page and "Pending invitations" in page

    await deliver()
    message = await mailbox.wait_for(email, "invited you to Jezero Crater Works")
    link = message.link("/invitations/accept")
    assert "Analyst" in message.text

    guest = app.test_client()
    landing = await guest.get(f"/invitations/accept?token={_token_of(link)}")
    body = await landing.get_data(as_text=True)
    assert landing.status_code == 200 and "Create your account" in body and email in body
    weak = await guest.post(
        "/invitations/accept",
        form={
            "csrf_token": csrf_from(body),
            "token": _token_of(link),
            "name": "Wen Li",
            "password": "password1",
            "confirm": "password1",
            "accept_terms": "y",
        },
    )
    assert weak.status_code == 422 and "too common" in await weak.get_data(as_text=True)
    assert await count_rows("users", "lower(email) = :e", e=email) == 0  # nothing written on a refusal

    joined = await guest.post(
        "/invitations/accept",
        form={
            "csrf_token": csrf_from(body),
            "token": _token_of(link),
            "name": "Wen Li",
            "password": "oxygen from regolith",
            "confirm": "oxygen from regolith",
            "accept_terms": "y",
        },
    )
    assert joined.status_code == 303 and joined.headers["Location"] == f"/o/{owner.org_slug}/"
    home = await guest.get(joined.headers["Location"])
    assert home.status_code == 200 and "Jezero Crater Works" in await home.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        key, verified = (
            await conn.execute(
                text(
                    "SELECT r.key, u.email_verified_at FROM users u JOIN memberships m ON m.user_id = u.id "
                    "JOIN roles r ON r.id = m.role_id WHERE u.email = :e"
                ),
                {"e": email},
            )
        ).one()
    assert key == "analyst" and verified is not None

    again = await app.test_client().get(f"/invitations/accept?token={_token_of(link)}")
    assert again.status_code == 409 and "already been used" in await again.get_data(as_text=True)


async def test_an_existing_user_accepts_only_with_the_invited_account(
    app, client, factory, mailbox, deliver, owner_engine
):
    owner = await factory.org_with_owner()
    elsewhere = await factory.org_with_owner()  # a user who already has an account
    outsider = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    await _invite(client, token, owner, elsewhere.email, await _role_id(owner_engine, owner.org_id, "viewer"))
    await deliver()
    raw = _token_of((await mailbox.wait_for(elsewhere.email, "invited you")).link("/invitations/accept"))

    anonymous = app.test_client()
    page = await (await anonymous.get(f"/invitations/accept?token={raw}")).get_data(as_text=True)
    assert "Sign in to accept" in page

    wrong = app.test_client()
    wrong_token = await login(wrong, outsider.email, outsider.password)
    refused = await wrong.post("/invitations/accept", form={"csrf_token": wrong_token, "token": raw})
    assert refused.status_code == 403 and elsewhere.email in await refused.get_data(as_text=True)

    right = app.test_client()
    right_token = await login(right, elsewhere.email, elsewhere.password)
    accepted = await right.post("/invitations/accept", form={"csrf_token": right_token, "token": raw})
    assert accepted.status_code == 303
    assert (await right.get(f"/o/{owner.org_slug}/")).status_code == 200


async def test_resend_replaces_the_link_and_revoke_kills_it(
    app, client, factory, mailbox, deliver, owner_engine, count_rows
):
    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    email = f"later-{secrets.token_hex(3)}@example.org"
    await _invite(client, token, owner, email, await _role_id(owner_engine, owner.org_id, "crew_member"))
    await deliver()
    first = _token_of((await mailbox.wait_for(email, "invited you")).link("/invitations/accept"))
    async with owner_engine.connect() as conn:
        invitation_id = (
            await conn.execute(text("SELECT id FROM invitations WHERE email = :e"), {"e": email})
        ).scalar_one()

    duplicate = await _invite(client, token, owner, email, await _role_id(owner_engine, owner.org_id, "viewer"))
    assert duplicate.status_code == 409 and "already has an invitation" in await duplicate.get_data(as_text=True)

    resent = await client.post(
        f"/o/{owner.org_slug}/members/invitations/{invitation_id}/resend", form={"csrf_token": token}
    )
    assert resent.status_code == 303
    await deliver()
    second = await _next_token(mailbox, email, other_than=first)  # email is at-least-once: skip repeats
    assert (await app.test_client().get(f"/invitations/accept?token={first}")).status_code == 404
    assert (await app.test_client().get(f"/invitations/accept?token={second}")).status_code == 200

    revoked = await client.post(
        f"/o/{owner.org_slug}/members/invitations/{invitation_id}/revoke", form={"csrf_token": token}
    )
    assert revoked.status_code == 303
    gone = await app.test_client().get(f"/invitations/accept?token={second}")
    assert gone.status_code == 400 and "revoked" in await gone.get_data(as_text=True)
    assert await count_rows("audit_logs", "entity_id = :i AND action LIKE 'invitation.%'", i=str(invitation_id)) == 3


async def test_invitation_input_is_checked_and_roles_cannot_escalate(client, factory, owner_engine, count_rows):
    from webapp.core.permissions import SystemRole

    owner = await factory.org_with_owner()
    commander = await factory.member(owner, role=SystemRole.MISSION_COMMANDER)  # may invite, holds little
    token = await login(client, commander.email, commander.password)
    before = await count_rows("invitations")
    bad_email = await _invite(
        client, token, owner, "not an address", await _role_id(owner_engine, owner.org_id, "viewer")
    )
    assert bad_email.status_code == 422
    admin_role = await _role_id(owner_engine, owner.org_id, "admin")
    escalate = await _invite(client, token, owner, "boss@example.org", admin_role)
    assert escalate.status_code in (403, 422)  # not offered, and refused if posted anyway
    other = await factory.org_with_owner()
    foreign_role = await _role_id(owner_engine, other.org_id, "viewer")
    foreign = await _invite(client, token, owner, "x@example.org", foreign_role)
    assert foreign.status_code in (404, 422)
    assert await count_rows("invitations") == before
