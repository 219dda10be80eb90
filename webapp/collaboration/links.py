"""Where an entity lives in the browser, for links in threads, discussion lists, search results and emails."""

from __future__ import annotations

import uuid

from quart import current_app, g, url_for

from webapp.core.entities import EntityKind


def entity_url(kind: EntityKind, entity_id: uuid.UUID, mission_id: uuid.UUID | None, *, external: bool = False) -> str:
    """The page of an entity in the current organization (absolute, on BASE_URL, when `external`: for emails)."""
    path = url_for(kind.endpoint, org_slug=g.ctx.org_slug, **kind.page_args(entity_id, mission_id))
    return current_app.extensions["closedloop"]["settings"].base_url.rstrip("/") + path if external else path


# stand-ins that no real id equals, replaced in a kind's rendered URL
_ENTITY, _MISSION = uuid.UUID(int=0xE), uuid.UUID(int=0xF)


def url_maker():
    """entity_url for many entities of the current organization: each kind's route is built once, then filled
    (a list of twenty hits would otherwise run the URL map twenty times)."""
    templates: dict[str, str] = {}

    def url(kind: EntityKind, entity_id: uuid.UUID, mission_id: uuid.UUID | None) -> str:
        template = templates.get(kind.name)
        if template is None:
            template = templates[kind.name] = entity_url(kind, _ENTITY, _MISSION)
        return template.replace(str(_ENTITY), str(entity_id)).replace(str(_MISSION), str(mission_id))

    return url
