"""Carrying out a verified request (what a worker runs, and POST /internal/privacy/process/{id}): claim it, then
export or erase, then complete it — or leave it waiting under a legal hold, or mark it failed for staff to retry.
Safe to run again at any moment: a finished request is left as it is, and a half-done erasure resumes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update

from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.privacy import erasure, export, holds
from webapp.privacy import requests as privacy_requests
from webapp.privacy.enums import SubjectRequestStatus, SubjectRequestType
from webapp.privacy.models import PrivacySubjectRequest

log = logging.getLogger(__name__)
S = SubjectRequestStatus
ON_HOLD = "On legal hold: erasure waits until the hold is lifted"
MAIL_FIRST = "Waiting for the emails already on their way to the person (the account's end is confirmed first)"
MAIL_POLLS, MAIL_POLL_SECONDS = 15, 2.0  # then the sweep tries again
MAIL_PATIENCE = timedelta(hours=1)  # an email still queued after this has failed for good: erasure does not wait


async def _mail_on_its_way(session, user_id) -> bool:
    from sqlalchemy import func, select

    from webapp.mail.enums import EmailStatus
    from webapp.mail.models import OutboxEmail

    queued = await session.execute(
        select(func.count()).where(
            OutboxEmail.user_id == user_id,
            OutboxEmail.status == EmailStatus.QUEUED,
            OutboxEmail.created_at > datetime.now(UTC) - MAIL_PATIENCE,
        )
    )
    return queued.scalar_one() > 0


@dataclass(frozen=True)
class Outcome:
    """Where a request stands after one processing pass."""

    request_id: uuid.UUID
    status: SubjectRequestStatus
    note: str


class Processor:
    """Runs requests with a sessionmaker (the worker's or the app's), the object store and the settings."""

    def __init__(self, sessionmaker, store, settings):
        self.sessionmaker, self.store, self.settings = sessionmaker, store, settings

    async def transaction(self, body):
        """Run `body(session)` in its own transaction with the audited RLS bypass (a person's rows span tenants)."""
        async with unit_of_work(self.sessionmaker) as session:
            await enable_rls_bypass(session, reason="privacy request processing")
            return await body(session)

    async def process(self, request_id: uuid.UUID) -> Outcome:
        """One pass over a request: whatever state it is in, it ends in a state that says what happens next."""
        request = await self.transaction(lambda s: s.get(PrivacySubjectRequest, request_id))
        if request is None:
            from webapp.core.errors import NotFound

            raise NotFound("No such request.")
        if request.status not in (S.IDENTITY_VERIFIED, S.IN_PROGRESS):
            return Outcome(request.id, request.status, "Nothing to do: " + request.status.label.lower())
        if request.request_type == SubjectRequestType.DELETION:
            for _ in range(MAIL_POLLS):  # the account's last emails usually leave within seconds
                waiting = await self.transaction(lambda s: self._blocked(s, request))
                if waiting != MAIL_FIRST:
                    break
                await asyncio.sleep(MAIL_POLL_SECONDS)
            if waiting:
                return Outcome(request.id, S.IDENTITY_VERIFIED, waiting)
        if not await self.transaction(lambda s: self._claim(s, request_id)):
            current = await self.transaction(lambda s: s.get(PrivacySubjectRequest, request_id))
            return Outcome(request_id, current.status, "Another worker holds it")
        try:
            if request.request_type == SubjectRequestType.ACCESS:
                return await self._export(request)
            return await self._erase(request)
        except Exception as exc:
            log.exception("privacy request %s failed", request_id)
            reason = f"The worker failed ({type(exc).__name__}); staff can retry it."
            await self.transaction(lambda s: self._fail(s, request_id, reason))
            return Outcome(request_id, S.FAILED, reason)

    async def _blocked(self, session, request) -> str | None:
        """Why an erasure cannot start now (a legal hold, or an organization only this person owns), logged once."""
        from webapp.organizations.queries import sole_owner_orgs

        found = await session.get(PrivacySubjectRequest, request.id, with_for_update=True)
        covering = await holds.holds_covering_user(session, request.user_id)
        note = None
        if covering:
            note = f"{ON_HOLD} ({', '.join(h.reference for h in covering)})"
        elif orphaned := await sole_owner_orgs(session, request.user_id):
            note = (
                "Waiting: the person is the only owner of "
                + ", ".join(m.name for m in orphaned)
                + ("; ownership must be transferred first")
            )
            await enable_rls_bypass(session, reason="privacy request processing")  # sole_owner_orgs rescoped it
        if note is None:
            if found.status_reason:
                found.status_reason = None  # the hold was lifted: say nothing any more
            return None
        if found.status_reason != note:
            found.status_reason = note
            await privacy_requests.log_step(session, found, found.status, note)
        return note

    async def _claim(self, session, request_id) -> bool:
        stale = datetime.now(UTC) - privacy_requests.STALE_PROCESSING
        claimed = await session.execute(
            update(PrivacySubjectRequest)
            .where(
                PrivacySubjectRequest.id == request_id,
                or_(
                    PrivacySubjectRequest.status == S.IDENTITY_VERIFIED,
                    (PrivacySubjectRequest.status == S.IN_PROGRESS) & (PrivacySubjectRequest.started_at < stale),
                ),
            )
            .values(status=S.IN_PROGRESS, started_at=datetime.now(UTC), attempts=PrivacySubjectRequest.attempts + 1)
            .returning(PrivacySubjectRequest.attempts)
        )
        attempt = claimed.scalar_one_or_none()
        if attempt is None:
            return False
        request = await session.get(PrivacySubjectRequest, request_id)
        await privacy_requests.log_step(session, request, S.IN_PROGRESS, f"A worker started (attempt {attempt})")
        return True

    async def _fail(self, session, request_id, reason: str) -> None:
        request = await session.get(PrivacySubjectRequest, request_id, with_for_update=True)
        request.status, request.status_reason = S.FAILED, reason
        await privacy_requests.log_step(session, request, S.FAILED, reason)

    async def _export(self, request) -> Outcome:
        from webapp.identity.models import User
        from webapp.mail.service import queue_email

        async def gather(session):
            user = await session.get(User, request.user_id)
            return user.name, user.email, await export.gather(session, user.id, user.email)

        name, email, archive = await self.transaction(gather)
        key = export.archive_key(request.id)
        size = await export.write(archive, self.store, key)
        expires = datetime.now(UTC) + timedelta(days=privacy_requests.ARCHIVE_DAYS)

        async def complete(session):
            found = await session.get(PrivacySubjectRequest, request.id, with_for_update=True)
            found.status, found.processed_at, found.status_reason = S.COMPLETED, datetime.now(UTC), None
            found.archive_key, found.archive_size, found.archive_expires_at = key, size, expires
            await privacy_requests.log_step(
                session, found, S.COMPLETED, f"Export ready ({_size(size)}); download link emailed, valid 7 days",
                details={"rows": archive.row_counts, "files": len(archive.files), "bytes": size},
            )  # fmt: skip
            await queue_email(
                session, to=email, template="privacy_export_ready", user_id=request.user_id, name=name,
                size=_size(size), expires=f"{expires:%d %B %Y}",
                link=f"{self.settings.base_url}/me/privacy/requests/{request.id}/archive",
            )  # fmt: skip

        await self.transaction(complete)
        return Outcome(request.id, S.COMPLETED, "Export ready")

    async def _erase(self, request) -> Outcome:
        from webapp.identity.models import User

        user = await self.transaction(lambda s: s.get(User, request.user_id))
        if user is None or user.erased_at is not None:
            counts: dict = {"users": "already erased"}
            await self.transaction(lambda s: self._complete_erasure(s, request.id, counts))
            return Outcome(request.id, S.COMPLETED, "Already erased")

        async def finish(session, counts):
            await self._complete_erasure(session, request.id, counts)

        await erasure.erase(self.transaction, user.id, user.email, user.name, finish)
        return Outcome(request.id, S.COMPLETED, "Erased")

    async def _complete_erasure(self, session, request_id, counts: dict) -> None:
        found = await session.get(PrivacySubjectRequest, request_id, with_for_update=True)
        found.status, found.processed_at, found.status_reason = S.COMPLETED, datetime.now(UTC), None
        await privacy_requests.log_step(
            session, found, S.COMPLETED, "Erased: the account and personal data are gone; kept records name a "
            "pseudonym", details=counts,
        )  # fmt: skip


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} bytes"


async def pending_requests(sessionmaker) -> list[uuid.UUID]:
    """Requests the sweep hands to workers again (verified, or abandoned by a dead worker)."""
    async with unit_of_work(sessionmaker) as session:
        await enable_rls_bypass(session, reason="privacy: requests waiting for a worker")
        return await privacy_requests.waiting_for_workers(session)
