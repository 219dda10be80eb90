"""Closing a period: usage beyond what the plan includes becomes overage fees (units × unit price, held by a CHECK)
and an invoice of usage lines whose total the invoice's own CHECKs hold; a period closes once, and only after
`usage.late_days` have passed since it ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.helpers import login, token_headers
from webapp.usage import overages, rollup


async def _raw_event(conn, org_id, tx: str, code: str, quantity: int, when) -> None:
    """An event as ingestion stores it (written directly: the API refuses events this old, by design)."""
    await conn.execute(
        text("INSERT INTO usage_transaction_keys (organization_id, transaction_id, occurred_at) VALUES (:o, :t, :w)"),
        {"o": org_id, "t": tx, "w": when},
    )
    await conn.execute(
        text(
            "INSERT INTO usage_metered_usage (organization_id, transaction_id, occurred_at, metric_code, quantity) "
            "VALUES (:o, :t, :w, :c, :q)"
        ),
        {"o": org_id, "t": tx, "w": when, "c": code, "q": quantity},
    )
    await conn.execute(
        text(
            "INSERT INTO usage_dirty_windows (organization_id, metric_code, hour_start) "
            "VALUES (:o, :c, date_trunc('hour', CAST(:w AS timestamptz), 'UTC')) ON CONFLICT DO NOTHING"
        ),
        {"o": org_id, "c": code, "w": when},
    )


async def test_a_closed_period_bills_what_went_past_the_plan_once(client, factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="crew")  # 1,000 runs (5¢ each beyond); 1M API calls (50¢ per 100k)
    async with owner_engine.begin() as conn:  # the organization is older: its last period ended 9 days ago
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET created_at = created_at - interval '80 days', "
                "current_period_start = current_period_start - interval '40 days', "
                "current_period_end = current_period_end - interval '40 days' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
        start = (
            await conn.execute(
                text("SELECT current_period_start FROM billing_subscriptions WHERE organization_id = :o"),
                {"o": owner.org_id},
            )
        ).scalar_one()
        during = start + timedelta(days=15)  # inside the period before the current one
        await _raw_event(conn, owner.org_id, "runs", "simulation_runs", 1010, during)
        await _raw_event(conn, owner.org_id, "calls", "api_calls", 1_250_000, during + timedelta(hours=3))
        await _raw_event(conn, owner.org_id, "gb", "storage_gb", 20, during)  # within the 50 GB included
    await rollup.roll_up(maker)

    await overages.close_due(maker)  # (the live stack's scheduler may run the same pass: it closes once either way)
    await overages.close_due(maker)  # the next pass: this period is closed already (counted below)
    auth = await token_headers(client, owner)
    fees = (await (await client.get("/api/v1/usage/overages", headers=auth)).get_json())["items"]
    billed = {
        f["metric_code"]: (f["used"], f["billable_units"], f["unit_price_minor"], f["amount_minor"]) for f in fees
    }
    assert billed == {"api_calls": (1_250_000, 3, 50, 150), "simulation_runs": (1010, 10, 5, 50)}
    assert len({f["invoice_id"] for f in fees}) == 1
    async with owner_engine.connect() as conn:
        closes = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT period_start), count(invoice_id) FROM usage_period_closes "
                    "WHERE organization_id = :o"
                ),
                {"o": owner.org_id},
            )
        ).one()
        invoice = (
            await conn.execute(
                text(
                    "SELECT status, provider, usage_amount, total_amount, number, "
                    "(SELECT count(*) FROM billing_invoice_lines l WHERE l.invoice_id = i.id AND l.kind = 'usage') "
                    "FROM billing_invoices i WHERE id = :i"
                ),
                {"i": fees[0]["invoice_id"]},
            )
        ).one()
    # each period it lived through closed once (the two before had no usage: closed, nothing billed)
    assert tuple(closes) == (3, 3, 1)
    assert tuple(invoice) == ("open", None, 200, 200, 1, 2)
    await login(client, owner.email, owner.password)
    page = await (await client.get(f"/o/{owner.org_slug}/usage")).get_data(as_text=True)
    assert 'id="overage-fees"' in page and "3 × $0.50 = $1.50" in page and "10 × $0.05 = $0.50" in page

    async with owner_engine.connect() as conn:  # a fee whose amount is not units × price cannot be stored
        with pytest.raises(IntegrityError, match="amount_adds_up"):
            await conn.execute(
                text(
                    "INSERT INTO usage_overage_fees (id, organization_id, close_id, metric_code, period_start, "
                    "period_end, included, used, unit_size, billable_units, unit_price_minor, amount_minor, currency) "
                    "SELECT gen_random_uuid(), organization_id, close_id, metric_code, period_start, period_end, "
                    "included, used, unit_size, billable_units, unit_price_minor, amount_minor + 1, currency "
                    "FROM usage_overage_fees WHERE organization_id = :o LIMIT 1"
                ),
                {"o": owner.org_id},
            )


async def test_a_period_still_open_to_late_events_is_not_closed(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="crew")
    async with owner_engine.begin() as conn:  # its only past period ended a day ago: late events may still come
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET created_at = created_at - interval '20 days', "
                "current_period_start = now() - interval '1 month 1 day', "
                "current_period_end = now() - interval '1 day' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
    from webapp.core.tenancy import scope_session
    from webapp.core.transaction import unit_of_work

    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id)
        assert await overages.close_due_periods(session, owner.org_id) == []


async def test_periods_missed_while_the_scheduler_was_down_are_closed_oldest_first(factory, maker, owner_engine):
    owner = await factory.org_with_owner(plan="crew")
    async with owner_engine.begin() as conn:  # two periods ended, neither closed: the scheduler was down over both
        await conn.execute(
            text(
                "UPDATE billing_subscriptions SET created_at = now() - interval '75 days', "
                "current_period_start = now() - interval '70 days', "
                "current_period_end = now() - interval '40 days' WHERE organization_id = :o"
            ),
            {"o": owner.org_id},
        )
        anchor = (
            await conn.execute(
                text("SELECT current_period_start FROM billing_subscriptions WHERE organization_id = :o"),
                {"o": owner.org_id},
            )
        ).scalar_one()
        await _raw_event(conn, owner.org_id, "older", "simulation_runs", 1003, anchor + timedelta(days=3))
        await _raw_event(conn, owner.org_id, "newer", "simulation_runs", 1020, anchor + timedelta(days=40))
    await rollup.roll_up(maker)

    from webapp.core.tenancy import scope_session
    from webapp.core.transaction import unit_of_work

    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id)
        closed = await overages.close_due_periods(session, owner.org_id)
        again = await overages.close_due_periods(session, owner.org_id)
    assert [c.period_start for c in closed] == sorted(c.period_start for c in closed)
    assert again == []
    async with owner_engine.connect() as conn:
        billed = (
            await conn.execute(
                text(
                    "SELECT f.period_start, f.billable_units, i.number FROM usage_overage_fees f "
                    "JOIN billing_invoices i ON i.id = f.invoice_id WHERE f.organization_id = :o ORDER BY 1"
                ),
                {"o": owner.org_id},
            )
        ).all()
    # the period that began at the anchor, then the one after it: 3 and 20 runs beyond the 1,000 included
    assert [(units, number) for _, units, number in billed] == [(3, 1), (20, 2)]
    assert billed[0].period_start == anchor
