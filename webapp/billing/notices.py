"""Billing's emails to the people who pay: a payment failed (and when the organization turns read-only if it stays
unpaid), and a paid subscription ended (the organization is back on the free plan). They go to every active
member whose main role may manage billing — whatever their email preferences, as a payment notice must reach
someone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.billing.models import Subscription
from webapp.config import load_settings
from webapp.core.permissions import Perm
from webapp.organizations.models import Organization
from webapp.settings import queries as settings_queries


async def _tell(session: AsyncSession, sub: Subscription, template: str, **context) -> int:
    from webapp.iam import queries as iam_queries
    from webapp.mail.service import queue_email
    from webapp.organizations.queries import list_members

    org = (await session.execute(select(Organization).where(Organization.id == sub.organization_id))).scalar_one()
    managing = {
        role.id
        for role in await iam_queries.list_roles(session, org.id, with_holders=False)
        if Perm.BILLING_MANAGE in role.permissions
    }
    link = f"{load_settings().base_url}/o/{org.slug}/billing"
    told = 0
    for member in await list_members(session, org.id):
        if member.role_id in managing and member.active:
            await queue_email(session, to=member.email, template=template, user_id=member.user_id, name=member.name,
                              org_name=org.name, link=link, **context)  # fmt: skip
            told += 1
    return told


async def payment_failed(session: AsyncSession, sub: Subscription, plan_name: str) -> int:
    """The subscription went past due: when the organization turns read-only unless paid. How many were told."""
    days = int(await settings_queries.value_of(session, "billing.grace_days"))
    since: datetime = sub.past_due_since
    return await _tell(session, sub, "billing_payment_failed", plan_name=plan_name,
                       read_only_on=(since + timedelta(days=days)).strftime("%d %B %Y"), grace_days=days)  # fmt: skip


async def subscription_ended(session: AsyncSession, sub: Subscription, plan_name: str) -> int:
    """A paid subscription ended: the organization is on the free plan now. How many were told."""
    return await _tell(session, sub, "billing_subscription_ended", plan_name=plan_name)
