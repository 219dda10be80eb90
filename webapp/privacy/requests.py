"""Data subject requests (GDPR Art. 15, 17, 20): received → identity_verified → in_progress → completed, or denied /
failed / canceled. Every step is a privacy_request_events row naming who moved it (None: a worker) and when; a request
is due one month after receipt (Art. 12(3)), extendable once by two months with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing.subscriptions import add_months
from webapp.core import audit
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.core.transaction import after_commit
from webapp.privacy.enums import OPEN_STATUSES, SubjectRequestStatus, SubjectRequestType
from webapp.privacy.models import PrivacyRequestEvent, PrivacySubjectRequest

S = SubjectRequestStatus
VERIFY_SECONDS = 24 * 3600  # an emailed confirmation link lives a day
ARCHIVE_DAYS = 7  # an export can be downloaded for a week
EXTENSION_MONTHS = 2
STALE_PROCESSING = timedelta(minutes=15)  # a worker that held a request this long without finishing has died


def due_after(received: datetime) -> datetime:
    """One month after receipt (Art. 12(3))."""
    return add_months(received, 1)


def _verifier(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="closedloop-privacy-request-verify")


def verification_token(secret_key: str, request_id: uuid.UUID) -> str:
    """The signed, day-long token of the emailed confirmation link."""
    return _verifier(secret_key).dumps(str(request_id))


def check_verification_token(secret_key: str, token: str, request_id: uuid.UUID) -> None:
    """Raise ValidationError unless `token` confirms exactly this request and is under a day old."""
    try:
        signed = _verifier(secret_key).loads(token, max_age=VERIFY_SECONDS)
    except SignatureExpired as exc:
        raise ValidationError.field("token", "This confirmation link has expired; make the request again.") from exc
    except BadSignature as exc:
        raise ValidationError.field("token", "This confirmation link is not valid.") from exc
    if signed != str(request_id):
        raise ValidationError.field("token", "This confirmation link is for another request.")


async def log_step(
    session: AsyncSession, request: PrivacySubjectRequest, status: S, note: str, *, actor_id=None, details=None
) -> None:
    """Append one step to the request's log."""
    session.add(
        PrivacyRequestEvent(
            id=new_id(), request_id=request.id, user_id=request.user_id, actor_id=actor_id, status=status,
            note=note, details=details or {}, at=datetime.now(UTC),
        )
    )  # fmt: skip
    await session.flush()


def _enqueue_after_commit(session: AsyncSession, request_id: uuid.UUID) -> None:
    from webapp.privacy.tasks import enqueue_processing

    after_commit(session, lambda r=str(request_id): enqueue_processing(r))


async def open_request(session: AsyncSession, user_id: uuid.UUID, request_type: SubjectRequestType):
    """The user's unfinished request of that kind, if any (one at a time)."""
    found = await session.execute(
        select(PrivacySubjectRequest).where(
            PrivacySubjectRequest.user_id == user_id,
            PrivacySubjectRequest.request_type == request_type,
            PrivacySubjectRequest.status.in_(OPEN_STATUSES),
        )
    )
    return found.scalars().first()


