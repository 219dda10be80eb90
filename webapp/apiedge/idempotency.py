"""Idempotency keys on API writes (Stripe's model): a POST with `Idempotency-Key` reserves the key for its
organization (or, outside any organization, its user) in a transaction of its own, runs, and stores its answer —
inside the request's own transaction when it succeeds, so the work and its answer commit together. For 24 hours a
retry with the same request gets that answer again (`Idempotent-Replayed: true`), the same key with a different
request (method, path, body or caller) is a 422, and a retry while the first still runs is a 409 — so two
concurrent requests with one key run once."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from quart import Response, current_app, g, request
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.apiedge.models import IdempotencyKey
from webapp.core.errors import BadRequest, Conflict, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import db_session

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
LOCK = timedelta(minutes=2)  # a first request still "processing" after this has died; a retry may take over
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


@dataclass(frozen=True)
class Reservation:
    """The key this request holds while it runs."""

    id: uuid.UUID
    org_id: uuid.UUID | None
    user_id: uuid.UUID | None


def parse_key(raw: str) -> str:
    """The header's value, checked: 1–255 printable ASCII characters."""
    if not 1 <= len(raw) <= 255 or any(not 0x20 <= ord(c) <= 0x7E for c in raw):
        raise BadRequest(f"{HEADER} must be 1–255 printable ASCII characters.", {"fields": {HEADER: ["invalid"]}})
    return raw


def fingerprint(ctx: RequestContext, method: str, full_path: str, body: bytes) -> str:
    """What makes two requests the same: method, path with query, caller and body."""
    digest = hashlib.sha256()
    for part in (method, full_path, str(ctx.user_id or ""), str(ctx.api_key_id or "")):
        digest.update(part.encode() + b"\x00")
    digest.update(body)
    return digest.hexdigest()


def _replay(stored: dict) -> Response:
    response = Response(stored["response_body"] or b"", status=stored["response_status"])
    for name, value in (stored["response_headers"] or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


async def _claim(session: AsyncSession, ctx: RequestContext, key: str, digest: str, now: datetime):
    """Reserve the key, or find who holds it; (reservation id or None, the existing row or None)."""
    scope = ctx.org_id or ctx.user_id
    fresh = {"id": new_id(), "organization_id": ctx.org_id, "user_id": ctx.user_id, "scope_key": scope, "key": key,
             "request_hash": digest, "method": request.method, "path": request.path[:500],
             "locked_until": now + LOCK, "expires_at": now + KEEP}  # fmt: skip
    stmt = insert(IdempotencyKey).values(fresh).on_conflict_do_nothing(index_elements=["scope_key", "key"])
    if (await session.execute(stmt.returning(IdempotencyKey.id))).scalar_one_or_none() is not None:
        return fresh["id"], None
    row = (await session.execute(
        select(IdempotencyKey).where(IdempotencyKey.scope_key == scope, IdempotencyKey.key == key).with_for_update()
    )).scalar_one_or_none()  # fmt: skip
    if row is None:  # expired and swept between the two statements: try once more
        return await _claim(session, ctx, key, digest, now)
    if row.expires_at <= now:  # a day old: the key is free again
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
        return await _claim(session, ctx, key, digest, now)
    if row.request_hash != digest:
        return None, row
    if row.status == "processing" and row.locked_until <= now:  # the first request's process died
        await session.execute(update(IdempotencyKey).where(IdempotencyKey.id == row.id).values(locked_until=now + LOCK))
        return row.id, None
    return None, row


async def begin(ctx: RequestContext) -> Response | None:
    """Before the view: reserve the key, or answer with the stored response (or 409 / 422)."""
    raw = request.headers.get(HEADER)
    if raw is None or request.method != "POST" or (ctx.org_id is None and ctx.user_id is None):
        return None
    key = parse_key(raw)
    digest = fingerprint(ctx, request.method, request.full_path.rstrip("?"), await request.get_data())
    maker = current_app.extensions["closedloop"]["sessionmaker"]
    now = datetime.now(UTC)
    async with maker() as session, session.begin():
        await scope_session(session, org_id=ctx.org_id, user_id=ctx.user_id)
        reserved, row = await _claim(session, ctx, key, digest, now)
        if row is not None:
            found = {"status": row.status, "hash": row.request_hash, "response_status": row.response_status,
                     "response_headers": row.response_headers, "response_body": row.response_body}  # fmt: skip
    if reserved is not None:
        g.idempotency = Reservation(reserved, ctx.org_id, ctx.user_id)
        return None
    if found["hash"] != digest:
        raise ValidationError(
            f"This {HEADER} was used with a different request (method, path, body or caller) in the last 24 hours.",
            {"idempotency_key": key},
        )
    if found["status"] == "processing":
        raise Conflict(f"A request with this {HEADER} is still running; retry in a moment.",
                       {"idempotency_key": key, "retry_after": 1})  # fmt: skip
    return _replay(found)


def _stored(response_headers) -> dict:
    return {name: response_headers[name] for name in KEPT_HEADERS if name in response_headers}


async def finish(response: Response) -> None:
    """After the view, before the request's transaction ends: a success's answer joins that transaction."""
    reservation: Reservation | None = g.pop("idempotency", None)
    if reservation is None:
        return
    values = {"status": "done", "response_status": response.status_code,
              "response_headers": _stored(response.headers), "response_body": await response.get_data()}  # fmt: skip
    if response.status_code < 400:
        await db_session().execute(update(IdempotencyKey).where(IdempotencyKey.id == reservation.id).values(values))
        return
    g.idempotency_failed = (reservation, values)  # the request's transaction rolls back: store it after


async def finish_failed() -> None:
    """After the request's transaction rolled back: keep a refused request's answer too (Stripe keeps 4xx and
    5xx), so a retry is told the same instead of running again."""
    pending = g.pop("idempotency_failed", None)
    if pending is None:
        return
    reservation, values = pending
    maker = current_app.extensions["closedloop"]["sessionmaker"]
    async with maker() as session, session.begin():
        await scope_session(session, org_id=reservation.org_id, user_id=reservation.user_id)
        await session.execute(update(IdempotencyKey).where(IdempotencyKey.id == reservation.id).values(values))
