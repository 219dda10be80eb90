"""Impersonation over JSON (staff, with a browser session): start acting as a user, and exit."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, jsonify
from quart_schema import document_request

from webapp.core.forms import parse_body
from webapp.core.openapi import raises, returns
from webapp.core.permissions import refuse_api_keys, requires, staff_only
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import db_session
from webapp.support import cookies, impersonation
from webapp.support.schemas import ImpersonateIn, ImpersonationOut

bp = Blueprint("support_api", __name__, url_prefix="/api/v1/platform/impersonate")


def record_out(record) -> dict:
    """ImpersonationSession -> JSON."""
    return ImpersonationOut.model_validate(record, from_attributes=True).model_dump(mode="json")


@bp.post("/<uuid:user_id>")
@requires()
@document_request(ImpersonateIn)
@returns(ImpersonationOut, 201)
@raises(403, 409)
async def impersonate(user_id: uuid.UUID):
    """Staff: act as this user for at most an hour. Needs an active staff break-glass grant and an open
    support-access window of the user's organization (403 otherwise), a reason and a ticket. The answer signs
    this browser in as the user; `POST /platform/impersonate/exit` comes back."""
    staff_only()
    refuse_api_keys()
    session = db_session()
    await enable_rls_bypass(session, reason="staff start an impersonation")
    data = await parse_body(ImpersonateIn)
    token, record = await impersonation.start(
        session, g.ctx, user_id, reason=data.reason, ticket=data.ticket, organization_id=data.organization_id
    )
    response = jsonify(record_out(record))
    response.status_code = 201
    cookies.switch_to(response, token)
    return response


@bp.post("/exit")
@requires()
@returns(ImpersonationOut)
@raises(409)
async def exit_impersonation():
    """End the impersonation this browser is in (409 when it is in none); the user is emailed, and the browser is
    the staff member again."""
    session = db_session()
    await enable_rls_bypass(session, reason="staff end an impersonation")
    record = await impersonation.exit_(session, g.ctx)
    response = jsonify(record_out(record))
    cookies.switch_back(response)
    return response
