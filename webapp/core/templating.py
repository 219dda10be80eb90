"""Template globals and filters shared by every app that renders our templates (incl. bench baseline)."""
from __future__ import annotations

from webapp.core.forms import csrf_field, csrf_token


def step_names(steps: list[dict]) -> str:
    """'postgres, redis' from a list of step dicts (a sync filter: async map|join is slow)."""
    return ", ".join(step["name"] for step in steps)


def install_template_helpers(app) -> None:
    """Register globals and filters on a Quart app's Jinja environment."""
    app.jinja_env.globals.update(csrf_field=csrf_field, csrf_token=csrf_token)
    app.jinja_env.filters["step_names"] = step_names
