"""Queue emails in the caller's transaction; deliver them over SMTP from a worker."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.config import Settings
from webapp.core.ids import new_id
from webapp.core.transaction import after_commit, unit_of_work
from webapp.mail.enums import EmailStatus
from webapp.mail.models import OutboxEmail
from webapp.mail.render import render_email

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=1)


async def queue_email(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    user_id: uuid.UUID | None = None,
    **context,
) -> OutboxEmail:
    """Render `template` into the outbox; a worker sends it once this transaction commits."""
    rendered = render_email(template, **context)
    email = OutboxEmail(
        id=new_id(),
        user_id=user_id,
        to_address=to,
        template=template,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
    )
    session.add(email)

    async def enqueue() -> None:
        from webapp.mail.tasks import send_email  # the task module imports this one

        await send_email.kiq(str(email.id))

    after_commit(session, enqueue)
    return email


def _smtp_options(smtp_url: str) -> dict:
    """aiosmtplib keyword arguments from smtp://, smtp+starttls:// or smtps:// URLs."""
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtp+starttls", "smtps"):
        raise ValueError(f"SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, not {url.scheme}://")
    options = {
        "hostname": url.hostname or "localhost",
        "port": url.port or {"smtps": 465, "smtp+starttls": 587}.get(url.scheme, 25),
        "use_tls": url.scheme == "smtps",
        "start_tls": url.scheme == "smtp+starttls",
        "timeout": 20,
    }
    if url.username:
        options.update(username=unquote(url.username), password=unquote(url.password or ""))
    return options


def _message(email: OutboxEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, email.to_address, email.subject
    message["Message-ID"] = make_msgid(idstring=str(email.id), domain="closedloop")
    message.set_content(email.text_body)
    message.add_alternative(email.html_body, subtype="html")
    return message


async def deliver_email(maker: async_sessionmaker, settings: Settings, email_id: uuid.UUID) -> EmailStatus | None:
    """Send one queued email; safe to call twice (a row already sent or being sent is skipped)."""
    async with unit_of_work(maker) as session:
        stmt = select(OutboxEmail).where(OutboxEmail.id == email_id, OutboxEmail.status == EmailStatus.QUEUED)
        email = (await session.execute(stmt.with_for_update(skip_locked=True))).scalar_one_or_none()
        if email is None:
            return None
        from webapp.privacy.marketing import still_consents  # privacy sends through this module

        if not await still_consents(session, email.template, email.user_id):
            email.status, email.text_body, email.html_body = EmailStatus.WITHHELD, "(withheld)", "(withheld)"
            return email.status
        email.attempts += 1
        if not settings.smtp_url:
            email.status = EmailStatus.KEPT  # no SMTP server: the dev outbox page shows it
            return email.status
        try:
            await aiosmtplib.send(_message(email, settings.mail_from), **_smtp_options(settings.smtp_url))
        except (aiosmtplib.SMTPException, OSError) as exc:
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= MAX_ATTEMPTS:
                email.status = EmailStatus.FAILED
            log.warning("email %s not delivered (attempt %s): %s", email.id, email.attempts, email.last_error)
            return email.status
        email.status, email.sent_at, email.last_error = EmailStatus.SENT, datetime.now(UTC), None
        if settings.is_production:  # links in bodies are live credentials until they expire
            email.text_body = email.html_body = "(delivered; body removed)"
        return email.status


async def deliver_due(maker: async_sessionmaker, settings: Settings, *, limit: int = 100) -> int:
    """Retry queued emails older than a minute (failed attempts, or a task that was lost)."""
    async with maker() as session:
        cutoff = datetime.now(UTC) - RETRY_AFTER
        ids = (
            (
                await session.execute(
                    select(OutboxEmail.id)
                    .where(OutboxEmail.status == EmailStatus.QUEUED, OutboxEmail.created_at < cutoff)
                    .order_by(OutboxEmail.created_at)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    for email_id in ids:
        await deliver_email(maker, settings, email_id)
    return len(ids)
