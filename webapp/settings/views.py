"""Settings pages: an organization's (its admins change them), a person's own, and the platform's (staff); each
value shows where it comes from, and each change is audited."""

from __future__ import annotations

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.core.errors import Conflict, ValidationError
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.permissions import Perm, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.settings import queries, service
from webapp.settings.enums import SettingScope

bp = Blueprint("settings", __name__)
SOURCES = {
    "user": "Your choice",
    "organization": "Set for the organization",
    "system": "ClosedLoop-wide default",
    "default": "Default",
}


def grouped(items: list[queries.Resolved]) -> list[tuple[str, list[queries.Resolved]]]:
    """Settings by topic, in registry order."""
    topics: dict[str, list] = {}
    for item in items:
        topics.setdefault(item.definition.topic, []).append(item)
    return list(topics.items())


async def _scope_items(scope: SettingScope):
    session = db_session()
    if scope == SettingScope.SYSTEM:
        return await queries.for_scope(session, scope)
    if scope == SettingScope.ORGANIZATION:
        return await queries.for_scope(session, scope, org_id=g.ctx.org_id)
    return await queries.for_scope(session, scope, user_id=g.ctx.user_id)


async def organization_settings_context() -> dict:
    """The organization settings page's registry sections."""
    return {"setting_groups": grouped(await _scope_items(SettingScope.ORGANIZATION)), "sources": SOURCES}


async def _save(scope: SettingScope, back: str):
    form = await request.form
    key, reset = form.get("key", ""), form.get("reset") == "1"
    values = form.getlist("value")  # a switch sends a hidden "off" first, then "on" when checked
    version = int(form["version"]) if (form.get("version") or "").isdigit() else None
    session, error, status = db_session(), None, 200
    try:
        if reset:
            await service.reset_setting(session, g.ctx, key, scope=scope)
        else:
            await service.set_setting(session, g.ctx, key, values[-1] if values else "", scope=scope, version=version)
    except (ValidationError, Conflict) as exc:
        error = " ".join(m for ms in exc.details.get("fields", {}).values() for m in ms) or exc.message
        status = exc.status_code
    if not is_htmx():
        await flash(error or ("Back to the default." if reset else "Saved."), "error" if error else "success")
        return redirect(back, 303)
    item = next(i for i in await _scope_items(scope) if i.definition.key == key)
    can_edit = scope != SettingScope.ORGANIZATION or g.ctx.can(item.definition.org_permission)
    response = await render(
        "settings/_setting.html",
        item=item,
        sources=SOURCES,
        scope=str(scope),
        error=error,
        can_edit=can_edit,
        status=status,
    )
    return toast(response, "Back to the default." if reset else "Saved.") if not error else response


@bp.post("/o/<org_slug>/settings/values")
@requires(Perm.ORG_READ)
async def save_organization_setting():
    """Save (or reset) one organization setting; htmx swaps its row."""
    return await _save(SettingScope.ORGANIZATION, url_for("organizations.settings") + "#registry")


@bp.get("/me/settings")
@requires()
async def mine():
    """Your settings, by topic, with where each value comes from."""
    return await render(
        "settings/mine.html", setting_groups=grouped(await _scope_items(SettingScope.USER)), sources=SOURCES
    )


@bp.post("/me/settings")
@requires()
async def save_mine():
    """Save (or reset) one of your settings."""
    return await _save(SettingScope.USER, url_for("settings.mine"))


@bp.get("/admin/settings")
@requires()
async def platform():
    """Staff: the platform-wide defaults every organization and person falls back to."""
    staff_only()
    await enable_rls_bypass(db_session(), reason="staff views platform settings")
    return await render(
        "settings/platform.html", setting_groups=grouped(await _scope_items(SettingScope.SYSTEM)), sources=SOURCES
    )


@bp.post("/admin/settings")
@requires()
async def save_platform():
    """Staff: save (or reset) one platform-wide default (audited)."""
    staff_only()
    return await _save(SettingScope.SYSTEM, url_for("settings.platform"))
