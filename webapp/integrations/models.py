"""Webhook endpoints, their signing secrets, the outbox of events, deliveries and every attempt (all the
organization's rows under row-level security)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, UUIDPrimaryKey


class WebhookEndpoint(UUIDPrimaryKey, Base):
    """Where an organization wants its events: a URL, the event types it takes (none listed: every type), and
    whether it is enabled. `failing_since` is set by the first failed delivery after a success and cleared by the
    next success; five days of failures disable the endpoint (`disabled_reason` failing; a 410 says gone)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_org", "organization_id", "created_at"),
        CheckConstraint("status IN ('enabled', 'disabled')", name="status_known"),
        CheckConstraint("disabled_reason IN ('manual', 'failing', 'gone')", name="reason_known"),
        CheckConstraint("url ~ '^https?://'", name="url_http"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), server_default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(80)), server_default=text("'{}'"))
    status: Mapped[str] = mapped_column(String(12), server_default="enabled")
    disabled_reason: Mapped[str | None] = mapped_column(String(12))
    disabled_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    version: Mapped[int] = mapped_column(server_default="1")


class WebhookSecret(UUIDPrimaryKey, Base):
    """One signing secret of an endpoint, encrypted with a key derived from SECRET_KEY (signing needs the secret
    itself, so it cannot be hashed). A rotated-out secret keeps signing beside the new one until `expires_at`."""

    __tablename__ = "webhook_secrets"
    __table_args__ = (Index("ix_webhook_secrets_endpoint", "endpoint_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(16))  # whsec_ and the first four characters, to tell secrets apart
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime | None]


class WebhookMessage(UUIDPrimaryKey, Base):
    """One event, written in the transaction of the change it reports (the outbox): `payload` is the exact JSON
    every endpoint receives (`type`, `timestamp`, `data`)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (Index("ix_webhook_messages_org", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class WebhookDelivery(UUIDPrimaryKey, Base):
    """One message to one endpoint: pending (an attempt is due at `next_attempt_at`), succeeded, or failed once
    the retry schedule is exhausted (or the endpoint was disabled); replay and recovery make it pending again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_messages.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    finished_at: Mapped[datetime | None]


class WebhookAttempt(UUIDPrimaryKey, Base):
    """One HTTP request to an endpoint: what was sent, what came back (status and the first 1,000 characters),
    how long it took, and why it failed. The delivery log reads these."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "started_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(12))  # schedule, replay, recover, test
    url: Mapped[str] = mapped_column(String(2000))
    address: Mapped[str | None] = mapped_column(String(64))  # the resolved address the request was pinned to
    request_headers: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    succeeded: Mapped[bool]
    duration_ms: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
