"""A transaction's ending survives its task being cancelled: Quart cancels a request's task when the client goes away
(a browser closing a page mid-request), and an ending cut off there used to leave the connection checked out and
idle in transaction, holding the audit chain's head — every later audit writer on that chain then waited for ever
(the live stack hung, its pools exhausted)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from sqlalchemy import text

from webapp.core import audit

CUT_POINTS = range(0, 40, 3)  # event-loop turns before the cancel lands: before, during and after the commit


async def _idle_in_transaction(owner_engine) -> int:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND application_name = 'closedloop'"
                )
            )
        ).scalar_one()


async def _chain_is_free(maker) -> None:
    """Another transaction can append to the platform chain (a held head would make it wait: 5 s is a failure)."""
    async with maker() as session:
        await session.execute(text("SET LOCAL lock_timeout = '5s'"))
        await audit.record(session, None, "test.probe", entity_type="test", organization_id=None)
        await session.rollback()


async def _settle(app, owner_engine) -> None:
    engine = app.extensions["closedloop"]["engine"]
    for _ in range(100):  # the shielded ending finishes in its own task: give it its turns
        if engine.pool.checkedout() == 0 and await _idle_in_transaction(owner_engine) == 0:
            return
        await asyncio.sleep(0.02)
    pytest.fail(
        f"{engine.pool.checkedout()} connection(s) still checked out, "
        f"{await _idle_in_transaction(owner_engine)} idle in transaction"
    )


@pytest.mark.parametrize("turns", CUT_POINTS)
async def test_a_request_cancelled_while_it_commits_still_ends_its_transaction(app, maker, owner_engine, turns):
    from webapp.core.transaction import db_session, end_request_transaction

    async with app.test_request_context("/"):
        session = db_session()
        await audit.record(session, None, "test.cancelled", entity_type="test", organization_id=None)
        ending = asyncio.ensure_future(end_request_transaction(200))
        for _ in range(turns):
            await asyncio.sleep(0)
        ending.cancel()  # a no-op when the ending already finished (the later cut points, on a fast machine)
        with contextlib.suppress(asyncio.CancelledError):
            await ending
    await _settle(app, owner_engine)
    await _chain_is_free(maker)


@pytest.mark.parametrize("turns", CUT_POINTS)
async def test_a_unit_of_work_cancelled_midway_ends_its_transaction(app, maker, owner_engine, turns):
    from webapp.core.transaction import unit_of_work

    async def work():
        async with unit_of_work(maker) as session:
            await audit.record(session, None, "test.cancelled", entity_type="test", organization_id=None)
            await session.execute(text("SELECT pg_sleep(0.05)"))

    task = asyncio.ensure_future(work())
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _settle(app, owner_engine)
    await _chain_is_free(maker)


async def test_postgres_ends_a_transaction_left_idle_and_frees_its_locks(settings, maker):
    """The safety net under both: a transaction that nobody will end (its task lost its connection) is ended by
    the server after DB_IDLE_TRANSACTION_SECONDS, and the chain's next writer goes on."""
    from sqlalchemy.exc import DBAPIError

    from webapp.core.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url, settings.app_db_role, pool_size=1, idle_transaction_seconds=1)
    try:
        abandoned = make_sessionmaker(engine)()
        await audit.record(abandoned, None, "test.abandoned", entity_type="test", organization_id=None)
        await asyncio.sleep(1.5)  # idle in transaction, holding the platform chain's head
        await _chain_is_free(maker)
        with pytest.raises(DBAPIError):  # the server closed it
            await abandoned.execute(text("SELECT 1"))
        await abandoned.invalidate()
    finally:
        await engine.dispose()


async def test_a_pooled_connection_left_inside_a_transaction_is_rolled_back_before_its_next_use(settings, owner_engine):
    """What a BEGIN cut off by a cancel leaves: the server in a transaction that SQLAlchemy's adapter never recorded.
    Unchecked, the next user's BEGIN becomes a SAVEPOINT and its commit a RELEASE — its writes are never committed
    (a sign-in that shows "Welcome back" and then the sign-in page) and its locks are never released."""
    from webapp.core.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url, None, pool_size=1, max_overflow=0)
    marker = f"stray-{uuid.uuid4()}"
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # as if the adapter's BEGIN had been cut off after asyncpg sent it: asyncpg holds the transaction, the
            # adapter (and so the pool's reset) knows nothing of it
            await raw.driver_connection.transaction().start()
            assert raw.driver_connection.is_in_transaction() and raw.dbapi_connection._transaction is None
        maker = make_sessionmaker(engine)
        async with maker() as session:  # the same pooled connection (pool of one)
            await session.execute(text("SET LOCAL lock_timeout = '5s'"))
            await audit.record(session, None, "test.stray", entity_type="test", entity_id=marker, organization_id=None)
            await session.commit()
        async with owner_engine.connect() as other:
            seen = (
                await other.execute(text("SELECT count(*) FROM audit_logs WHERE entity_id = :m"), {"m": marker})
            ).scalar_one()
        assert seen == 1  # committed for real, not released into a transaction nobody ends
    finally:
        await engine.dispose()
