"""Invoices: recorded from the provider's finalized invoices (lines by kind, amounts summed by the database into the
columns its CHECKs hold together), numbered per organization without gaps, never changed once finalized but for
their payment status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing import subscriptions
from webapp.billing.enums import InvoiceKind, InvoiceStatus, LineKind, Provider
from webapp.billing.models import Invoice, InvoiceLine, Plan, Subscription
from webapp.core.errors import NotFound
from webapp.core.ids import new_id

# a finalized invoice's status may still move on (the trigger in migration 0017 holds the same rule)
NEXT_STATUS = {
    InvoiceStatus.OPEN: {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE},
    InvoiceStatus.UNCOLLECTIBLE: {InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.PAID: set(),
    InvoiceStatus.VOID: set(),
}

# the amounts are the lines' sums, and the number the next of the organization's (the caller holds the
# subscription's row lock, so two invoices of one organization never take the same number)
_FINALIZE = text("""
    UPDATE billing_invoices i SET
        subscription_amount = s.subscription, usage_amount = s.usage, proration_amount = s.proration,
        refund_amount = least(s.refund, s.subscription + s.usage + s.proration),
        total_amount = s.subscription + s.usage + s.proration - least(s.refund, s.subscription + s.usage + s.proration),
        number = (SELECT coalesce(max(number), 0) + 1 FROM billing_invoices WHERE organization_id = i.organization_id),
        finalized_at = now()
    FROM (
        SELECT coalesce(sum(amount) FILTER (WHERE kind = 'subscription'), 0) AS subscription,
               coalesce(sum(amount) FILTER (WHERE kind = 'usage'), 0) AS usage,
               coalesce(sum(amount) FILTER (WHERE kind = 'proration'), 0) AS proration,
               coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0) AS refund
        FROM billing_invoice_lines WHERE invoice_id = :id
    ) s
    WHERE i.id = :id AND i.finalized_at IS NULL
""")


@dataclass(frozen=True)
class Line:
    """A line as a provider reports it."""

    kind: LineKind
    description: str
    quantity: int
    amount: int  # minor units, never negative (money given back is a REFUND line)


@dataclass(frozen=True)
class ProviderInvoice:
    """A provider's finalized invoice, read from its event."""

    provider: Provider
    reference: str
    status: InvoiceStatus
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    lines: tuple[Line, ...]
    paid_at: datetime | None
    plan_id: uuid.UUID | None = None  # the plan it bills, when the provider says (our metadata on its objects)


async def record(session: AsyncSession, sub: Subscription, found: ProviderInvoice) -> Invoice:
    """The invoice for the provider's one: created (lines, sums, number) the first time, its status moved on later;
    an event carrying an older status than the one recorded changes nothing."""
    stmt = select(Invoice).where(Invoice.provider == found.provider, Invoice.provider_invoice_id == found.reference)
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is not None:
        if found.status in NEXT_STATUS[existing.status]:
            existing.status = found.status
            existing.paid_at = found.paid_at if found.status == InvoiceStatus.PAID else existing.paid_at
            await session.flush()
            if existing.status == InvoiceStatus.PAID:
                await _tell_endpoints(session, existing, "invoice.paid")
        return existing
    start = found.period_start or sub.current_period_start
    end = found.period_end if found.period_end and found.period_end > start else sub.current_period_end
    if end <= start:
        end = subscriptions.period_after(start, sub.interval)
    return await _issue(
        session, sub, status=found.status, provider=found.provider, reference=found.reference,
        plan_id=await _plan_of(session, found, sub), currency=found.currency, start=start, end=end,
        lines=found.lines, paid_at=found.paid_at if found.status == InvoiceStatus.PAID else None,
    )  # fmt: skip


async def issue_own(
    session: AsyncSession, sub: Subscription, *, plan_id: uuid.UUID, currency: str, start: datetime, end: datetime,
    lines: list[Line],
) -> Invoice:  # fmt: skip
    """An invoice ClosedLoop issues itself (usage beyond the plan at a period's close), open until paid; the
    caller holds the subscription's row lock (numbers are the organization's, without gaps)."""
    return await _issue(
        session, sub, status=InvoiceStatus.OPEN, provider=None, reference=None, plan_id=plan_id, currency=currency,
        start=start, end=end, lines=lines, paid_at=None,
    )  # fmt: skip


async def _issue(
    session: AsyncSession, sub: Subscription, *, status: InvoiceStatus, provider: Provider | None,
    reference: str | None, plan_id: uuid.UUID, currency: str, start: datetime, end: datetime, lines, paid_at,
) -> Invoice:  # fmt: skip
    invoice = Invoice(
        id=new_id(), organization_id=sub.organization_id, subscription_id=sub.id, status=status, provider=provider,
        provider_invoice_id=reference, plan_id=plan_id, currency=currency, period_start=start, period_end=end,
        paid_at=paid_at,
    )  # fmt: skip
    session.add(invoice)
    await session.flush()
    for position, line in enumerate(lines, start=1):
        session.add(
            InvoiceLine(
                id=new_id(), organization_id=sub.organization_id, invoice_id=invoice.id, position=position,
                kind=line.kind, description=line.description[:300], quantity=line.quantity, amount=line.amount,
            )
        )  # fmt: skip
    await session.flush()
    await session.execute(_FINALIZE, {"id": invoice.id})
    await session.refresh(invoice, attribute_names=None)
    await _tell_endpoints(session, invoice, "invoice.finalized")
    if invoice.status == InvoiceStatus.PAID:
        await _tell_endpoints(session, invoice, "invoice.paid")
    return invoice


