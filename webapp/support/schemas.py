"""JSON shapes of impersonation."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from webapp.core.openapi import Body


class ImpersonateIn(Body):
    """Body of POST /platform/impersonate/{user_id}."""

    reason: str = Field(min_length=10, max_length=1000, description="Why support must act as this person")
    ticket: str = Field(min_length=2, max_length=100, description="The support ticket it answers")
    organization_id: uuid.UUID | None = Field(
        None, description="Needed only when the person is in several organizations that granted support access"
    )


class ImpersonationOut(BaseModel):
    """An impersonation: whose account, in which organization, until when."""

    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    staff_user_id: uuid.UUID | None
    reason: str
    ticket: str
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
