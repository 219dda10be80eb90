"""Recording data subject requests; the processing workflow belongs to the privacy issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.privacy.enums import SubjectRequestStatus, SubjectRequestType
from webapp.privacy.models import PrivacySubjectRequest

RESPONSE_DEADLINE = timedelta(days=30)  # GDPR Art. 12(3): without undue delay, within one month


async def record_subject_request(
    session: AsyncSession,
    ctx: RequestContext | None,
    *,
    user_id,
    email: str,
    request_type: SubjectRequestType,
    reason: str | None = None,
) -> PrivacySubjectRequest:
    """Log a request with its response deadline; audited."""
    now = datetime.now(UTC)
    row = PrivacySubjectRequest(
        id=new_id(),
        user_id=user_id,
        subject_email=email,
        request_type=request_type,
        status=SubjectRequestStatus.PENDING,
        reason=(reason or "").strip()[:2000] or None,
        requested_at=now,
        due_at=now + RESPONSE_DEADLINE,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        ctx,
        f"privacy.{request_type.value}_requested",
        entity_type="privacy_subject_request",
        entity_id=row.id,
        after={"user_id": user_id, "type": request_type.value, "due_at": row.due_at.isoformat()},
        organization_id=None,
    )
    return row
