"""Seats: twenty people accepting invitations at the same moment never exceed the paid seats (the subscription's row
lock queues them); with automatic seat increases they all join and the seats grow to match; the seat sync then sets
the provider's quantity, and the drift sweep finds what differs."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from sqlalchemy import text

from tests.billing.flow import deliver, upgrade
from webapp.billing import seats
from webapp.core.errors import PaymentRequired
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import unit_of_work
from webapp.organizations import service as organizations

PASSWORD = "correct horse battery staple"


async def _twenty_invitations(owner_engine, owner) -> list[str]:
    """Twenty open invitations with tokens we know (inserted as the owner would have sent them earlier, when the
    organization had the seats for them)."""
    raws = [secrets.token_urlsafe(32) for _ in range(20)]
    async with owner_engine.begin() as conn:
        role = (
            await conn.execute(
                text("SELECT id FROM roles WHERE organization_id = :o AND key = 'crew_member'"), {"o": owner.org_id}
            )
        ).scalar_one()
        for i, raw in enumerate(raws):
            await conn.execute(
                text(
                    "INSERT INTO invitations (id, organization_id, email, role_id, token_hash, expires_at, invited_by) "
                    "VALUES (gen_random_uuid(), :o, :e, :r, :h, now() + interval '1 day', :u)"
                ),
                {"o": owner.org_id, "e": f"joiner{i}-{owner.org_slug}@example.org", "r": role,
                 "h": hashlib.sha256(raw.encode()).digest(), "u": owner.id},
            )  # fmt: skip
    return raws


async def _accept_all(maker, raws: list[str]) -> list[object]:
    async def accept(raw: str, n: int):
        async with unit_of_work(maker) as session:
            await organizations.accept_invitation(
                session, RequestContext(request_id=f"accept-{n}"), raw, name=f"Joiner {n}", password=PASSWORD
            )

    return await asyncio.gather(*(accept(raw, n) for n, raw in enumerate(raws)), return_exceptions=True)


async def _members(owner_engine, org_id) -> int:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT count(*) FROM memberships WHERE organization_id = :o AND deleted_at IS NULL"),
                {"o": org_id},
            )
        ).scalar_one()


async def test_twenty_concurrent_accepts_never_pass_the_paid_seats(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="crew")  # 5 seats, no automatic increase
    raws = await _twenty_invitations(owner_engine, owner)
    outcomes = await _accept_all(maker, raws)
    refused = [o for o in outcomes if isinstance(o, PaymentRequired)]
    others = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, PaymentRequired)]
    assert not others, others
    assert len(refused) == 16 and await _members(owner_engine, owner.org_id) == 5
    assert refused[0].details["limit"] == "seats" and refused[0].details["allowed"] == 5
    # sixteen invitations still wait, but without automatic seats nothing buys more: the sweep leaves it be
    assert owner.org_id not in await seats.drifted(maker)
    assert not (await seats.sync(maker, owner.org_id)).changed


async def test_with_automatic_seats_everyone_joins_and_the_provider_follows(
    client, factory, maker, owner_engine, settings
):
    owner = await factory.org_with_owner(plan="free")
    auth = await upgrade(client, maker, owner_engine, settings, owner)  # Crew through the sandbox: 5 seats, up to 25
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO settings (id, scope, organization_id, key, value) "
                "VALUES (gen_random_uuid(), 'organization', :o, 'billing.auto_seats', 'true'::jsonb)"
            ),
            {"o": owner.org_id},
        )
    raws = await _twenty_invitations(owner_engine, owner)
    outcomes = await _accept_all(maker, raws)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert await _members(owner_engine, owner.org_id) == 21
    sub = await (await client.get("/api/v1/billing/subscription", headers=auth)).get_json()
    assert sub["seats"] == 21  # grown one by one under the lock

    done = await seats.sync(maker, owner.org_id)
    assert done.wanted == 21
    if done.events:  # (a live worker — the browser tests' stack — may have run the sync the accepts queued)
        assert done.events[0]["data"]["object"]["items"]["data"][0]["quantity"] == 21
        await deliver(client, maker, owner_engine, settings, list(done.events))
    for _ in range(300):  # the provider's quantity follows (at once here; via a live worker, within seconds)
        if owner.org_id not in await seats.drifted(maker):
            break
        await asyncio.sleep(0.1)
    assert owner.org_id not in await seats.drifted(maker)
    again = await seats.sync(maker, owner.org_id)  # nothing left to do: the same job again changes nothing
    assert not again.changed and again.events == ()
