"""Retention: with the clock frozen at one instant, what has passed its registered retention is deleted (mail after
30 days, sessions 90 days after they expired, security events after a year, export archives after their week) and
what has not is kept; a legal hold keeps a person's rows until it is lifted; each run is audited with its counts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from tests.helpers import login
from tests.privacy.test_requests import _staff_client, process_until_settled
from webapp.collaboration.storage import store_for
from webapp.privacy import retention


async def _age(owner_engine, sql: str, **params) -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(text(sql), params)


async def test_retention_at_a_frozen_instant_spares_fresh_rows_and_held_people(
    app, factory, owner_engine, count_rows, settings
):
    owner = await factory.org_with_owner()
    held, free = await factory.member(owner, name="Held Harriet"), await factory.member(owner, name="Free Frieda")
    for person in (held, free):
        await login(app.test_client(), person.email, person.password)  # a session with its address and browser
        await app.test_client().post("/login", form={"email": person.email, "password": "wrong"})  # no CSRF: refused
    staff, token = await _staff_client(app, factory)
    placed = await staff.post(
        "/admin/privacy/holds",
        form={"csrf_token": token, "subject": held.email, "reference": "HOLD-7", "reason": "Preserve for arbitration."},
    )
    assert placed.status_code == 303

    # an export whose week is over, for the free person
    browser = app.test_client()
    free_token = await login(browser, free.email, free.password)
    await browser.post(
        "/me/privacy/requests/access", form={"csrf_token": free_token, "current_password": free.password}
    )
    async with owner_engine.connect() as conn:
        request_id = (
            await conn.execute(text("SELECT id FROM privacy_subject_requests WHERE user_id = :u"), {"u": free.id})
        ).scalar_one()
    assert await process_until_settled(app, request_id) == "completed"
    async with owner_engine.connect() as conn:
        archive = (
            await conn.execute(
                text("SELECT archive_key FROM privacy_subject_requests WHERE id = :r"), {"r": request_id}
            )
        ).scalar_one()
    store = store_for(settings)
    assert await store.exists(archive)

    frozen = datetime.now(UTC)
    for person in (held, free):
        await _age(
            owner_engine,
            "INSERT INTO email_outbox (id, user_id, to_address, subject, text_body, html_body, "
            "template, status, created_at) SELECT gen_random_uuid(), :u, :e, 'old', 'old', 'old', 'welcome', "
            "'sent', CAST(:t AS timestamptz) - interval '40 days'",
            u=person.id,
            e=person.email,
            t=frozen,
        )
        await _age(
            owner_engine,
            "UPDATE auth_sessions SET created_at = CAST(:t AS timestamptz) - interval '120 days', "
            "last_seen_at = CAST(:t AS timestamptz) - interval '120 days', expires_at = CAST(:t AS timestamptz) "
            "- interval '100 days' WHERE user_id = :u",
            u=person.id,
            t=frozen,
        )
        await _age(
            owner_engine,
            "UPDATE security_events SET created_at = CAST(:t AS timestamptz) - interval '400 days' WHERE user_id = :u",
            u=person.id,
            t=frozen,
        )
    await _age(
        owner_engine,
        "UPDATE privacy_subject_requests SET archive_expires_at = CAST(:t AS timestamptz) - "
        "interval '1 hour' WHERE id = :r",
        r=request_id,
        t=frozen,
    )
    fresh = await count_rows(
        "email_outbox",
        "user_id = :u AND created_at > CAST(:t AS timestamptz) - interval '30 days'",
        u=free.id,
        t=frozen,
    )
    assert fresh >= 1  # the export-ready email: younger than its 30 days
    old = {p.id: await count_rows("security_events", "user_id = :u", u=p.id) for p in (held, free)}
    assert all(old.values())

    counts = await retention.enforce(app.extensions["closedloop"]["sessionmaker"], store, now=frozen)

    assert await count_rows("email_outbox", "user_id = :u AND subject = 'old'", u=free.id) == 0
    assert await count_rows("email_outbox", "user_id = :u", u=free.id) == fresh
    assert await count_rows("auth_sessions", "user_id = :u", u=free.id) == 0
    assert await count_rows("security_events", "user_id = :u", u=free.id) == 0
    assert counts["email_outbox"] >= 1 and counts["auth_sessions"] >= 1 and counts["security_events"] >= old[free.id]
    assert counts["privacy_export_archives"] >= 1 and not await store.exists(archive)
    assert await count_rows("privacy_subject_requests", "id = :r AND archive_key IS NULL", r=request_id) == 1
    # the held person's rows are all still there
    assert await count_rows("email_outbox", "user_id = :u AND subject = 'old'", u=held.id) == 1
    assert await count_rows("auth_sessions", "user_id = :u", u=held.id) >= 1
    assert await count_rows("security_events", "user_id = :u", u=held.id) == old[held.id]
    assert (
        await count_rows(
            "audit_logs", "action = 'privacy.retention_enforced' AND metadata->>'at' = :t", t=frozen.isoformat()
        )
        == 1
    )

    # lifting the hold lets the next run take them
    async with owner_engine.connect() as conn:
        hold_id = (
            await conn.execute(text("SELECT id FROM privacy_legal_holds WHERE user_id = :u"), {"u": held.id})
        ).scalar_one()
    lifted = await staff.post(
        f"/admin/privacy/holds/{hold_id}/lift", form={"csrf_token": token, "reason": "Arbitration closed."}
    )
    assert lifted.status_code == 303
    await retention.enforce(app.extensions["closedloop"]["sessionmaker"], store, now=datetime.now(UTC))
    assert await count_rows("email_outbox", "user_id = :u AND subject = 'old'", u=held.id) == 0
    assert (
        await count_rows("security_events", "user_id = :u AND created_at < now() - interval '1 year'", u=held.id) == 0
    )
