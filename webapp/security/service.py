"""Write security events in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.audit import jsonable
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.models import SecurityEvent


async def record_event(
    session: AsyncSession,
    ctx: RequestContext | None,
    event_type: SecurityEventType,
    *,
    user_id: uuid.UUID | None = None,
    severity: Severity = Severity.INFO,
    metadata: dict | None = None,
    organization_id: uuid.UUID | None | bool = True,
) -> None:
    """Append one event (user defaults to the actor, organization to the context's)."""
    org = (ctx.org_id if ctx else None) if organization_id is True else organization_id
    await session.execute(
        # every key sent, no RETURNING: the app role may insert rows it cannot read back
        insert(SecurityEvent.__table__).values(
            id=new_id(),
            created_at=datetime.now(UTC),
            organization_id=org,
            user_id=user_id if user_id is not None else (ctx.user_id if ctx else None),
            event_type=str(event_type),
            severity=severity,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else None,
            request_id=ctx.request_id if ctx else None,
            metadata=jsonable(metadata or {}),
        )
    )
