"""Comment text: CommonMark (markdown-it-py, raw HTML off) with @mentions, then nh3 (ammonia) as the sanitizer.

Nothing here escapes by hand: markdown-it escapes text, and nh3 keeps only the tags, attributes and URL schemes
listed below, adding rel="noopener noreferrer nofollow" to links and opening them in a new tab.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

TAGS = {
    "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr",
    "table", "thead", "tbody", "tr", "th", "td", "span",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title", "target"}, "span": {"data-user"}, "ol": {"start"}, "th": {"align"}}
HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Member:
    """Someone who can be mentioned: their id, display name and the handles that name them."""

    user_id: uuid.UUID
    name: str
    handles: tuple[str, ...]


def handles_for(name: str, email: str) -> tuple[str, ...]:
    """How a member can be @mentioned: their email's local part and their name without spaces (any case)."""
    local = email.split("@", 1)[0].lower()
    squashed = re.sub(r"\s+", "", name).lower()
    return tuple(dict.fromkeys(h for h in (local, squashed) if h and HANDLE.fullmatch(h)))


def _mention_rule(state, silent: bool) -> bool:
    pos = state.pos
    if state.src[pos] != "@" or (pos > 0 and (state.src[pos - 1].isalnum() or state.src[pos - 1] in "@._-")):
        return False
    match = HANDLE.match(state.src, pos + 1)
    if not match:
        return False
    handle = match.group(0).rstrip(".-_")
    member = state.env.get("directory", {}).get(handle.lower())
    if member is None:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"member": member}
        state.env.setdefault("mentioned", {})[member.user_id] = member
    state.pos = pos + 1 + len(handle)
    return True


def _render_mention(renderer, tokens, idx, options, env) -> str:
    member = tokens[idx].meta["member"]
    escaped = escapeHtml(member.name)
    return f'<span class="mention" data-user="{member.user_id}">@{escaped}</span>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("mention", _render_mention)
    # headings inside a comment are sub-headings of the page's sections
    md.add_render_rule("heading_open", lambda r, t, i, o, e: "<h3>" if t[i].tag in ("h1", "h2", "h3") else "<h4>")
    md.add_render_rule("heading_close", lambda r, t, i, o, e: "</h3>" if t[i].tag in ("h1", "h2", "h3") else "</h4>")
    return md


_MD = _parser()


@dataclass(frozen=True)
class Rendered:
    """Safe HTML of a comment and the members it mentions."""

    html: str
    mentioned: list[Member]


def render(text: str, members: list[Member]) -> Rendered:
    """Markdown -> sanitized HTML; @handles of `members` become mentions."""
    directory = {handle: m for m in members for handle in m.handles}
    env: dict = {"directory": directory}
    raw = _MD.render(text, env)
    clean = nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        allowed_classes={"span": {"mention"}},
    )
    return Rendered(clean, list(env.get("mentioned", {}).values()))


def render_document(text: str, top: int = 2) -> str:
    """Markdown of a published document (the privacy notice, the terms) -> sanitized HTML, its headings starting
    at level `top` so they follow the page's own."""
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    level = {"h1": top, "h2": top}

    def heading(tag_open: bool):
        return lambda r, t, i, o, e: f"<{'' if tag_open else '/'}h{min(6, level.get(t[i].tag, top + 1))}>"

    md.add_render_rule("heading_open", heading(True))
    md.add_render_rule("heading_close", heading(False))
    return nh3.clean(
        md.render(text), tags=TAGS | {"h2", "h5", "h6"}, attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
    )  # fmt: skip
