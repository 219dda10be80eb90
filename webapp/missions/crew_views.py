"""Crew routes on the mission page: assign, change role inline, remove (kept as history) and undo."""

from __future__ import annotations

import uuid

from quart import g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from webapp.collaboration.views import thread_context
from webapp.core.errors import Conflict, ValidationError
from webapp.core.forms import show_errors
from webapp.core.htmx import is_htmx, render
from webapp.core.permissions import Perm, requires
from webapp.core.transaction import db_session
from webapp.missions import queries, service
from webapp.missions.forms import CrewEditForm, CrewForm
from webapp.missions.views import bp, crew_form, dashboard_context


async def _crew_section(
    mission_id: uuid.UUID, *, form: CrewForm | None = None, status: int = 200, error: str | None = None
):
    session = db_session()
    mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
    crew = await queries.list_crew(session, mission_id, include_removed=True)
    choices = await crew_form(session, crew)
    if form is not None:
        form.user_id.choices = choices.user_id.choices
    if not is_htmx() and status < 400:
        return redirect(url_for("missions.show", mission_id=mission_id) + "#crew", 303)
    return await render(
        "missions/show.html",
        "missions/_crew.html",
        mission=mission,
        status=status,
        error=error,
        crew=crew,
        crew_form=form or choices,
        **({} if is_htmx() else await dashboard_context(mission)),
    )


@bp.post("/<uuid:mission_id>/crew")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
async def assign_crew(mission_id: uuid.UUID):
    """Put a member on the crew."""
    form = CrewForm(formdata=MultiDict(await request.form))
    try:
        await service.assign_crew(
            db_session(),
            g.ctx,
            mission_id,
            user_id=form.user_id.data,
            crew_role=form.crew_role.data,
            specialization=form.specialization.data or "",
        )
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        return await _crew_section(mission_id, form=form, status=exc.status_code, error=exc.message)
    return await _crew_section(mission_id)


@bp.get("/<uuid:mission_id>/crew/<uuid:crew_id>/edit")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
async def edit_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """The inline edit row for htmx, a page of its own otherwise."""
    session = db_session()
    mission = await queries.get_mission(session, g.ctx.org_id, mission_id)
    member = await queries.get_crew(session, mission_id, crew_id)
    form = CrewEditForm(
        data={"crew_role": member.crew_role.value, "specialization": member.specialization, "version": member.version}
    )
    return await render(
        "missions/crew_edit.html",
        "missions/_crew_edit_row.html",
        mission=mission,
        mission_id=mission_id,
        member=member,
        form=form,
    )


@bp.get("/<uuid:mission_id>/crew/<uuid:crew_id>")
@requires(Perm.MISSIONS_READ)
async def crew_row(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """A crew assignment's page with its discussion; htmx gets its row (Cancel on the inline edit)."""
    mission = await queries.get_mission(db_session(), g.ctx.org_id, mission_id)
    member = await queries.get_crew(db_session(), mission_id, crew_id)
    if is_htmx():
        return await render("missions/_crew_row.html", mission_id=mission_id, member=member)
    return await render(
        "missions/crew_member.html",
        mission=mission,
        mission_id=mission_id,
        member=member,
        **await thread_context("crew-assignments", member.id),
    )


@bp.post("/<uuid:mission_id>/crew/<uuid:crew_id>")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
async def update_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """Save the inline edit; the row swaps back (or shows what was wrong)."""
    session = db_session()
    form = CrewEditForm(formdata=MultiDict(await request.form))
    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        await service.update_crew(
            session,
            g.ctx,
            mission_id,
            crew_id,
            crew_role=form.crew_role.data,
            specialization=form.specialization.data,
            version=version,
        )
    except (ValidationError, Conflict) as exc:
        show_errors(form, exc)
        member = await queries.get_crew(session, mission_id, crew_id)
        if "current" in exc.details:
            form.version.data = exc.details["current"]["version"]
        return await render(
            "missions/crew_edit.html",
            "missions/_crew_edit_row.html",
            mission=await queries.get_mission(session, g.ctx.org_id, mission_id),
            mission_id=mission_id,
            member=member,
            form=form,
            error=exc.message,
            status=exc.status_code,
        )
    if not is_htmx():
        return redirect(url_for("missions.show", mission_id=mission_id) + "#crew", 303)
    return await render(
        "missions/_crew_row.html", mission_id=mission_id, member=await queries.get_crew(session, mission_id, crew_id)
    )


@bp.post("/<uuid:mission_id>/crew/<uuid:crew_id>/remove")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
async def remove_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """Take someone off the crew (history keeps the row; Undo puts them back)."""
    await service.remove_crew(db_session(), g.ctx, mission_id, crew_id)
    return await _crew_section(mission_id)


@bp.post("/<uuid:mission_id>/crew/<uuid:crew_id>/restore")
@requires(Perm.CREW_WRITE, mission_param="mission_id")
async def restore_crew(mission_id: uuid.UUID, crew_id: uuid.UUID):
    """Undo a removal."""
    try:
        await service.undo_crew_removal(db_session(), g.ctx, mission_id, crew_id)
    except Conflict as exc:
        return await _crew_section(mission_id, status=409, error=exc.message)
    return await _crew_section(mission_id)