async def submit(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    user_id: uuid.UUID,
    email: str,
    request_type: SubjectRequestType,
    reason: str | None = None,
    reauthenticated: bool,
    send_confirmation: bool = True,
    secret_key: str = "",
    base_url: str = "",
) -> PrivacySubjectRequest:
    """Receive a request. Re-authenticated (password just given) it is verified at once and a worker takes it;
    otherwise an emailed link confirms it (unless the caller verifies it itself, as deactivation does). Audited; a
    second open request of the same kind is a 409."""
    if await open_request(session, user_id, request_type):
        raise Conflict(f"You already have an open {request_type.value} request; it is shown on your privacy page.")
    now = datetime.now(UTC)
    row = PrivacySubjectRequest(
        id=new_id(), user_id=user_id, subject_email=email, request_type=request_type, status=S.RECEIVED,
        reason=(reason or "").strip()[:2000] or None, requested_at=now, due_at=due_after(now),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await log_step(session, row, S.RECEIVED, "Request received", actor_id=user_id)
    await audit.record(
        session, ctx, f"privacy.{request_type.value}_requested", entity_type="privacy_subject_request",
        entity_id=row.id, after={"user_id": user_id, "type": request_type.value, "due_at": row.due_at.isoformat()},
        organization_id=None,
    )  # fmt: skip
    if reauthenticated:
        await verify(session, row, method="password", actor_id=user_id)
    elif send_confirmation:
        from webapp.mail.service import queue_email

        token = verification_token(secret_key, row.id)
        await queue_email(
            session, to=email, template="privacy_request_confirm", user_id=user_id, kind=request_type.value,
            link=f"{base_url}/me/privacy/requests/{row.id}/confirm?token={token}",
        )  # fmt: skip
    return row


async def verify(session: AsyncSession, request: PrivacySubjectRequest, *, method: str, actor_id) -> None:
    """Mark the person's identity proven (re-authentication or the emailed link) and hand the request to a worker."""
    if request.status != S.RECEIVED:
        return  # already verified (a second click on the link changes nothing)
    request.status, request.verified_at, request.verification_method = S.IDENTITY_VERIFIED, datetime.now(UTC), method
    await session.flush()
    how = "by signing in again" if method == "password" else "by the emailed link"
    await log_step(session, request, S.IDENTITY_VERIFIED, f"Identity verified {how}", actor_id=actor_id)
    _enqueue_after_commit(session, request.id)


async def get_own(session: AsyncSession, user_id: uuid.UUID, request_id: uuid.UUID) -> PrivacySubjectRequest:
    """One of the user's own requests (404 for anyone else's)."""
    found = await session.get(PrivacySubjectRequest, request_id, with_for_update=True)
    if found is None or found.user_id != user_id:
        raise NotFound("No such request.")
    return found


async def list_own(session: AsyncSession, user_id: uuid.UUID) -> list[PrivacySubjectRequest]:
    """The user's requests, newest first."""
    rows = await session.execute(
        select(PrivacySubjectRequest)
        .where(PrivacySubjectRequest.user_id == user_id)
        .order_by(PrivacySubjectRequest.requested_at.desc())
        .limit(100)
    )
    return list(rows.scalars())


async def steps_of(session: AsyncSession, request_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PrivacyRequestEvent]]:
    """Each request's log, oldest step first."""
    if not request_ids:
        return {}
    rows = await session.execute(
        select(PrivacyRequestEvent)
        .where(PrivacyRequestEvent.request_id.in_(request_ids))
        .order_by(PrivacyRequestEvent.at, PrivacyRequestEvent.id)
    )
    steps: dict[uuid.UUID, list[PrivacyRequestEvent]] = {rid: [] for rid in request_ids}
    for step in rows.scalars():
        steps[step.request_id].append(step)
    return steps


async def cancel(session: AsyncSession, ctx: RequestContext, request: PrivacySubjectRequest) -> None:
    """The person withdraws a request a worker has not started (409 otherwise)."""
    if request.status not in (S.RECEIVED, S.IDENTITY_VERIFIED):
        raise Conflict(f"This request is {request.status.label.lower()} and can no longer be canceled.")
    request.status, request.processed_at = S.CANCELED, datetime.now(UTC)
    await session.flush()
    await log_step(session, request, S.CANCELED, "Canceled by the person", actor_id=ctx.user_id)
    await audit.record(
        session, ctx, "privacy.request_canceled", entity_type="privacy_subject_request", entity_id=request.id,
        organization_id=None,
    )  # fmt: skip


async def deny(session: AsyncSession, ctx: RequestContext, request: PrivacySubjectRequest, reason: str) -> None:
    """Staff refuse an open request with the reason the person is told (audited, emailed)."""
    from webapp.mail.service import queue_email

    if not request.status.is_open or request.status == S.IN_PROGRESS:
        raise Conflict(f"This request is {request.status.label.lower()}; only a waiting request can be denied.")
    request.status, request.status_reason = S.DENIED, reason.strip()
    request.processed_by, request.processed_at = ctx.user_id, datetime.now(UTC)
    await session.flush()
    await log_step(session, request, S.DENIED, f"Denied: {request.status_reason}", actor_id=ctx.user_id)
    await audit.record(
        session, ctx, "privacy.request_denied", entity_type="privacy_subject_request", entity_id=request.id,
        metadata={"reason": request.status_reason}, organization_id=None,
    )  # fmt: skip
    if request.user_id:
        await queue_email(
            session, to=request.subject_email, template="privacy_request_denied", user_id=request.user_id,
            kind=request.request_type.value, reason=request.status_reason,
        )  # fmt: skip


async def extend(session: AsyncSession, ctx: RequestContext, request: PrivacySubjectRequest, reason: str) -> None:
    """Staff extend an open request's due date once, by two months, with the reason the person is told."""
    from webapp.mail.service import queue_email

    if not request.status.is_open:
        raise Conflict("Only an open request can be extended.")
    if request.extended_at is not None:
        raise Conflict("This request was already extended once (GDPR Art. 12(3) allows one extension).")
    now = datetime.now(UTC)
    if now > request.due_at:
        raise Conflict("The extension must be given within the first month, before the request is overdue.")
    before = request.due_at
    request.due_at, request.extended_at, request.extension_reason = (
        add_months(request.due_at, EXTENSION_MONTHS), now, reason.strip(),
    )  # fmt: skip
    await session.flush()
    await log_step(
        session, request, request.status, f"Due date extended to {request.due_at:%d %B %Y}: {request.extension_reason}",
        actor_id=ctx.user_id,
    )  # fmt: skip
    await audit.record(
        session, ctx, "privacy.request_extended", entity_type="privacy_subject_request", entity_id=request.id,
        before={"due_at": before.isoformat()}, after={"due_at": request.due_at.isoformat()},
        metadata={"reason": request.extension_reason}, organization_id=None,
    )  # fmt: skip
    if request.user_id:
        await queue_email(
            session, to=request.subject_email, template="privacy_request_extended", user_id=request.user_id,
            kind=request.request_type.value, reason=request.extension_reason, due=f"{request.due_at:%d %B %Y}",
        )  # fmt: skip


