"""Product news by email — only to people whose latest word about it is yes. Consent is read twice: when the news
is queued, and again by the worker just before each message goes out, so a withdrawal stops what is already queued."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.tenancy import enable_rls_bypass
from webapp.identity.enums import UserStatus
from webapp.identity.models import User
from webapp.mail.service import queue_email
from webapp.privacy import consents
from webapp.privacy.enums import PolicyDocument

# outbox templates that go out only with a consent, and the document that gives it (webapp.mail.service reads it)
CONSENT_FOR_TEMPLATE = {"product_news": PolicyDocument.MARKETING_EMAIL}
MAX_SUBJECT, MAX_TEXT = 150, 20_000


async def send_product_news(session: AsyncSession, subject: str, text: str, *, base_url: str) -> int:
    """Queue the news to every active person who said yes to product news; how many were queued."""
    subject, text = subject.strip(), text.strip()
    if not 1 <= len(subject) <= MAX_SUBJECT or not 1 <= len(text) <= MAX_TEXT:
        raise ValueError(f"Give a subject (at most {MAX_SUBJECT} characters) and a text (at most {MAX_TEXT:,}).")
    await enable_rls_bypass(session, reason="product news: find the people who asked for it")
    people = (
        await session.execute(select(User.id, User.email, User.name).where(User.status == UserStatus.ACTIVE))
    ).all()
    yes = await consents.consenting(session, [p.id for p in people], PolicyDocument.MARKETING_EMAIL)
    queued = 0
    for person in people:
        if person.id in yes:
            await queue_email(
                session, to=person.email, template="product_news", user_id=person.id, name=person.name,
                subject=subject, text=text, link=f"{base_url}/me/privacy",
            )  # fmt: skip
            queued += 1
    return queued


async def still_consents(session: AsyncSession, template: str, user_id) -> bool:
    """Whether an email of `template` may still go to `user_id` (always, for templates that need no consent)."""
    document = CONSENT_FOR_TEMPLATE.get(template)
    if document is None:
        return True
    if user_id is None:
        return False
    await enable_rls_bypass(session, reason="mail: is the consent for this email still given")
    return user_id in await consents.consenting(session, [user_id], document)
