"""POST /internal/usage/record: how services (ours, and ClosedLoop's own metering) report usage. Its own bearer
credential (INTERNAL_USAGE_TOKENS); no session, no API key."""

from __future__ import annotations

from dataclasses import asdict

from quart import Blueprint

from webapp.core.errors import ValidationError
from webapp.core.forms import json_object
from webapp.core.internal import internal
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.usage import ingest

bp = Blueprint("usage_internal", __name__, url_prefix="/internal/usage")


@bp.post("/record")
@internal("usage")
async def record_usage():
    """Store a batch of usage events: `{"events": [...]}`, 1 to 1,000. Each event is checked on its own: the
    answer is 200 with `stored`, `duplicates` (a `transaction_id` already recorded for that organization: accepted
    and ignored) and `rejected` (each bad event's index and per-field messages) — unless nothing could be stored,
    which is a 422 carrying the same list."""
    body = await json_object()
    events = body.get("events")
    if set(body) != {"events"} or not isinstance(events, list) or not 1 <= len(events) <= ingest.MAX_BATCH:
        raise ValidationError.field("events", f'Send {{"events": [...]}} with 1 to {ingest.MAX_BATCH} events.')
    session = db_session()
    await enable_rls_bypass(session, reason="usage ingestion (internal service)")
    outcome = await ingest.record(session, events)
    answer = {
        "received": outcome.received, "stored": outcome.stored, "duplicates": outcome.duplicates,
        "rejected": [asdict(r) for r in outcome.rejected],
    }  # fmt: skip
    if outcome.rejected and outcome.stored + outcome.duplicates == 0:
        raise ValidationError("No event of the batch could be stored.", answer)
    return answer
