"""Template globals and filters shared by every app that renders our templates (incl. bench baseline)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from quart import g

from webapp.core.feedback import toasts
from webapp.core.forms import csrf_field, csrf_token

_URL = re.compile(r"https?://[^\s<>\"']+")


def step_names(steps: list[dict]) -> str:
    """'postgres, redis' from a list of step dicts (a sync filter: async map|join is slow)."""
    return ", ".join(step["name"] for step in steps)


def linkify(text: str) -> Markup:
    """Escape text and turn http(s) URLs into links."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


# strftime patterns per profile locale (webapp.identity.profile.LOCALES): (date and time, date only)
_FORMATS = {
    "en": ("%Y-%m-%d %H:%M", "%Y-%m-%d"),
    "en-US": ("%b %d, %Y %I:%M %p", "%b %d, %Y"),
    "en-GB": ("%d %b %Y %H:%M", "%d %b %Y"),
}


def when(value: datetime | date | None, style: str = "datetime") -> Markup:
    """A <time> element in the viewer's time zone and date format (UTC and ISO without a signed-in viewer);
    a calendar date (no time) shows as itself in the viewer's date format."""
    if value is None:
        return Markup("")
    ctx = g.get("ctx") if g else None
    if not isinstance(value, datetime):
        pattern = _FORMATS.get(getattr(ctx, "locale", "en"), _FORMATS["en"])[1]
        return Markup(f'<time datetime="{value.isoformat()}">{escape(value.strftime(pattern))}</time>')
    try:
        zone = ZoneInfo(ctx.timezone) if ctx is not None and ctx.timezone else UTC
    except (KeyError, ValueError):
        zone = UTC
    with_time, date_only = _FORMATS.get(getattr(ctx, "locale", "en"), _FORMATS["en"])
    local = value.astimezone(zone)
    text = local.strftime(date_only) if style == "date" else f"{local.strftime(with_time)} {local.tzname()}"
    return Markup(f'<time datetime="{value.isoformat()}">{escape(text)}</time>')


def num(value, places: int | None = None) -> str:
    """A quantity for people: thousands separators, no trailing zeros (or exactly `places` decimals)."""
    if value is None:
        return "–"
    number = Decimal(str(value))
    if places is not None:
        return f"{number:,.{places}f}"
    text = f"{number.normalize():,f}"
    return text


def human(value) -> str:
    """A quantity as people read it: 1,928.5 (not 1928.4999), 41 (not 41.00), 0.0123, and "< 0.001" for dust."""
    if value is None:
        return "–"
    number = Decimal(str(value))
    size = abs(number)
    if size == 0:
        return "0"
    if size < Decimal("0.001"):
        return "< 0.001" if number > 0 else "> -0.001"
    places = 1 if size >= 100 else 2 if size >= 1 else 3
    text = f"{number:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def delta(value) -> str:
    """A difference as people read it: "+12.5", "-0.031", or "same" when nothing changed."""
    text = human(value)
    if text == "0":
        return "same"
    return text if text.startswith(("-", "<", ">")) else "+" + text


def initials(name: str | None) -> str:
    """'AL' for 'Ada Lovelace', '?' for nobody: the avatar of the account menu."""
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    return "".join(w[0] for w in (words[:1] + words[1:][-1:])).upper() or "?"


def filesize(size: int | None) -> str:
    """Bytes as people read them: 912 B, 14.2 KiB, 3.1 MiB."""
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def install_template_helpers(app) -> None:
    """Register globals and filters on a Quart app's Jinja environment."""
    app.jinja_env.globals.update(csrf_field=csrf_field, csrf_token=csrf_token, toasts=toasts)
    app.jinja_env.filters["step_names"] = step_names
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["num"] = num
    app.jinja_env.filters["initials"] = initials
    app.jinja_env.filters["human"] = human
    app.jinja_env.filters["delta"] = delta
    app.jinja_env.filters["filesize"] = filesize
