"""Keyset pagination through a real list page: pages do not overlap, end cleanly, and bad cursors are refused."""

from __future__ import annotations

import re

from sqlalchemy import text

from tests.helpers import login
from tests.security.test_rls import _seed_checks
from webapp.core.ids import new_id
from webapp.core.pagination import decode_cursor, encode_cursor


def _check_links(body: str) -> list[str]:
    return re.findall(r'href="/o/[^/]+/ops/checks/([0-9a-f-]{36})"', body)


def _next_cursor(body: str) -> str | None:
    match = re.search(r'hx-get="[^"]*\?cursor=([A-Za-z0-9_-]+)"', body)
    return match.group(1) if match else None


async def test_cursor_round_trip_keeps_uuid_values():
    key = new_id()
    assert decode_cursor(encode_cursor((key,)), 1) == (key,)


async def test_pages_cover_every_row_once_newest_first(client, factory, maker, owner_engine):
    owner = await factory.org_with_owner()
    await _seed_checks(maker, owner, 30)
    await _seed_checks(maker, await factory.org_with_owner(), 3)  # another tenant's rows never appear
    await login(client, owner.email, owner.password)

    first = await (await client.get(f"/o/{owner.org_slug}/ops/check")).get_data(as_text=True)
    cursor = _next_cursor(first)
    first_ids = list(dict.fromkeys(_check_links(first)))  # the "latest" panel links the newest one again
    response = await client.get(f"/o/{owner.org_slug}/ops/check?cursor={cursor}", headers={"HX-Request": "true"})
    second = await response.get_data(as_text=True)
    second_ids = _check_links(second)

    async with owner_engine.connect() as conn:
        expected = [
            str(r)
            for r in (
                await conn.execute(
                    text("SELECT id FROM system_checks WHERE organization_id = :o ORDER BY id DESC"),
                    {"o": owner.org_id},
                )
            ).scalars()
        ]
    assert len(first_ids) == 25 and cursor is not None
    assert first_ids + second_ids == expected  # 30 rows, in order, none twice, no stranger's
    assert _next_cursor(second) is None and "<html" not in second  # the last page, as a fragment


async def test_limit_parameter_bounds_the_page(client, factory, maker):
    owner = await factory.org_with_owner()
    await _seed_checks(maker, owner, 4)
    await login(client, owner.email, owner.password)
    body = await (await client.get(f"/o/{owner.org_slug}/ops/check?limit=3")).get_data(as_text=True)
    assert len(set(_check_links(body))) == 3 and _next_cursor(body) is not None


async def test_bad_cursor_and_limit_are_400_with_a_message(client, factory):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    base = f"/o/{owner.org_slug}/ops/check"
    for query, message in (
        ("cursor=not-a-cursor", "The cursor is invalid."),
        ("cursor=" + encode_cursor((1, 2)), "The cursor is invalid."),
        ("limit=0", "limit must be between 1 and 100."),
        ("limit=ten", "limit must be an integer."),
    ):
        response = await client.get(f"{base}?{query}", headers={"Accept": "application/json"})
        assert response.status_code == 400, query
        assert (await response.get_json())["message"] == message


async def test_a_list_statement_gets_a_generic_plan_instead_of_being_planned_every_time(maker, factory):
    """PostgreSQL plans a prepared statement afresh while its generic plan looks costlier than a custom one: with
    `LIMIT $n` the generic plan expects a tenth of the table, so every page was planned again (planning cost several
    times the 25-row query). The page size is part of the statement, so the sixth page on a connection runs the
    generic plan."""
    from webapp.core.driver import driver_connection
    from webapp.core.tenancy import scope_session
    from webapp.simulations.queries import PRODUCTS

    owner = await factory.org_with_owner()
    async with maker() as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        for _ in range(8):
            await PRODUCTS.page(session, {"org_id": owner.org_id}, sort=None, filters={}, cursor=None, limit=25)
        driver = await driver_connection(session)
        sql = PRODUCTS._query(PRODUCTS.parse_sort(None), ())._statement(False, 26)._sql
        assert sql.rstrip().endswith("LIMIT 26")
        plans = await driver.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement = $1 AND custom_plans + generic_plans > 0",
            sql,
        )
        await session.rollback()
    assert len(plans) == 1 and plans[0]["generic_plans"] >= 3, plans
