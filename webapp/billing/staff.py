"""Staff's billing reads and actions (all under the audited RLS bypass): the provider event log, re-processing
one event, and every organization's subscription."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing import processing
from webapp.billing.enums import EventStatus, Provider
from webapp.billing.models import PaymentEvent, Subscription
from webapp.core import audit
from webapp.core.errors import NotFound
from webapp.core.tenancy import RequestContext, enable_rls_bypass
from webapp.organizations.models import Organization

PAGE = 100


async def events(
    session: AsyncSession, *, status: EventStatus | None = None, provider: Provider | None = None
) -> list[PaymentEvent]:
    """The newest provider events (a page), optionally of one status or provider."""
    await enable_rls_bypass(session, reason="staff read the billing event log")
    stmt = select(PaymentEvent).order_by(PaymentEvent.received_at.desc(), PaymentEvent.id.desc()).limit(PAGE)
    if status:
        stmt = stmt.where(PaymentEvent.status == status)
    if provider:
        stmt = stmt.where(PaymentEvent.provider == provider)
    return list((await session.execute(stmt)).scalars())


async def reprocess(
    session: AsyncSession, maker: async_sessionmaker, ctx: RequestContext, event_id: uuid.UUID
) -> EventStatus | None:
    """Apply one event again, whatever became of it before (events are hints: applying one twice changes nothing
    a newer state has not already changed); audited."""
    await enable_rls_bypass(session, reason="staff re-process a billing event")
    event = (await session.execute(select(PaymentEvent).where(PaymentEvent.id == event_id))).scalar_one_or_none()
    if event is None:
        raise NotFound("No such event.")
    outcome = await processing.process_event(maker, event_id, force=True)
    await audit.record(
        session, ctx, "billing.event_reprocess", entity_type="billing_payment_event", entity_id=event_id,
        after={"provider": event.provider.value, "event_id": event.event_id, "outcome": str(outcome)},
        organization_id=event.organization_id,
    )  # fmt: skip
    return outcome


async def all_subscriptions(session: AsyncSession) -> list[tuple[Subscription, Organization]]:
    """Every organization's subscription with its organization, by organization name."""
    await enable_rls_bypass(session, reason="staff list every organization's subscription")
    stmt = (
        select(Subscription, Organization)
        .join(Organization, Organization.id == Subscription.organization_id)
        .where(Organization.deleted_at.is_(None))
        .order_by(Organization.name)
        .limit(500)
    )
    return [(sub, org) for sub, org in (await session.execute(stmt)).all()]


async def organization_invoices(session: AsyncSession, org_id: uuid.UUID) -> tuple[Organization, list]:
    """One organization and its invoices and credit notes, for staff."""
    from webapp.billing.invoices import list_invoices

    await enable_rls_bypass(session, reason="staff read an organization's invoices")
    org = (await session.execute(select(Organization).where(Organization.id == org_id))).scalar_one_or_none()
    if org is None:
        raise NotFound("No such organization.")
    return org, await list_invoices(session, org_id)


async def credit(session: AsyncSession, ctx: RequestContext, invoice_id: uuid.UUID, amount_minor: int, reason: str):
    """Issue a credit note against an invoice (audited)."""
    from webapp.billing.invoices import issue_credit_note

    await enable_rls_bypass(session, reason="staff issue a credit note")
    return await issue_credit_note(session, ctx, invoice_id, amount_minor=amount_minor, reason=reason)
