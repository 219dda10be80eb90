"""Credit changes people and payments make: a correction (audited), a purchase credited when its payment succeeds
and taken back (as far as it is unspent) when it is refunded."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Forbidden, ValidationError
from webapp.core.tenancy import RequestContext
from webapp.usage import credits
from webapp.usage.enums import EntryKind
from webapp.usage.models import CreditEntry

CREDITS_PER_PACK = 1000  # one simulation-credit pack (billing's one-time product) is 1,000 credits


async def adjust_credits(
    session: AsyncSession, ctx: RequestContext, amount: int, reason: str, key: str | None = None
) -> CreditEntry:
    """Correct the balance: anyone who manages billing may take credits away; only ClosedLoop staff may add them
    (a customer cannot give itself credits). Audited."""
    if amount == 0:
        raise ValidationError.field("amount", "An adjustment changes the balance: give a non-zero amount.")
    if amount > 0 and not ctx.is_platform_admin:
        raise Forbidden("Only ClosedLoop staff can add credits; buy them on the billing page instead.")
    key = f"adjust:{key or uuid.uuid4()}"
    if (done := await credits.find_entry(session, ctx.org_id, key)) is not None:
        return done  # the same request again: already recorded and audited
    entry = await credits.record(
        session, ctx.org_id, EntryKind.ADJUST, amount=amount, key=key,
        reason=reason.strip(), actor_id=ctx.user_id, what="to take away",
    )  # fmt: skip
    await audit.record(
        session, ctx, "credits.adjust", entity_type="credit_entry", entity_id=entry.id,
        after={"amount": amount, "balance_after": entry.balance_after, "reason": entry.reason},
    )  # fmt: skip
    return entry


async def credit_purchase(session: AsyncSession, org_id: uuid.UUID, payment_id: uuid.UUID, packs: int) -> CreditEntry:
    """A succeeded one-time payment's credits (once per payment)."""
    return await credits.record(
        session, org_id, EntryKind.PURCHASE, amount=packs * CREDITS_PER_PACK, key=f"purchase:{payment_id}",
        reason=f"{packs * CREDITS_PER_PACK:,} simulation credits bought",
    )  # fmt: skip


async def take_back_purchase(
    session: AsyncSession, org_id: uuid.UUID, payment_id: uuid.UUID, packs: int
) -> CreditEntry | None:
    """A refunded purchase's credits, as far as they are still available (spent ones stay spent); None when none
    are left to take."""
    available = (await credits.balance_of(session, org_id)).available
    taken = min(packs * CREDITS_PER_PACK, available)
    if taken <= 0:
        return None
    return await credits.record(
        session, org_id, EntryKind.ADJUST, amount=-taken, key=f"refund:{payment_id}",
        reason=f"payment refunded: {taken:,} of {packs * CREDITS_PER_PACK:,} credits taken back",
    )  # fmt: skip


async def staff_change_credits(
    session: AsyncSession, ctx: RequestContext, org_id: uuid.UUID, amount: int, reason: str, key: str
) -> CreditEntry:
    """ClosedLoop staff give credits (a grant) or take them away (an adjustment) for any organization. Audited."""
    from webapp.core.tenancy import enable_rls_bypass

    if amount == 0:
        raise ValidationError.field("amount", "Give a non-zero number of credits.")
    if len(reason.strip()) < 3:
        raise ValidationError.field("reason", "Say why, in a few words: it is kept with the entry.")
    await enable_rls_bypass(session, reason="staff change an organization's credits")
    if (done := await credits.find_entry(session, org_id, f"staff:{key}")) is not None:
        return done  # the same form again: already recorded and audited
    entry = await credits.record(
        session, org_id, EntryKind.GRANT if amount > 0 else EntryKind.ADJUST, amount=amount, key=f"staff:{key}",
        reason=reason.strip(), actor_id=ctx.user_id, what="to take away",
    )  # fmt: skip
    await audit.record(
        session, ctx, "credits.staff_change", entity_type="credit_entry", entity_id=entry.id,
        after={"amount": amount, "balance_after": entry.balance_after, "reason": entry.reason},
        organization_id=org_id,
    )  # fmt: skip
    return entry
