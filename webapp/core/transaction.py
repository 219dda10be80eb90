"""One transaction per request (or task); side effects registered with after_commit run after it commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from quart import current_app, g
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from webapp.core.db import HELD

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run `hook` only once `session` has committed (jobs, pub/sub, email)."""
    session.info.setdefault("after_commit", []).append(hook)


async def commit(session: AsyncSession) -> None:
    """Commit, then run the after_commit hooks in order; a failing hook is logged, not raised."""
    await session.commit()
    await _run_hooks(session.info.pop("after_commit", []))


async def _run_hooks(hooks: list[AfterCommit]) -> None:
    for hook in hooks:
        try:
            await hook()
        except Exception:  # a side effect must not turn a committed request into an error
            log.exception("after_commit hook failed")


async def rollback(session: AsyncSession) -> None:
    """Roll back and drop pending side effects."""
    session.info.pop("after_commit", None)
    await session.rollback()


def db_session() -> AsyncSession:
    """The request's session, opened on first use so /health never touches the pool."""
    session = g.get("_db_session")
    if session is None:
        maker: async_sessionmaker = current_app.extensions["closedloop"]["sessionmaker"]
        session = maker()
        g._db_session = session
    return session


async def end_request_transaction(status_code: int) -> None:
    """Commit when the response is a success (< 400), otherwise roll back; then close."""
    session: AsyncSession | None = g.pop("_db_session", None)
    if session is None:
        return
    keep = status_code < 400
    hooks = session.info.pop("after_commit", [])
    # commit (or roll back) and close in one trip into SQLAlchemy's sync world: this runs on every request
    await finish_despite_cancel(_end_or_discard(session, keep))
    if keep:  # only once the commit went through
        await _run_hooks(hooks)


async def _end_or_discard(session: AsyncSession, keep: bool) -> None:
    try:
        if not await _end_driver_only(session, keep):
            await session.run_sync(_end, keep)
    except BaseException:
        await discard(session)
        raise


async def _end_driver_only(session: AsyncSession, keep: bool) -> bool:
    """A request that only read through the driver (most API reads): end its transaction on the driver and give the
    connection back, without the ORM's ending around it. False when the ORM took part (its ending is needed)."""
    sync_session = session.sync_session
    held = sync_session.info.get(HELD)
    if held is None or sync_session.get_transaction() is not None or sync_session.identity_map:
        return False
    adapted = held.connection.dbapi_connection  # SQLAlchemy's asyncpg adapter
    transaction = adapted._transaction
    if transaction is not None:
        await adapted._call_and_discard(transaction.commit if keep else transaction.rollback)
    await greenlet_spawn(held.close)  # the pool's check-in may close or terminate a connection: SQLAlchemy's world
    del sync_session.info[HELD]
    return True


async def discard(session: AsyncSession) -> None:
    """Close the session's connection instead of returning it (a rollback that failed, or a query cut off midway
    left it unusable): the server ends its transaction, and its locks, when the connection closes."""
    with contextlib.suppress(Exception):
        await session.invalidate()


async def finish_despite_cancel(work: Awaitable[None]) -> None:
    """Run a transaction's ending to completion even if our task is cancelled meanwhile: Quart cancels a request's
    task when its client goes away, and an ending cut off there leaves the connection checked out and idle in
    transaction — holding its row locks (an audit chain's head: every later writer to that chain waits for
    ever). The caller still sees the cancellation; the ending finishes in its own task."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_log_failure)
    await asyncio.shield(task)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ending a transaction failed", exc_info=task.exception())


def _end(session: Session, keep: bool) -> None:
    try:
        if keep:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


@asynccontextmanager
async def unit_of_work(maker: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """Transaction for tasks and scripts: commit on success, roll back on error."""
    session = maker()
    try:
        yield session
        await commit(session)
    except BaseException:
        await finish_despite_cancel(_rollback_and_close(session))
        raise
    else:
        await finish_despite_cancel(session.close())


async def _rollback_and_close(session: AsyncSession) -> None:
    try:
        await rollback(session)
        await session.close()
    except BaseException:
        await discard(session)
        raise
