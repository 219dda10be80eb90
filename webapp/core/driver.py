"""Hot reads on the driver connection under the session: a SELECT built once is compiled once for asyncpg and
then runs on the session's own asyncpg connection, inside the session's transaction and RLS scope.

Every request pays SQLAlchemy's per-statement machinery (greenlet hop, execution context, compiled-cache lookup,
result wrapping) about four times over; for the statements that run on every request — the credential lookups,
entering an organization, list pages — that machinery cost more than the statement itself (bench/db_path.py).
`Prepared` keeps SQLAlchemy for what it does well (building and compiling the statement, the column types' bind
and result conversions) and skips the rest. Rows come back as named tuples carrying the select list's labels, so
callers unpack them, index them or read `row.label` as they would a SQLAlchemy Row.

Only statements whose shape is fixed belong here (built at import, or once per list shape): compiling is the
expensive part and happens once per Prepared.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_, greenlet_spawn

from webapp.core.db import HELD
from webapp.core.tenancy import SET_SCOPE_POSITIONAL, scope_arguments

# the engine's dialect with its defaults (make_engine sets none): compiled SQL and type conversions are the same
_DIALECT = asyncpg_dialect()


def _row_class(names: list[str]) -> type:
    base = namedtuple("Row", names, rename=True)
    # `_mapping` as on a SQLAlchemy Row: the API serialisers that copy every column read it
    return type("Row", (base,), {"__slots__": (), "_mapping": property(base._asdict)})


class Prepared:
    """A fixed SELECT, compiled for asyncpg on its first run: SQL text, parameter order and converters."""

    __slots__ = ("statement", "_sql", "_names", "_defaults", "_binds", "_row", "_results")

    def __init__(self, statement) -> None:
        self.statement = statement
        self._sql: str | None = None
        self._results: list[tuple[int, Callable]] | None = None

    def _compile(self, dialect) -> None:
        compiled = self.statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:  # expanding IN lists are rendered per call: not a fixed shape
            raise TypeError("a Prepared statement must not use expanding parameters")
        self._names = tuple(compiled.positiontup or ())
        # a bindparam built with a value (a literal in the statement) keeps it; the others come with each call
        self._defaults = {n: compiled.binds[n].effective_value for n in self._names}
        self._binds = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in self._names)
        columns = list(self.statement.selected_columns)
        self._row = _row_class([c.key or f"c{i}" for i, c in enumerate(columns)])
        self._sql = compiled.string

    def _result_converters(self, dialect, statement_attributes) -> list[tuple[int, Callable]]:
        # (column index, converter) for the columns that have one; numeric result processors look at the column's
        # type oid, known once the statement is prepared
        found = (
            column.type.dialect_impl(dialect).result_processor(dialect, attribute.type.oid)
            for column, attribute in zip(self.statement.selected_columns, statement_attributes, strict=True)
        )
        return [(index, convert) for index, convert in enumerate(found) if convert is not None]

    def arguments(self, params: dict | None) -> list[Any]:
        """The positional arguments for `params` (missing names take the statement's own bound values)."""
        values = self._defaults if not params else {**self._defaults, **params}
        return [
            value if convert is None or value is None else convert(value)
            for value, convert in zip((values[n] for n in self._names), self._binds, strict=True)
        ]


def _joined_driver(sync_session):
    """The asyncpg connection under the session's ORM transaction, BEGIN sent if SQLAlchemy has not sent it yet."""
    pooled = sync_session.connection().connection  # the pool's proxy of the DBAPI connection
    adapted = pooled.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its first statement: ours must not run outside it
    if adapted._transaction is None:
        await_(adapted._start_transaction())
    return pooled.driver_connection


def _check_out(sync_session):
    """A connection from the session's engine, held by the session until it closes (AppSession)."""
    held = Session.get_bind(sync_session).connect()
    sync_session.info[HELD] = held
    return held


async def driver_connection(session: AsyncSession):
    """The asyncpg connection for `session`'s current transaction, with the session's RLS scope set.

    Inside an ORM transaction, that transaction's connection. Otherwise the driver begins the transaction itself,
    on a connection the session holds from then on (webapp.core.db.AppSession): a request that only reads
    through the driver never pays for the ORM's transaction, and whatever the session does later joins this one.
    """
    sync_session = session.sync_session
    info = sync_session.info
    transaction = sync_session.get_transaction()
    if transaction is not None:
        cached = info.get("_driver")
        if cached is not None and cached[0] is transaction:
            return cached[1]
        driver = await session.run_sync(_joined_driver)
        info["_driver"] = (transaction, driver)
        return driver
    held = info.get(HELD)
    if held is None or held.closed:
        held = await greenlet_spawn(_check_out, sync_session)
    pooled = held.connection
    adapted = pooled.dbapi_connection
    driver = pooled.driver_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
        scope = scope_arguments(info)
        if scope is not None:
            await driver.execute(SET_SCOPE_POSITIONAL, *scope)
    return driver


async def fetch_prepared(session: AsyncSession, prepared: Prepared, params: dict | None = None) -> list[tuple]:
    """Run a Prepared SELECT on the session's driver connection, in its transaction and RLS scope; rows as named
    tuples of converted values."""
    driver = await driver_connection(session)
    if prepared._sql is None:
        prepared._compile(_DIALECT)
    arguments = prepared.arguments(params)
    if prepared._results is None:
        statement = await driver.prepare(prepared._sql)
        prepared._results = prepared._result_converters(_DIALECT, statement.get_attributes())
    records = await driver.fetch(prepared._sql, *arguments)
    make, converted = prepared._row._make, prepared._results
    if not converted:
        return [make(record) for record in records]
    rows = []
    for record in records:
        values = list(record)
        for index, convert in converted:
            if values[index] is not None:
                values[index] = convert(values[index])
        rows.append(make(values))
    return rows
