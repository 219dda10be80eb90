"""Email templates (templates/emails/<name>.subject.txt, .txt, .html) rendered outside any request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from webapp.config import PROJECT_ROOT


@dataclass(frozen=True)
class RenderedEmail:
    """Subject, plain text and HTML of one message."""

    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "emails")),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,  # a missing link in an email is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_email(template: str, **context) -> RenderedEmail:
    """Render the three parts of email template `template`."""
    env = _environment()
    subject = env.get_template(f"{template}.subject.txt").render(**context).strip()
    return RenderedEmail(
        subject=" ".join(subject.split()),  # one line: no header injection through a name
        text=env.get_template(f"{template}.txt").render(**context),
        html=env.get_template(f"{template}.html").render(**context),
    )
