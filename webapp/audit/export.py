"""Streaming export of a filtered range of the audit log, CSV or JSON Lines, of any size in constant memory: the
rows come from a server-side cursor in its own transaction (the request's has ended when the body is sent), a
thousand at a time, each written out as soon as it is read."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator

from quart import Response

from webapp.audit.queries import EXPORT_FIELDS, export_record
from webapp.core.audit import AuditLog
from webapp.core.tenancy import enable_rls_bypass, scope_session

BATCH = 1_000


async def _rows(sessionmaker, stmt, params: dict, *, org_id: uuid.UUID | None, user_id) -> AsyncIterator:
    async with sessionmaker() as session, session.begin():
        if org_id is None:
            await enable_rls_bypass(session, reason="staff export the audit log")
        else:
            await scope_session(session, org_id=org_id, user_id=user_id)
        ordered = stmt.order_by(AuditLog.created_at, AuditLog.id).execution_options(yield_per=BATCH)
        result = await session.stream(ordered, params)
        async for row in result:
            yield row


async def jsonl(rows: AsyncIterator) -> AsyncIterator[bytes]:
    """One JSON object per line."""
    async for row in rows:
        yield (json.dumps(export_record(row), ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()


async def csv_lines(rows: AsyncIterator) -> AsyncIterator[bytes]:
    """A header, then one line per row (before/after/metadata as JSON text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> bytes:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue().encode()

    yield line(EXPORT_FIELDS)
    async for row in rows:
        record = export_record(row)
        yield line([
            json.dumps(record[f], ensure_ascii=False, default=str) if isinstance(record[f], (dict, list))
            else ("" if record[f] is None else record[f])
            for f in EXPORT_FIELDS
        ])  # fmt: skip


def response(sessionmaker, stmt, params: dict, *, kind: str, filename: str, org_id, user_id) -> Response:
    """The download: `kind` is csv or jsonl."""
    rows = _rows(sessionmaker, stmt, params, org_id=org_id, user_id=user_id)
    body = csv_lines(rows) if kind == "csv" else jsonl(rows)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson"
    answer = Response(body, content_type=media)
    answer.headers["Content-Disposition"] = f'attachment; filename="{filename}.{kind}"'
    answer.timeout = None  # a large range takes as long as it takes
    return answer
