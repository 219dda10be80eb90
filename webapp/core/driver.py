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
from sqlalchemy.util import await_

from webapp.core.tenancy import SCOPE_BY_DRIVER, SET_SCOPE_POSITIONAL, scope_arguments

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


def _begun_driver(sync_session, scope: tuple | None):
    """In one trip into SQLAlchemy's sync world: the session's connection (autobegun), BEGIN sent, the scope set."""
    pooled = sync_session.connection().connection  # the pool's proxy of the DBAPI connection
    adapted = pooled.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its first statement: ours must not run outside it
    if adapted._transaction is None:
        await_(adapted._start_transaction())
    driver = pooled.driver_connection
    if scope is not None:
        await_(driver.execute(SET_SCOPE_POSITIONAL, *scope))
    return driver


async def driver_connection(session: AsyncSession):
    """The asyncpg connection under `session`'s current transaction (begun here if need be, with the session's RLS
    scope set, as the begin hook would); kept on the session for the rest of that transaction."""
    sync_session = session.sync_session
    transaction = sync_session.get_transaction()
    cached = session.info.get("_driver")
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    beginning = transaction is None
    if beginning:  # the begin hook leaves the RLS scope to us: one statement on the driver, in the same hop
        session.info[SCOPE_BY_DRIVER] = True
    try:
        driver = await session.run_sync(_begun_driver, scope_arguments(session.info) if beginning else None)
    finally:
        session.info.pop(SCOPE_BY_DRIVER, None)
    session.info["_driver"] = (sync_session.get_transaction(), driver)
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