async def retry(session: AsyncSession, ctx: RequestContext, request: PrivacySubjectRequest) -> None:
    """Staff send a failed request back to the workers."""
    if request.status != S.FAILED:
        raise Conflict("Only a failed request can be retried.")
    request.status, request.status_reason = S.IDENTITY_VERIFIED, None
    await session.flush()
    await log_step(session, request, S.IDENTITY_VERIFIED, "Sent back to the workers", actor_id=ctx.user_id)
    _enqueue_after_commit(session, request.id)


async def queue(session: AsyncSession, *, only_open: bool = True) -> list[PrivacySubjectRequest]:
    """Staff queue: open requests by due date (overdue first), or all of them newest first."""
    query = select(PrivacySubjectRequest)
    if only_open:
        query = query.where(PrivacySubjectRequest.status.in_(OPEN_STATUSES | {S.FAILED})).order_by(
            PrivacySubjectRequest.due_at
        )
    else:
        query = query.order_by(PrivacySubjectRequest.requested_at.desc())
    return list((await session.execute(query.limit(500))).scalars())


async def overdue_count(session: AsyncSession) -> int:
    """How many open requests are past their due date (flagged to staff)."""
    rows = await session.execute(
        select(PrivacySubjectRequest.id).where(
            PrivacySubjectRequest.status.in_(OPEN_STATUSES | {S.FAILED}),
            PrivacySubjectRequest.due_at < datetime.now(UTC),
        )
    )
    return len(rows.all())


async def waiting_for_workers(session: AsyncSession) -> list[uuid.UUID]:
    """Verified requests, and ones a dead worker left in progress: the sweep hands them out again."""
    stale = datetime.now(UTC) - STALE_PROCESSING
    rows = await session.execute(
        select(PrivacySubjectRequest.id).where(
            (PrivacySubjectRequest.status == S.IDENTITY_VERIFIED)
            | ((PrivacySubjectRequest.status == S.IN_PROGRESS) & (PrivacySubjectRequest.started_at < stale))
        )
    )
    return [r.id for r in rows]


async def expire_archives(session: AsyncSession, store, now: datetime) -> int:
    """Delete export archives past their week (the request keeps its record; the bytes go)."""
    rows = await session.execute(
        select(PrivacySubjectRequest).where(
            PrivacySubjectRequest.archive_key.is_not(None), PrivacySubjectRequest.archive_expires_at < now
        )
    )
    expired = list(rows.scalars())
    for request in expired:
        await store.delete(request.archive_key)
        await log_step(session, request, request.status, "The export archive expired and was deleted")
    if expired:
        await session.execute(
            update(PrivacySubjectRequest)
            .where(PrivacySubjectRequest.id.in_([r.id for r in expired]))
            .values(archive_key=None)
        )
    return len(expired)


async def flag_overdue(session: AsyncSession, base_url: str, now: datetime | None = None) -> int:
    """Email every staff member the open requests past their due date (daily); how many are overdue."""
    from webapp.identity.enums import UserStatus
    from webapp.identity.models import User
    from webapp.mail.service import queue_email

    now = now or datetime.now(UTC)
    overdue = list(
        (
            await session.execute(
                select(PrivacySubjectRequest)
                .where(PrivacySubjectRequest.status.in_(OPEN_STATUSES | {S.FAILED}), PrivacySubjectRequest.due_at < now)
                .order_by(PrivacySubjectRequest.due_at)
            )
        ).scalars()
    )
    if not overdue:
        return 0
    staff = await session.execute(
        select(User.id, User.email).where(
            User.is_platform_admin.is_(True), User.status == UserStatus.ACTIVE, User.deleted_at.is_(None)
        )
    )
    listed = [
        {"type": r.request_type.value, "id": str(r.id), "due": f"{r.due_at:%d %B %Y}", "status": r.status.label}
        for r in overdue
    ]
    for member in staff:
        await queue_email(
            session, to=member.email, template="privacy_overdue", user_id=member.id, overdue=listed, base_url=base_url
        )
    return len(overdue)
