"""JSON shapes of credits."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from webapp.core.openapi import Body, whole
from webapp.usage.enums import EntryKind, HoldStatus


class HoldOut(BaseModel):
    """Credits reserved for work under way."""

    id: uuid.UUID
    amount: int
    status: HoldStatus
    subject: str = Field(description="What holds them, e.g. `simulation_run:<id>`")
    description: str
    created_at: datetime


class CreditsOut(BaseModel):
    """The organization's credits: `available = balance - held`."""

    balance: int
    held: int
    available: int
    holds: list[HoldOut] = Field(description="Holds not resolved yet, newest first")


class EntryOut(BaseModel):
    """One ledger entry: what changed and the account after it."""

    id: uuid.UUID
    kind: EntryKind
    amount: int = Field(description="Change to the balance (negative: spent or taken)")
    held_change: int = Field(description="Change to what is held")
    balance_after: int
    held_after: int
    idempotency_key: str
    reason: str
    actor_id: uuid.UUID | None
    hold_id: uuid.UUID | None
    expires_at: datetime | None
    created_at: datetime


class AdjustIn(Body):
    """A correction: credits taken (negative) or, by ClosedLoop staff only, given (positive)."""

    amount: whole(-1_000_000_000, 1_000_000_000) = Field(description="Non-zero; negative takes credits away")
    reason: str = Field(min_length=3, max_length=500)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=200, description="Sending the same key again changes nothing more"
    )
