"""The credit ledger's writes. Every change is one conditional UPDATE of the organization's account — it passes
only when the balance and the held amount stay valid (available = balance − held never below zero), which is
race-free per row under READ COMMITTED (a concurrent update waits, then re-checks the condition on the new row) —
and one appended entry with the resulting figures. An idempotency key unique per organization makes every change
happen once: a repeat returns the first entry. Holds are resolved at most once (their own conditional UPDATE)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.errors import PaymentRequired
from webapp.core.ids import new_id
from webapp.usage.enums import EntryKind, HoldStatus
from webapp.usage.models import CreditAccount, CreditEntry, CreditHold

# the change passes only if the account stays valid: balance >= 0, 0 <= held <= balance. Spending takes the
# expiring part first; an expiring grant adds to it (and names when it expires).
_MOVE = text(
    "UPDATE credit_accounts SET balance = balance + :amount, held = held + :held_change, "
    "expiring = least(balance + :amount, greatest(0, expiring + :expiring_added + least(:amount, 0))), "
    "expiring_until = coalesce(CAST(:expires_at AS timestamptz), expiring_until), updated_at = now() "
    "WHERE organization_id = :org AND balance + :amount >= 0 AND held + :held_change >= 0 "
    "AND held + :held_change <= balance + :amount RETURNING balance, held"
)
_OPEN = text("INSERT INTO credit_accounts (organization_id) VALUES (:org) ON CONFLICT DO NOTHING")
_UNIQUE_KEY = "uq_tenant_credit_ledger_key"


@dataclass(frozen=True)
class Balance:
    """An account as it stands: the balance, what is held of it, and what is available."""

    balance: int
    held: int

    @property
    def available(self) -> int:
        """What can be spent or held now."""
        return self.balance - self.held


async def balance_of(session: AsyncSession, org_id: uuid.UUID) -> Balance:
    """The organization's account (zero when it has never had credits)."""
    found = (await session.execute(select(CreditAccount).where(CreditAccount.organization_id == org_id))).scalar()
    return Balance(found.balance, found.held) if found else Balance(0, 0)