async def _tell_endpoints(session: AsyncSession, invoice: Invoice, event_type: str) -> None:
    """The organization's webhook endpoints hear of a finalized or paid invoice."""
    from webapp.integrations import outbox

    await outbox.emit(session, invoice.organization_id, event_type, {
        "id": invoice.id, "number": invoice.number, "kind": invoice.kind, "status": invoice.status,
        "currency": invoice.currency, "total_amount": invoice.total_amount, "period_start": invoice.period_start,
        "period_end": invoice.period_end, "paid_at": invoice.paid_at, "corrects_id": invoice.corrects_id,
    })  # fmt: skip


async def _plan_of(session: AsyncSession, found: ProviderInvoice, sub: Subscription) -> uuid.UUID:
    # an invoice can arrive before the subscription's own news: the plan it names wins over the one held now
    if found.plan_id and (await session.execute(select(Plan.id).where(Plan.id == found.plan_id))).scalar_one_or_none():
        return found.plan_id
    return sub.plan_id


async def list_invoices(session: AsyncSession, org_id: uuid.UUID) -> list[Invoice]:
    """The organization's invoices and credit notes, newest first."""
    stmt = (
        select(Invoice)
        .where(Invoice.organization_id == org_id, Invoice.finalized_at.is_not(None))
        .order_by(Invoice.number.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def get_invoice(session: AsyncSession, org_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    """One of the organization's invoices; NotFound otherwise."""
    stmt = select(Invoice).where(
        Invoice.id == invoice_id, Invoice.organization_id == org_id, Invoice.finalized_at.is_not(None)
    )
    invoice = (await session.execute(stmt)).scalar_one_or_none()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def display_number(org_slug: str, invoice: Invoice) -> str:
    """How people read an invoice's number: CL-LUNAR-0007 (CN- for a credit note)."""
    prefix = "CN" if invoice.kind == "credit_note" else "CL"
    return f"{prefix}-{org_slug.upper()[:12]}-{invoice.number:04d}"


async def credited_so_far(session: AsyncSession, invoice_id: uuid.UUID) -> int:
    """What credit notes have already given back of an invoice."""
    stmt = select(func.coalesce(func.sum(Invoice.total_amount), 0)).where(
        Invoice.corrects_id == invoice_id, Invoice.kind == InvoiceKind.CREDIT_NOTE
    )
    return int((await session.execute(stmt)).scalar_one())


async def issue_credit_note(
    session: AsyncSession, ctx, invoice_id: uuid.UUID, *, amount_minor: int, reason: str
) -> Invoice:
    """Correct a finalized invoice by crediting part or all of it (never more than is left); the credit note is a
    document of its own, numbered in the organization's sequence, and the invoice itself stays as it was."""
    from webapp.core import audit
    from webapp.core.errors import ValidationError

    original = (await session.execute(select(Invoice).where(Invoice.id == invoice_id))).scalar_one_or_none()
    if original is None or original.finalized_at is None or original.kind != InvoiceKind.INVOICE:
        raise NotFound("No such invoice.")
    sub = await subscriptions.get_subscription(session, original.organization_id, lock=True)  # the numbering lock
    left = original.total_amount - await credited_so_far(session, original.id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError.field("reason", "Say why the invoice is corrected (it is printed on the credit note).")
    if not 1 <= amount_minor <= left:
        raise ValidationError.field("amount", f"Credit between 0.01 and {left / 100:,.2f} {original.currency}.")
    note = Invoice(
        id=new_id(), organization_id=original.organization_id, subscription_id=sub.id, kind=InvoiceKind.CREDIT_NOTE,
        corrects_id=original.id, status=InvoiceStatus.PAID, provider=original.provider, plan_id=original.plan_id,
        currency=original.currency, period_start=original.period_start, period_end=original.period_end,
        paid_at=subscriptions.now(),
    )  # fmt: skip
    session.add(note)
    await session.flush()
    session.add(
        InvoiceLine(
            id=new_id(), organization_id=note.organization_id, invoice_id=note.id, position=1,
            kind=LineKind.SUBSCRIPTION, description=f"Credit for invoice {original.number}: {reason}"[:300],
            quantity=1, amount=amount_minor,
        )
    )  # fmt: skip
    await session.flush()
    await session.execute(_FINALIZE, {"id": note.id})
    await session.refresh(note)
    await audit.record(
        session, ctx, "billing.credit_note", entity_type="billing_invoice", entity_id=note.id,
        after={"corrects": original.id, "amount_minor": amount_minor, "reason": reason},
        organization_id=note.organization_id,
    )  # fmt: skip
    return note
