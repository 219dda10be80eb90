"""Pub/sub channel and payload of system-check progress."""

from __future__ import annotations

from webapp.core.pubsub import channel
from webapp.ops.models import SystemCheck


def check_channel(namespace: str, check_id: object) -> str:
    """Channel carrying one check's progress."""
    return channel(namespace, "ops", "check", check_id)


def check_payload(check: SystemCheck) -> dict:
    """The state a subscriber needs to redraw the progress bar."""
    return {
        "id": str(check.id),
        "status": str(check.status),
        "progress": check.progress,
        "steps": check.steps,
        "error": check.error,
        "attempt": check.attempt,
        "finished": check.status.is_final,
    }
