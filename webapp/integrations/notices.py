"""The email an organization's admins get when one of its webhook endpoints is disabled: who may manage webhooks
(every active member whose main role holds webhooks:manage) hears why and where to turn it back on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.config import load_settings
from webapp.core.permissions import Perm
from webapp.integrations.models import WebhookEndpoint
from webapp.organizations.models import Organization

REASONS = {
    "failing": "every delivery to it has failed for five days",
    "gone": "it answered 410 Gone, which asks senders to stop",
}


async def endpoint_disabled(session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> int:
    """Queue the notice to each admin; how many were told."""
    from webapp.iam import queries as iam_queries
    from webapp.mail.service import queue_email
    from webapp.organizations.queries import list_members

    org = (await session.execute(select(Organization).where(Organization.id == endpoint.organization_id))).scalar_one()
    managing = {role.id for role in await iam_queries.list_roles(session, org.id, with_holders=False)
                if Perm.WEBHOOKS_MANAGE in role.permissions}  # fmt: skip
    link = f"{load_settings().base_url}/o/{org.slug}/webhooks/{endpoint.id}"
    told = 0
    for member in await list_members(session, org.id):
        if member.role_id in managing and member.active:
            await queue_email(session, to=member.email, template="webhook_endpoint_disabled", user_id=member.user_id,
                              name=member.name, org_name=org.name, url=endpoint.url, why=REASONS[reason],
                              link=link)  # fmt: skip
            told += 1
    return told
