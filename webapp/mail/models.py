"""email_outbox: every message the product sends, written in the sender's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, UUIDPrimaryKey
from webapp.core.enums import pg_enum
from webapp.mail.enums import EmailStatus


class OutboxEmail(UUIDPrimaryKey, Base):
    """One message; a worker delivers it over SMTP after the transaction that queued it commits."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        Index("ix_email_outbox_queued", "created_at", postgresql_where=text("status = 'queued'")),
        Index("ix_email_outbox_to", func.lower(text("to_address")), "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(
        pg_enum(EmailStatus, "email_status"), server_default=EmailStatus.QUEUED.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
