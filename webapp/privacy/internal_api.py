"""POST /internal/privacy/process/{request_id}: carry out one verified privacy request now (what the workers run),
for an operator's job runner or a retry from outside. Its own bearer credential (INTERNAL_PRIVACY_TOKENS); no
session, no API key. Running it on a finished request changes nothing."""

from __future__ import annotations

import uuid

from quart import Blueprint, current_app

from webapp.collaboration.storage import store_for
from webapp.core.internal import internal
from webapp.privacy.processing import Processor

bp = Blueprint("privacy_internal", __name__, url_prefix="/internal/privacy")


@bp.post("/process/<uuid:request_id>")
@internal("privacy")
async def process(request_id: uuid.UUID):
    """One processing pass: `{"id", "status", "note"}` — completed, still waiting (a legal hold, an organization it
    alone owns) or failed; a request that is not waiting for a worker is left as it is (404 for none)."""
    settings = current_app.extensions["closedloop"]["settings"]
    processor = Processor(current_app.extensions["closedloop"]["sessionmaker"], store_for(settings), settings)
    outcome = await processor.process(request_id)
    return {"id": str(outcome.request_id), "status": outcome.status.value, "note": outcome.note}
