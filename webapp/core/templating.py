"""Template globals and filters shared by every app that renders our templates (incl. bench baseline)."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from webapp.core.forms import csrf_field, csrf_token

_URL = re.compile(r"https?://[^\s<>\"']+")


def step_names(steps: list[dict]) -> str:
    """'postgres, redis' from a list of step dicts (a sync filter: async map|join is slow)."""
    return ", ".join(step["name"] for step in steps)


def linkify(text: str) -> Markup:
    """Escape text and turn http(s) URLs into links."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def install_template_helpers(app) -> None:
    """Register globals and filters on a Quart app's Jinja environment."""
    app.jinja_env.globals.update(csrf_field=csrf_field, csrf_token=csrf_token)
    app.jinja_env.filters["step_names"] = step_names
    app.jinja_env.filters["linkify"] = linkify
