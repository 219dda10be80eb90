"""Each organization's audit rows form a hash chain (the platform's own rows, organization NULL, form one more).

A row stores its place in the chain (`chain_seq`, from 1), the previous row's hash (`prev_hash`) and its own
`row_hash` = SHA-256 of "<prev_hash>:<chain_seq>:<digest>", where the digest is the SHA-256 of the canonical JSON
of its fixed facts — id, time, organization, actor, impersonator, action, entity, request, break-glass — and of
`content_hash`, the SHA-256 of the canonical JSON of what erasure may later rewrite (before, after, metadata, IP,
browser). Erasure replaces a person's address and
name inside that content and marks the row `redacted_at`: the chain still verifies (the row hash commits to the
content hash, not to the content), and only the content check of redacted rows is skipped — which the verifier
reports. Canonical JSON: keys sorted, no spaces, UTF-8, times as ISO 8601 in UTC to the microsecond.

Writers to one chain are serialised by the row lock of its head (`audit_chain_heads`): the upsert that hands out
the next link — sequence number, previous hash and the new hash, computed by the database from the digest — holds
it until the transaction ends, so concurrent writers queue and one chain never forks.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from datetime import UTC, datetime

PLATFORM_CHAIN = uuid.UUID(int=0)  # the chain of rows that belong to no organization
GENESIS = "0" * 64  # what the first row of a chain names as its predecessor


def canonical(value) -> bytes:
    """The canonical JSON encoding every hash here is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _id(value) -> str | None:
    return None if value is None else str(value)


def _numbers(value):
    """Whole floats as integers: JSONB keeps 1e16 as 10000000000000000, which reads back as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _address(ip) -> str | None:
    if ip is None:
        return None
    try:
        return ipaddress.ip_address(str(ip)).compressed  # as PostgreSQL's inet gives it back
    except ValueError:
        return str(ip)


def content_hash(*, before, after, metadata, ip, user_agent) -> str:
    """SHA-256 of the part of a row erasure may rewrite."""
    return hashlib.sha256(canonical(_numbers({
        "before": before, "after": after, "metadata": metadata or {}, "ip": _address(ip), "user_agent": user_agent,
    }))).hexdigest()  # fmt: skip


def row_digest(*, id, created_at: datetime, organization_id, actor_user_id, impersonator_user_id, action: str,
               entity_type: str, entity_id, request_id, break_glass: bool, content_hash: str) -> str:  # fmt: skip
    """SHA-256 of a row's fixed facts and its content hash (everything but its place in the chain)."""
    return hashlib.sha256(canonical({
        "id": _id(id), "created_at": _when(created_at), "organization_id": _id(organization_id),
        "actor_user_id": _id(actor_user_id), "impersonator_user_id": _id(impersonator_user_id), "action": action,
        "entity_type": entity_type, "entity_id": entity_id, "request_id": request_id,
        "break_glass": bool(break_glass), "content_hash": content_hash,
    })).hexdigest()  # fmt: skip


def link_hash(prev_hash: str, seq: int, digest: str) -> str:
    """A row's hash: SHA-256 of "<previous row hash>:<sequence number>:<row digest>" (UTF-8). The database computes
    the same expression when it hands out the link (webapp.core.audit), so a row goes in with one statement."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


def row_hash(*, seq: int, prev_hash: str, **facts) -> str:
    """A row's hash from its place in the chain and its facts (`row_digest`'s arguments)."""
    return link_hash(prev_hash, seq, row_digest(**facts))


def chain_key(organization_id) -> uuid.UUID:
    """The chain an organization's rows (or the platform's, for None) belong to."""
    return organization_id or PLATFORM_CHAIN