async def find_entry(session: AsyncSession, org_id: uuid.UUID, key: str) -> CreditEntry | None:
    """The entry recorded under `key`, or None."""
    stmt = select(CreditEntry).where(CreditEntry.organization_id == org_id, CreditEntry.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _short(session: AsyncSession, org_id: uuid.UUID, needed: int, what: str) -> PaymentRequired:
    now = await balance_of(session, org_id)
    return PaymentRequired(
        f"Not enough credits {what}: {needed:,} needed, {now.available:,} available.",
        {"limit": "credits", "needed": needed, "available": now.available, "shortfall": needed - now.available,
         "balance": now.balance, "held": now.held},
    )  # fmt: skip


async def record(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: EntryKind,
    *,
    amount: int = 0,
    held_change: int = 0,
    key: str,
    reason: str,
    actor_id: uuid.UUID | None = None,
    hold_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
    what: str = "",
) -> CreditEntry:
    """Apply one change to the account and append its entry; the first entry again when `key` was used before.
    A grant with `expires_at` is expiring credit (spent before the rest). PaymentRequired (402, with the
    shortfall) when the account cannot take it."""
    if (found := await find_entry(session, org_id, key)) is not None:
        return found
    try:
        async with session.begin_nested():
            await session.execute(_OPEN, {"org": org_id})
            expiring_added = amount if expires_at is not None and amount > 0 else 0
            moved = await session.execute(
                _MOVE,
                {"org": org_id, "amount": amount, "held_change": held_change, "expiring_added": expiring_added,
                 "expires_at": expires_at if expiring_added else None},
            )  # fmt: skip
            row = moved.one_or_none()
            if row is None:
                raise await _short(session, org_id, -(amount - held_change), what)
            entry = CreditEntry(
                id=new_id(), organization_id=org_id, kind=kind, amount=amount, held_change=held_change,
                balance_after=row.balance, held_after=row.held, idempotency_key=key, reason=reason[:500],
                actor_id=actor_id, hold_id=hold_id, expires_at=expires_at,
            )  # fmt: skip
            session.add(entry)
            await session.flush()
    except IntegrityError as exc:  # the same key at the same moment: the other one won, and its entry stands
        if _UNIQUE_KEY not in str(exc.orig):
            raise
        return await find_entry(session, org_id, key)
    return entry


async def hold(
    session: AsyncSession, org_id: uuid.UUID, amount: int, *, subject: str, description: str,
    actor_id: uuid.UUID | None = None,
) -> CreditHold:  # fmt: skip
    """Reserve `amount` for `subject` (once: a second hold for it returns the first); 402 when too few are
    available."""
    existing = await _hold_of(session, org_id, subject)
    if existing is not None:
        return existing
    held = CreditHold(id=new_id(), organization_id=org_id, amount=amount, subject=subject, description=description)
    try:
        async with session.begin_nested():  # a refused hold leaves no row behind
            session.add(held)
            await session.flush()
            await record(session, org_id, EntryKind.HOLD, held_change=amount, key=f"hold:{subject}",
                         reason=description, actor_id=actor_id, hold_id=held.id, what=f"for {description}")  # fmt: skip
    except IntegrityError as exc:  # the same subject held at the same moment: that hold stands
        if "uq_credit_holds_subject" not in str(exc.orig):
            raise
        session.expunge(held)
        return await _hold_of(session, org_id, subject)
    return held


async def _hold_of(session: AsyncSession, org_id: uuid.UUID, subject: str) -> CreditHold | None:
    stmt = select(CreditHold).where(CreditHold.organization_id == org_id, CreditHold.subject == subject)
    return (await session.execute(stmt)).scalar_one_or_none()


_RESOLVE = text(
    "UPDATE credit_holds SET status = :status, settled_amount = :settled, resolved_at = now() "
    "WHERE organization_id = :org AND subject = :subject AND status = 'held' RETURNING id, amount, description"
)


async def settle(session: AsyncSession, org_id: uuid.UUID, subject: str, cost: int) -> CreditEntry | None:
    """Charge the hold at the actual cost (at most what was held: the estimate is the ceiling) and give back the
    rest, in one entry. None when there is no open hold (already resolved, or never made): nothing happens twice."""
    return await _resolve(session, org_id, subject, HoldStatus.SETTLED, cost)


async def release(session: AsyncSession, org_id: uuid.UUID, subject: str) -> CreditEntry | None:
    """Give the whole hold back (canceled or failed work); None when there is no open hold."""
    return await _resolve(session, org_id, subject, HoldStatus.RELEASED, None)


async def _resolve(session, org_id, subject: str, status: HoldStatus, cost: int | None) -> CreditEntry | None:
    params = {"org": org_id, "subject": subject, "status": status.value, "settled": None}
    if cost is not None:  # the settled amount is known only against the hold's own amount: read it under the lock
        found = await session.execute(
            text("SELECT amount FROM credit_holds WHERE organization_id = :org AND subject = :subject FOR UPDATE"),
            {"org": org_id, "subject": subject},
        )
        amount = found.scalar()
        if amount is None:
            return None
        params["settled"] = max(0, min(cost, amount))
    row = (await session.execute(_RESOLVE, params)).one_or_none()
    if row is None:
        return None
    charged = params["settled"] or 0
    kind = EntryKind.SETTLE if status == HoldStatus.SETTLED else EntryKind.RELEASE
    reason = f"{row.description}: {charged:,} of {row.amount:,} charged" if cost is not None else row.description
    return await record(session, org_id, kind, amount=-charged, held_change=-row.amount, key=f"{kind}:{subject}",
                        reason=reason, hold_id=row.id)  # fmt: skip


async def lock_account(session: AsyncSession, org_id: uuid.UUID) -> CreditAccount:
    """The organization's account (opened if need be), locked until commit."""
    await session.execute(_OPEN, {"org": org_id})
    stmt = (
        select(CreditAccount)
        .where(CreditAccount.organization_id == org_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()
