"""Recording usage events: a batch of up to 1,000, each validated on its own — a bad event is reported by its index
and the good ones are stored — and stored in one statement that also claims each `transaction_id` (a repeat is
accepted and ignored, whatever month it names) and marks the hours whose rollups it makes stale."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticError
from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.settings.registry import REGISTRY

MAX_BATCH = 1000
FUTURE_SLACK = timedelta(minutes=5)  # clocks of the services that send events drift a little

PropertyKey = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
PropertyValue = Annotated[str, Field(max_length=200)] | int | float | bool | None


class UsageEventIn(BaseModel):
    """One usage event (Lago's shape, with the organization named by id)."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: str = Field(
        min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Idempotency key, unique per organization: sending it again is accepted and ignored",
    )  # fmt: skip
    organization_id: uuid.UUID
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$", description="A billable metric's code")
    quantity: Decimal = Field(
        default=Decimal(1), ge=0, le=Decimal(10**12), max_digits=19, decimal_places=6,
        description="A number or a decimal string, at most 6 places; 1 when left out",
    )  # fmt: skip
    timestamp: AwareDatetime = Field(
        description="When it happened: ISO 8601 with an offset, or Unix seconds; at most `usage.late_days` old"
    )
    properties: dict[PropertyKey, PropertyValue] = Field(default_factory=dict, max_length=16)


_EVENTS = TypeAdapter(list[UsageEventIn])


@dataclass
class Rejected:
    """Why one event of a batch was not stored."""

    index: int
    fields: dict[str, list[str]]
    transaction_id: str | None = None


@dataclass
class Outcome:
    """What became of a batch."""

    received: int
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _validate(items: list[Any]) -> tuple[list[tuple[int, UsageEventIn]], list[Rejected]]:
    try:  # the common case: the whole batch is good, checked in one call
        return list(enumerate(_EVENTS.validate_python(items))), []
    except PydanticError:
        pass
    good, bad = [], []
    for index, item in enumerate(items):
        try:
            good.append((index, UsageEventIn.model_validate(item)))
        except PydanticError as exc:
            fields: dict[str, list[str]] = {}
            for error in exc.errors():
                fields.setdefault(".".join(str(p) for p in error["loc"]) or "event", []).append(error["msg"])
            tx = item.get("transaction_id") if isinstance(item, dict) else None
            bad.append(Rejected(index, fields, tx if isinstance(tx, str) else None))
    return good, bad


# what a batch is checked against, in one read (late_days: the platform's setting as text, NULL when unset)
_FACTS = text("""
    SELECT (SELECT array_agg(code) FROM usage_billable_metrics) AS codes,
           (SELECT array_agg(id) FROM organizations WHERE id = ANY(CAST(:orgs AS uuid[]))) AS orgs,
           (SELECT value #>> '{}' FROM settings WHERE key = 'usage.late_days' AND scope = 'system') AS late_days,
           now() AS now
""")
_LATE_DAYS = REGISTRY["usage.late_days"]

# One statement: duplicates within the batch fold into the first; a key already claimed (in any month) stores
# nothing; each stale hour is marked with DO UPDATE, which locks its row until commit — so a rollup that clears it
# waits for these events to be visible instead of clearing it past them (sorted, so two batches never deadlock).
_STORE = text("""
    WITH input AS (
        SELECT DISTINCT ON (org, tx) org, tx, code, qty, ts, props
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:txs AS text[]), CAST(:codes AS text[]),
                    CAST(:qtys AS numeric[]), CAST(:tss AS timestamptz[]), CAST(:props AS text[]),
                    CAST(:idx AS integer[])) AS t(org, tx, code, qty, ts, props, idx)
        ORDER BY org, tx, idx
    ), claimed AS (
        INSERT INTO usage_transaction_keys (organization_id, transaction_id, occurred_at)
        SELECT org, tx, ts FROM input
        ON CONFLICT DO NOTHING
        RETURNING organization_id, transaction_id
    ), stored AS (
        INSERT INTO usage_metered_usage
            (organization_id, transaction_id, occurred_at, metric_code, quantity, properties)
        SELECT i.org, i.tx, i.ts, i.code, i.qty, CAST(i.props AS jsonb)
        FROM input i JOIN claimed c ON c.organization_id = i.org AND c.transaction_id = i.tx
        RETURNING organization_id, metric_code, occurred_at
    ), stale AS (
        INSERT INTO usage_dirty_windows AS d (organization_id, metric_code, hour_start)
        SELECT DISTINCT organization_id, metric_code, date_trunc('hour', occurred_at, 'UTC') FROM stored
        ORDER BY 1, 2, 3
        ON CONFLICT (organization_id, metric_code, hour_start) DO UPDATE SET marked_at = now()
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored) AS stored, (SELECT count(*) FROM stale) AS stale
""")


async def record(session: AsyncSession, items: list[Any]) -> Outcome:
    """Validate and store a batch of usage events (the caller has bypassed RLS: a batch may span organizations)."""
    outcome = Outcome(received=len(items))
    good, outcome.rejected = _validate(items)
    if good:
        orgs = sorted(str(org) for org in {event.organization_id for _, event in good})
        facts = (await session.execute(_FACTS, {"orgs": orgs})).one()
        late_days = int(_LATE_DAYS.default if facts.late_days is None else _LATE_DAYS.from_json(facts.late_days))
        good = _check_facts(good, outcome, set(facts.codes or ()), set(facts.orgs or ()), facts.now, late_days)
    if good:
        params = {
            "orgs": [e.organization_id for _, e in good], "txs": [e.transaction_id for _, e in good],
            "codes": [e.code for _, e in good], "qtys": [e.quantity for _, e in good],
            "tss": [e.timestamp for _, e in good], "idx": [i for i, _ in good],
            "props": [to_json(e.properties).decode() for _, e in good],
        }  # fmt: skip
        outcome.stored = int((await session.execute(_STORE, params)).one().stored)
        outcome.duplicates = len(good) - outcome.stored
    outcome.rejected.sort(key=lambda r: r.index)
    return outcome


def _check_facts(
    good: list[tuple[int, UsageEventIn]],
    outcome: Outcome,
    codes: set[str],
    orgs: set[uuid.UUID],
    now: datetime,
    late_days: int,
) -> list[tuple[int, UsageEventIn]]:
    earliest, latest = now - timedelta(days=late_days), now + FUTURE_SLACK
    kept = []
    for index, event in good:
        fields: dict[str, list[str]] = {}
        if event.organization_id not in orgs:
            fields["organization_id"] = ["No such organization."]
        if event.code not in codes:
            fields["code"] = [f"No billable metric has this code; known: {', '.join(sorted(codes))}."]
        if event.timestamp < earliest:
            fields["timestamp"] = [f"Older than {late_days} days: usage that late is no longer accepted."]
        elif event.timestamp > latest:
            fields["timestamp"] = ["In the future."]
        if fields:
            outcome.rejected.append(Rejected(index, fields, event.transaction_id))
        else:
            kept.append((index, event))
    return kept
