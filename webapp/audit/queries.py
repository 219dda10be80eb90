"""Reading the audit log: one organization's rows (its admins) or every organization's (staff), filtered by entity,
actor, impersonator, action, time range and address, newest first, paged by cursor — and the same rows streamed
for export."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from sqlalchemy import bindparam, cast, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import aliased

from webapp.core.audit import AuditLog
from webapp.core.errors import BadRequest
from webapp.core.listing import Filter, Listing, by_id
from webapp.identity.models import User
from webapp.organizations.models import Organization

Actor = aliased(User, name="actor")
Impersonator = aliased(User, name="impersonator")

COLUMNS = (
    AuditLog.id, AuditLog.created_at, AuditLog.organization_id, AuditLog.action, AuditLog.entity_type,
    AuditLog.entity_id, AuditLog.actor_user_id, Actor.name.label("actor_name"), Actor.email.label("actor_email"),
    AuditLog.impersonator_user_id, Impersonator.name.label("impersonator_name"), AuditLog.ip, AuditLog.user_agent,
    AuditLog.request_id, AuditLog.before, AuditLog.after, AuditLog.metadata_.label("metadata"),
    AuditLog.break_glass, AuditLog.chain_seq, AuditLog.prev_hash, AuditLog.content_hash, AuditLog.row_hash,
    AuditLog.redacted_at,
)  # fmt: skip
EXPORT_FIELDS = (
    "id", "created_at", "organization_id", "action", "entity_type", "entity_id", "actor_user_id", "actor_name",
    "impersonator_user_id", "ip", "user_agent", "request_id", "break_glass", "before", "after", "metadata",
    "chain_seq", "prev_hash", "content_hash", "row_hash", "redacted_at",
)  # fmt: skip


def _moment(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("Give dates as 2026-12-03 or 2026-12-03T14:30:00Z.", {"fields": {"date": [raw[:40]]}}) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _address(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError as exc:
        raise BadRequest("ip must be an IPv4 or IPv6 address.", {"fields": {"ip": [raw[:60]]}}) from exc


def _text(limit: int):
    return lambda raw: raw.strip()[:limit] or None


def _prefix(raw: str) -> str | None:
    text = raw.strip().lower()[:100]
    return (text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%") if text else None


FILTERS = {
    "entity_type": Filter(lambda p: AuditLog.entity_type == p, prepare=_text(60),
                          description="Rows about this kind of thing (mission, user, api_key, …)"),
    "entity_id": Filter(lambda p: AuditLog.entity_id == p, prepare=_text(64), description="Rows about this one"),
    "actor_id": by_id(lambda p: AuditLog.actor_user_id == p, "Rows written by this user"),
    "impersonator_id": by_id(lambda p: AuditLog.impersonator_user_id == p, "Rows written while this staff member "
                             "impersonated someone"),
    "action": Filter(lambda p: AuditLog.action.like(p, escape="\\"), prepare=_prefix,
                     description="Actions starting with this (mission. or mission.create)"),
    "since": Filter(lambda p: AuditLog.created_at >= p, prepare=_moment, description="From this time (ISO 8601)"),
    "until": Filter(lambda p: AuditLog.created_at < p, prepare=_moment, description="Before this time (ISO 8601)"),
    "ip": Filter(lambda p: AuditLog.ip == cast(p, INET), prepare=_address, description="From this address"),
}  # fmt: skip

ROWS = (  # every column an export line needs, with the actor's and impersonator's names
    select(*COLUMNS)
    .outerjoin(Actor, Actor.id == AuditLog.actor_user_id)
    .outerjoin(Impersonator, Impersonator.id == AuditLog.impersonator_user_id)
)
ORG_AUDIT = Listing(
    ROWS.where(AuditLog.organization_id == bindparam("org_id")),
    id_column=AuditLog.id,
    sorts={"created_at": AuditLog.created_at},
    filters=FILTERS,
    default_sort="created_at:desc",
)
STAFF_AUDIT = Listing(
    ROWS.add_columns(Organization.slug.label("org_slug")).outerjoin(
        Organization, Organization.id == AuditLog.organization_id
    ),
    id_column=AuditLog.id,
    sorts={"created_at": AuditLog.created_at},
    filters=FILTERS | {
        "organization_id": by_id(lambda p: AuditLog.organization_id == p, "One organization's rows"),
        "platform": Filter(lambda p: (p == "true") & AuditLog.organization_id.is_(None), choices=("true",),
                           description="Only rows that belong to no organization"),
    },
    default_sort="created_at:desc",
)  # fmt: skip


def changes(row) -> list[tuple[str, object, object]]:
    """What a row changed: each key of before/after whose value differs, with both values."""
    before, after = row.before or {}, row.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("value", before, after)]
    return [(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def export_record(row) -> dict:
    """One row as the JSON Lines export writes it."""
    record = {name: getattr(row, name, None) for name in EXPORT_FIELDS}
    for name in ("id", "organization_id", "actor_user_id", "impersonator_user_id", "ip"):
        record[name] = None if record[name] is None else str(record[name])
    for name in ("created_at", "redacted_at"):
        record[name] = None if record[name] is None else record[name].isoformat()
    return record
