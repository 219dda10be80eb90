"""Migrations go up, down and up again, and match the models exactly."""
from __future__ import annotations

import secrets

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from migrations.security import include_object
from tests.conftest import ROOT, _admin_exec, _services, _with_database
from webapp.models import Base


@pytest.fixture
def scratch_db():
    """A throwaway database on the test server."""
    name = f"cl_mig_{secrets.token_hex(4)}"
    server = _services["server_url"]
    _admin_exec(server, f'CREATE DATABASE "{name}"')
    yield _with_database(server, name)
    _admin_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["skip_logging"] = True
    return config


async def _public_tables(url: str) -> set[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names



async def test_upgrade_downgrade_upgrade_and_no_drift(scratch_db):
    config = _config(scratch_db)
    await _run(command.upgrade, config, "head")
    tables = await _public_tables(scratch_db)
    assert {"users", "auth_sessions", "organizations", "memberships", "system_checks", "audit_logs"} <= tables
    assert any(t.startswith("audit_logs_p") for t in tables), "monthly audit partitions were not created"

    await _run(command.downgrade, config, "base")
    assert await _public_tables(scratch_db) == {"alembic_version"}

    await _run(command.upgrade, config, "head")
    diff = await _diff_models(scratch_db)
    assert diff == [], f"models and migrations differ: {diff}"


async def _run(fn, *args):
    """Alembic's env.py calls asyncio.run(), so run it off the event loop's thread."""
    import asyncio

    await asyncio.to_thread(fn, *args)


async def _diff_models(url: str) -> list:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync_conn: compare_metadata(
                MigrationContext.configure(sync_conn, opts={"include_object": include_object, "compare_type": True}),
                Base.metadata,
            )
        )
    await engine.dispose()
    return diff
