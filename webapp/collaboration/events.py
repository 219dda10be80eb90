"""Pub/sub of comment threads: one channel per entity; a message says which comment changed, each page fetches
its own rendering of it (who may edit or delete differs per viewer)."""

from __future__ import annotations

import logging

from quart import current_app
from redis.exceptions import RedisError

from webapp.core.pubsub import channel, publish_json

log = logging.getLogger(__name__)


def thread_channel(namespace: str, entity_type: str, entity_id: object) -> str:
    """Channel of one entity's thread."""
    return channel(namespace, "comments", entity_type, entity_id)


def comment_payload(comment, action: str) -> dict:
    """What a watching page needs to fetch and place the comment."""
    return {
        "id": str(comment.id),
        "parent_id": str(comment.parent_comment_id) if comment.parent_comment_id else None,
        "action": action,
        "version": comment.version,
    }


async def publish_comment(org_id, comment, action: str) -> None:
    """Tell the entity's watchers (after commit); a lost Redis only costs them the live update."""
    state = current_app.extensions["closedloop"]
    name = thread_channel(state["settings"].redis_namespace, comment.entity_type, comment.entity_id)
    try:
        await publish_json(state["redis"], name, comment_payload(comment, action))
    except (RedisError, OSError) as exc:
        log.warning("comment event not published: %s", exc)
