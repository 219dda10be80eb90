"""Hot reads on the driver connection: a Prepared statement runs inside the session's transaction and RLS scope,
converts values as SQLAlchemy would, and its rows read like SQLAlchemy rows."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, select, text

from webapp.core.db import fetch_rows
from webapp.core.driver import Prepared, driver_connection, fetch_prepared
from webapp.core.tenancy import scope_session
from webapp.missions.models import Mission

_MISSIONS = Prepared(
    select(Mission.id, Mission.name, Mission.status, Mission.crew_size)
    .where(Mission.organization_id == bindparam("org"))
    .order_by(Mission.name)
)


async def test_prepared_reads_match_the_session_and_keep_its_scope(maker, factory):
    from webapp.core.tenancy import RequestContext
    from webapp.core.transaction import unit_of_work
    from webapp.iam.catalog import system_role_permissions
    from webapp.missions.service import create_mission

    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        ctx = RequestContext(user_id=owner.id, org_id=owner.org_id, org_slug=owner.org_slug, role="owner",
                             permissions=system_role_permissions("owner"))  # fmt: skip
        await create_mission(session, ctx, {"name": "Artemis Base", "destination": "moon", "crew_size": 4})
    async with maker() as session:
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        ours = await fetch_prepared(session, _MISSIONS, {"org": owner.org_id})
        theirs = (await fetch_rows(session, _MISSIONS.statement, {"org": owner.org_id})).all()
        assert [tuple(r) for r in ours] == [tuple(r) for r in theirs] and len(ours) == 1
        row = ours[0]
        assert row.name == "Artemis Base" and row._mapping["name"] == "Artemis Base"
        assert type(row.status) is type(theirs[0].status)  # the enum, converted as SQLAlchemy converts it
        # RLS: the session's organization is the one the driver connection sees
        assert await fetch_prepared(session, _MISSIONS, {"org": other.org_id}) == []
        # same transaction: what the session set locally, the driver read sees, and the other way round
        await session.execute(text("SELECT set_config('app.probe', 'session', true)"))
        probe = Prepared(select(func.current_setting("app.probe", True).label("probe")))
        assert (await fetch_prepared(session, probe))[0].probe == "session"
        await session.rollback()
        assert (await fetch_prepared(session, probe))[0].probe in (None, "")  # a new transaction, scope re-applied
        assert len(await fetch_prepared(session, _MISSIONS, {"org": owner.org_id})) == 1


async def test_a_session_without_scope_still_reads_inside_one_transaction(maker):
    async with maker() as session:
        txid = Prepared(select(func.txid_current().label("id")))
        first = (await fetch_prepared(session, txid))[0].id
        assert (await session.execute(text("SELECT txid_current()"))).scalar() == first
        assert (await fetch_prepared(session, txid))[0].id == first
        await session.commit()
        assert (await fetch_prepared(session, txid))[0].id != first


def test_a_statement_with_expanding_parameters_is_refused():
    import pytest

    from webapp.core.driver import _DIALECT

    with pytest.raises(TypeError):
        Prepared(select(Mission.id).where(Mission.id.in_([uuid.uuid4()])))._compile(_DIALECT)


async def test_a_driver_first_transaction_is_the_one_the_orm_joins_and_ends(maker, factory):
    """A read through the driver begins the transaction itself (no ORM transaction around it); whatever the session
    does next runs inside that same transaction, a scope set meanwhile reaches it, and commit, rollback and close
    end it and give the connection back."""
    owner = await factory.org_with_owner()
    pool = maker.kw["bind"].sync_engine.pool
    before = pool.checkedout()
    txid = Prepared(select(func.txid_current().label("id")))
    async with maker() as session:
        first = (await fetch_prepared(session, txid))[0].id
        assert not session.in_transaction() and pool.checkedout() == before + 1
        # a scope set after the driver began reaches the driver's transaction at once
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        probe = Prepared(select(func.current_setting("app.org_id", True).label("org")))
        assert (await fetch_prepared(session, probe))[0].org == str(owner.org_id)
        # the ORM joins it: same transaction, same connection
        assert (await session.execute(text("SELECT txid_current()"))).scalar() == first
        assert pool.checkedout() == before + 1
        await session.commit()
        second = (await fetch_prepared(session, txid))[0].id
        assert second != first
        assert (await fetch_prepared(session, probe))[0].org == str(owner.org_id)  # re-applied to the new one
        await session.commit()  # the ORM never joined this one: the driver's transaction is what commits
        third = (await fetch_prepared(session, txid))[0].id
        await session.rollback()
        driver = await driver_connection(session)
        found = [await driver.fetchval("SELECT pg_xact_status($1::xid8)::text", x) for x in (first, second, third)]
        assert found == ["committed", "committed", "aborted"]
    assert pool.checkedout() == before


async def test_a_request_that_only_read_through_the_driver_commits_or_rolls_back_by_its_status(app):
    from webapp.core.transaction import db_session, end_request_transaction

    engine = app.extensions["closedloop"]["engine"]
    ended = {}
    for status_code in (200, 500):
        async with app.test_request_context("/"):
            driver = await driver_connection(db_session())
            ended[status_code] = await driver.fetchval("SELECT txid_current()")
            await end_request_transaction(status_code)
        assert engine.pool.checkedout() == 0
    async with app.test_request_context("/"):
        driver = await driver_connection(db_session())
        found = [await driver.fetchval("SELECT pg_xact_status($1::xid8)::text", ended[c]) for c in (200, 500)]
        await end_request_transaction(200)
    assert found == ["committed", "aborted"]
