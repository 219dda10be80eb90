"""Detection rules: bursts of security events become incidents. Each rule groups recent events no incident holds
yet by a subject (an address, an account, a provider); a group that reaches the rule's threshold opens an incident,
and while that incident is live (open, investigating, contained) later events of the same subject join it instead
of opening another. Runs every minute (task security.detect_incidents); one run at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.security import incidents
from webapp.security.enums import ACTIVE_INCIDENT, IncidentSeverity, SecurityEventType
from webapp.security.models import SecurityIncident


@dataclass(frozen=True)
class Rule:
    """One detection rule: which events, grouped by what, how many (and how many distinct) within the window."""

    key: str
    event_type: SecurityEventType
    subject: str  # SQL over the event row `e`: what a burst is about
    title: str  # with {subject}
    severity: IncidentSeverity
    threshold: int
    window: timedelta
    distinct: str | None = None  # SQL: a burst must also span this many different values …
    min_distinct: int = 1  # … at least
    description: str = ""


RULES = (
    Rule(
        "failed_signins_one_address", SecurityEventType.LOGIN_FAILED, "host(e.ip)",
        "Failed sign-ins across accounts from {subject}", IncidentSeverity.SEV3, threshold=10,
        window=timedelta(minutes=10), distinct="lower(e.metadata->>'email')", min_distinct=3,
        description="10 or more failed sign-ins within 10 minutes from one address, naming at least 3 different "
                    "accounts: password spraying or credential stuffing.",
    ),
    Rule(
        "refresh_token_reuse", SecurityEventType.TOKEN_REUSE, "e.user_id::text",
        "A rotated refresh token was used again (account {subject})", IncidentSeverity.SEV2, threshold=1,
        window=timedelta(hours=1),
        description="Any reuse of a rotated refresh token: the token family was copied; its session is already "
                    "revoked, someone must find out how it leaked.",
    ),
    Rule(
        "webhook_signature_failures", SecurityEventType.WEBHOOK_REJECTED, "e.metadata->>'provider'",
        "Repeated webhook signature failures ({subject})", IncidentSeverity.SEV3, threshold=5,
        window=timedelta(minutes=10),
        description="5 or more rejected payment-provider webhooks within 10 minutes from one provider: a forged "
                    "sender, or a rotated secret we do not have.",
    ),
    Rule(
        "break_glass_use", SecurityEventType.BREAK_GLASS_ACTIVATED,
        "coalesce(e.metadata->>'activation_id', e.id::text)",
        "Break-glass access activated ({subject})", IncidentSeverity.SEV4, threshold=1, window=timedelta(hours=1),
        description="Every approved break-glass activation (organization or staff): emergency access is reviewed "
                    "as an incident.",
    ),
)  # fmt: skip
RULES_BY_KEY = {r.key: r for r in RULES}
_LOCK = 0x5EC1D7  # pg_advisory_xact_lock key: one detection run at a time across workers


def _burst_query(rule: Rule):
    distinct = f"count(DISTINCT {rule.distinct})" if rule.distinct else "count(*)"
    return text(f"""
        SELECT {rule.subject} AS subject, array_agg(e.id ORDER BY e.created_at) AS ids, min(e.created_at) AS first,
               count(*) AS events, {distinct} AS spread
        FROM security_events e
        WHERE e.event_type = :event_type AND e.created_at > :since AND e.created_at <= :now
          AND {rule.subject} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM security_incident_events l WHERE l.event_id = e.id)
        GROUP BY 1
    """)  # noqa: S608 - every fragment is a constant of RULES


async def live_incident(session: AsyncSession, dedupe_key: str) -> SecurityIncident | None:
    """The open, investigating or contained incident a rule opened for this subject, if any."""
    from sqlalchemy import select

    return (
        await session.execute(
            select(SecurityIncident).where(
                SecurityIncident.dedupe_key == dedupe_key, SecurityIncident.status.in_(ACTIVE_INCIDENT)
            )
        )
    ).scalar_one_or_none()


async def detect(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """Run every rule once; returns per rule how many incidents it opened. The caller opens the bypass."""
    now = now or datetime.now(UTC)
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    opened = {}
    for rule in RULES:
        opened[rule.key] = 0
        groups = await session.execute(
            _burst_query(rule), {"event_type": str(rule.event_type), "since": now - rule.window, "now": now}
        )
        for group in groups.all():
            dedupe_key = f"{rule.key}:{group.subject}"[:200]
            live = await live_incident(session, dedupe_key)
            if live is not None:
                added = await incidents.link_events(session, live.id, group.ids)
                if added:
                    await incidents.note_rule(session, live.id, f"{added} more event(s) of the same burst")
                continue
            if group.events < rule.threshold or group.spread < rule.min_distinct:
                continue
            await incidents.report(
                session, None, title=rule.title.format(subject=group.subject), severity=rule.severity,
                detected_at=group.first, summary=f"Opened by the rule “{rule.key}”: {rule.description}",
                event_ids=group.ids, rule=rule.key, dedupe_key=dedupe_key,
            )  # fmt: skip
            opened[rule.key] += 1
    return opened
