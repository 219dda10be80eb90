"""Where an entity lives in the browser, for links in threads, discussion lists, search results and emails."""

from __future__ import annotations

import uuid

from quart import current_app, g, url_for

from webapp.core.entities import EntityKind


def entity_url(kind: EntityKind, entity_id: uuid.UUID, mission_id: uuid.UUID | None, *, external: bool = False) -> str:
    """The page of an entity in the current organization (absolute, on BASE_URL, when `external`: for emails)."""
    path = url_for(kind.endpoint, org_slug=g.ctx.org_slug, **kind.page_args(entity_id, mission_id))
    return current_app.extensions["closedloop"]["settings"].base_url.rstrip("/") + path if external else path
