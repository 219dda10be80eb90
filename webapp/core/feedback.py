"""Feedback after a redirect: flashed messages become toasts; a reversible delete's toast carries its Undo."""

from __future__ import annotations

import json
from dataclasses import dataclass

from quart import flash

from webapp.core.redirects import safe_next


@dataclass(frozen=True)
class Toast:
    """A message for the toast region: success, info or error, and the restore address of an Undo button."""

    kind: str
    message: str
    undo_url: str | None = None


async def flash_undo(message: str, restore_url: str) -> None:
    """Say something was deleted and offer Undo (a POST to `restore_url`) on the next page."""
    await flash(json.dumps({"message": message, "undo": restore_url}), "undo")


def toasts(flashed: list[tuple[str, str]]) -> list[Toast]:
    """The flashed (category, message) pairs as toasts (a template global)."""
    found = []
    for category, message in flashed:
        if category == "undo":
            try:
                data = json.loads(message)
            except ValueError:
                continue
            found.append(Toast("info", str(data.get("message", "")), safe_next(data.get("undo"))))
        else:
            found.append(Toast(category if category in ("success", "info", "error") else "info", message))
    return found
