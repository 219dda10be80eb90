"""Row-level security holds even when the application forgets a filter."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from webapp.core.db import make_sessionmaker
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work
from webapp.ops.enums import StepName
from webapp.ops.service import request_check

TENANT_TABLES = ["memberships", "system_checks", "audit_logs", "organizations"]


async def _seed_checks(maker, member, n: int) -> None:
    async def no_enqueue(*_):
        return None

    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=member.org_id, user_id=member.id)
        ctx = RequestContext(user_id=member.id, org_id=member.org_id)
        for _ in range(n):
            await request_check(session, ctx, [StepName.REDIS], no_enqueue)


async def test_no_org_set_sees_zero_rows(maker, factory):
    member = await factory.org_with_owner()
    await _seed_checks(maker, member, 2)
    async with maker() as session:
        for table in TENANT_TABLES:
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, f"{table} leaked {count} rows without app.org_id"


# Global tables whose organization_id binds rather than owns: a JSON login names the organization its tokens
# act in, but the row belongs to the user and is found by token hash before any tenant is known (like users).
NOT_TENANT_OWNED = {"auth_sessions"}


async def test_rls_is_enabled_and_forced_on_every_tenant_table(owner_engine):
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
                    "AND NOT c.relispartition"
                )
            )
        ).all()
    assert {r[0] for r in rows} >= {"memberships", "system_checks", "audit_logs"}
    for name, enabled, forced in rows:
        if name in NOT_TENANT_OWNED:
            continue
        assert enabled and forced, f"{name}: RLS enabled={enabled} forced={forced}"


async def test_two_orgs_interleaved_on_one_pooled_connection(settings, factory, maker):
    a = await factory.org_with_owner()
    b = await factory.org_with_owner()
    await _seed_checks(maker, a, 3)
    await _seed_checks(maker, b, 1)
    engine = create_async_engine(
        settings.database_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": {"role": settings.app_db_role}},
    )
    one_conn_maker = make_sessionmaker(engine)
    try:
        pids = set()
        for member, expected in [(a, 3), (b, 1), (a, 3), (b, 1)]:
            async with one_conn_maker() as session:
                await session.begin()
                await scope_session(session, org_id=member.org_id)
                pids.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                org_ids = (
                    (await session.execute(text("SELECT DISTINCT organization_id FROM system_checks"))).scalars().all()
                )
                count = (await session.execute(text("SELECT count(*) FROM system_checks"))).scalar_one()
                assert org_ids == [member.org_id] and count == expected
                await session.commit()
            async with one_conn_maker() as session:  # the next transaction starts with no tenant
                assert (await session.execute(text("SELECT count(*) FROM system_checks"))).scalar_one() == 0
        assert len(pids) == 1, "the test must reuse one pooled connection"
    finally:
        await engine.dispose()


async def test_rls_blocks_writes_into_another_tenant(maker, factory):
    a = await factory.org_with_owner()
    b = await factory.org_with_owner()
    import pytest
    from sqlalchemy.exc import DBAPIError

    async with maker() as session:
        await session.begin()
        await scope_session(session, org_id=a.org_id, user_id=a.id)
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text("INSERT INTO system_checks (id, organization_id) VALUES (gen_random_uuid(), :org)"),
                {"org": b.org_id},
            )
        await session.rollback()


async def test_request_role_is_neither_superuser_nor_bypassrls(maker, settings):
    async with maker() as session:
        row = (
            await session.execute(
                text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    assert row[0] == settings.app_db_role
    assert row[1] is False and row[2] is False


async def test_audit_log_is_append_only_for_the_app(maker, factory):
    import pytest
    from sqlalchemy.exc import DBAPIError

    member = await factory.org_with_owner()
    async with maker() as session:
        await session.begin()
        await scope_session(session, org_id=member.org_id)
        with pytest.raises(DBAPIError, match="permission denied"):
            await session.execute(text("DELETE FROM audit_logs"))


async def test_search_index_partitions_are_reached_only_through_the_parent_and_its_policy(maker, factory):
    member = await factory.org_with_owner()
    async with maker() as session:
        await session.begin()
        await scope_session(session, org_id=member.org_id)
        parts = (
            await session.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'search_index'::regclass"))
        ).scalar_one()
        assert parts == 16
        with pytest.raises(DBAPIError, match="permission denied"):
            await session.execute(text("SELECT count(*) FROM search_index_p00"))
