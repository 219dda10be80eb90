"""Where a `next` parameter may send a browser: only a path on this site that parses cleanly."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so `/\tevil` and `/\evil` leave
# the site; any control character, backslash or non-ASCII character refuses the target outright.
_REFUSED = re.compile(r"[\x00-\x20\x7f-\uffff\\]")
MAX_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` when it is a same-origin path (`/o/acme/missions?x=1`), else None."""
    if not target or len(target) > MAX_LENGTH or _REFUSED.search(target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return target


def same_site_referrer(referrer: str | None, host: str) -> str | None:
    """The path of a Referer on this host (`https://host/o/acme` -> `/o/acme`), else None."""
    if not referrer or len(referrer) > MAX_LENGTH or _REFUSED.search(referrer):
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
