"""The credit ledger. An organization's account holds its balance and what is held of it (reserved for work under
way); every change is an append-only entry recording the change and the resulting balance and held amount, with an
idempotency key unique per organization. Holds are resolved at most once (settled at the actual cost or released).
Credits are whole numbers (one credit: 1/1,000 of a simulation-credit pack)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, TenantOwned, UUIDPrimaryKey
from webapp.core.enums import pg_enum
from webapp.usage.enums import EntryKind, HoldStatus


class CreditAccount(Base):
    """One per organization: the balance and the part of it held; available = balance − held, never negative."""

    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_nonnegative"),
        CheckConstraint("held >= 0 AND held <= balance", name="held_within_balance"),
        CheckConstraint("expiring >= 0 AND expiring <= balance", name="expiring_within_balance"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    held: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # the part of the balance from grants that expire (spent first), and when they do
    expiring: Mapped[int] = mapped_column(BigInteger, server_default="0")
    expiring_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CreditHold(UUIDPrimaryKey, TenantOwned, Base):
    """Credits reserved for one piece of work (a simulation run), resolved at most once."""

    __tablename__ = "credit_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "(status = 'settled') = (settled_amount IS NOT NULL) AND (settled_amount IS NULL OR "
            "(settled_amount >= 0 AND settled_amount <= amount))",
            name="settled_within_hold",
        ),
        CheckConstraint("(status = 'held') = (resolved_at IS NULL)", name="resolved_has_time"),
        Index("uq_credit_holds_subject", "organization_id", "subject", unique=True),
        Index("ix_credit_holds_open", "organization_id", postgresql_where="status = 'held'"),
    )

    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[HoldStatus] = mapped_column(pg_enum(HoldStatus, "credit_hold_status"), server_default="held")
    subject: Mapped[str] = mapped_column(String(120))  # what holds it, e.g. "simulation_run:<id>": one hold each
    description: Mapped[str] = mapped_column(String(200))
    settled_amount: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column()


class CreditEntry(UUIDPrimaryKey, TenantOwned, Base):
    """One change to an account, never updated or deleted (a trigger refuses both; the app role may only insert
    and read)."""

    __tablename__ = "tenant_credit_ledger"
    __table_args__ = (
        Index("uq_tenant_credit_ledger_key", "organization_id", "idempotency_key", unique=True),
        Index("ix_tenant_credit_ledger_org_created", "organization_id", "created_at", "id"),
        CheckConstraint("balance_after >= 0 AND held_after >= 0 AND held_after <= balance_after", name="after_valid"),
        CheckConstraint(
            "(kind IN ('grant', 'purchase') AND amount > 0 AND held_change = 0)"
            " OR (kind IN ('consume', 'expire') AND amount < 0 AND held_change = 0)"
            " OR (kind = 'adjust' AND amount <> 0 AND held_change = 0)"
            " OR (kind = 'hold' AND amount = 0 AND held_change > 0)"
            " OR (kind = 'release' AND amount = 0 AND held_change < 0)"
            " OR (kind = 'settle' AND amount <= 0 AND held_change < 0 AND -amount <= -held_change)",
            name="kind_moves",
        ),
        CheckConstraint("length(reason) BETWEEN 1 AND 500", name="reason_given"),
    )

    kind: Mapped[EntryKind] = mapped_column(pg_enum(EntryKind, "credit_entry_kind"))
    amount: Mapped[int] = mapped_column(BigInteger)  # the change to the balance (negative: spent)
    held_change: Mapped[int] = mapped_column(BigInteger, server_default="0")  # the change to what is held
    balance_after: Mapped[int] = mapped_column(BigInteger)
    held_after: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hold_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("credit_holds.id", ondelete="RESTRICT"))
    expires_at: Mapped[datetime | None] = mapped_column()  # a grant's expiry
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
