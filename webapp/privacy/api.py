"""Privacy over JSON: your consents (GET, and POST to grant or withdraw one) and your access and deletion requests."""

from __future__ import annotations

from datetime import UTC, datetime

from quart import Blueprint, current_app, g, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body
from webapp.core.openapi import raises, returns
from webapp.core.permissions import requires
from webapp.core.transaction import db_session
from webapp.identity.queries import get_user
from webapp.privacy import consents
from webapp.privacy import requests as privacy_requests
from webapp.privacy.enums import ConsentDecision, ConsentMethod, SubjectRequestType
from webapp.privacy.schemas import (
    ConsentIn,
    ConsentsOut,
    DecisionOut,
    RequestStepOut,
    StandingOut,
    SubjectRequestIn,
    SubjectRequestOut,
    SubjectRequestsOut,
    VersionOut,
)

bp = Blueprint("privacy_api", __name__, url_prefix="/api/v1/privacy")


def _version_out(version) -> VersionOut:
    return VersionOut(
        document=version.document, version=version.version, title=version.title, effective_at=version.effective_at,
        requires_consent=version.requires_consent, text_hash=version.text_hash,
        url=url_for("privacy.document", document=version.document.value, version=version.version),
    )  # fmt: skip


def _decision_out(row, version_number: int) -> DecisionOut:
    return DecisionOut(
        id=row.id, document=row.document, version=version_number, decision=row.decision, decided_at=row.decided_at,
        method=row.method, ip=None if row.ip is None else str(row.ip), user_agent=row.user_agent,
        proof_hash=row.proof_hash,
    )  # fmt: skip


async def _consents() -> dict:
    session = db_session()
    standing = await consents.standing(session, g.ctx.user_id)
    history = await consents.history(session, g.ctx.user_id)
    return ConsentsOut(
        documents=[
            StandingOut(
                document=s.document, label=s.info.label, purpose=s.info.purpose, current=_version_out(s.current),
                granted=s.granted, due=s.due,
                latest=_decision_out(s.decision, s.decided_version) if s.decision else None,
            )
            for s in standing
        ],
        history=[_decision_out(row, version.version) for row, version in history],
    ).model_dump(mode="json")  # fmt: skip


@bp.get("/consents")
@requires()
@returns(ConsentsOut)
async def get_consents():
    """Your consents: each document in effect (its version, text hash, where you stand) and every decision you
    made, newest first, each with its proof hash."""
    return await _consents()


@bp.post("/consents")
@requires()
@document_request(ConsentIn)
@returns(ConsentsOut, 201)
@raises(404, 409)
async def post_consent():
    """Grant or withdraw consent to the version of a document in effect (recorded with its proof; audited).
    Withdrawing takes effect at once. 409 when `version` is not the one in effect, or when withdrawing a document
    that must be accepted (close the account instead)."""
    body = await parse_body(ConsentIn)
    session = db_session()
    version = await consents.get_version(session, body.document)
    if body.version is not None and body.version != version.version:
        version = await consents.get_version(session, body.document, body.version)  # 404 for one never published
    decision = ConsentDecision.GRANTED if body.granted else ConsentDecision.WITHDRAWN
    await consents.decide(session, g.ctx, g.ctx.user_id, version, decision, ConsentMethod.API)
    return await _consents(), 201


def _request_out(row, steps, viewer) -> dict:
    available = row.archive_key and row.archive_expires_at and row.archive_expires_at > datetime.now(UTC)
    return SubjectRequestOut(
        id=row.id, type=row.request_type, status=row.status, status_reason=row.status_reason,
        requested_at=row.requested_at, due_at=row.due_at, extension_reason=row.extension_reason,
        verified_at=row.verified_at, completed_at=row.processed_at,
        archive_url=url_for("privacy_requests.archive", request_id=row.id) if available else None,
        archive_expires_at=row.archive_expires_at if available else None,
        steps=[
            RequestStepOut(at=s.at, status=s.status, note=s.note,
                           by="worker" if s.actor_id is None else "you" if s.actor_id == viewer else "staff")
            for s in steps
        ],
    ).model_dump(mode="json")  # fmt: skip


@bp.get("/requests")
@requires()
@returns(SubjectRequestsOut)
async def list_requests():
    """Your access and deletion requests, newest first, each with its state, due date and every step."""
    session = db_session()
    mine = await privacy_requests.list_own(session, g.ctx.user_id)
    steps = await privacy_requests.steps_of(session, [r.id for r in mine])
    return {"items": [_request_out(r, steps[r.id], g.ctx.user_id) for r in mine]}


async def _submit(request_type: SubjectRequestType):
    body = await parse_body(SubjectRequestIn)
    session = db_session()
    user = await get_user(session, g.ctx.user_id, lock=True)
    if request_type == SubjectRequestType.DELETION:
        from webapp.identity.profile import refuse_sole_owner

        await refuse_sole_owner(session, user)
    settings = current_app.extensions["closedloop"]["settings"]
    row = await privacy_requests.submit(
        session, g.ctx, user_id=user.id, email=user.email, request_type=request_type, reason=body.reason,
        reauthenticated=False, secret_key=settings.secret_key, base_url=settings.base_url,
    )  # fmt: skip
    steps = await privacy_requests.steps_of(session, [row.id])
    return _request_out(row, steps[row.id], g.ctx.user_id), 202


@bp.post("/requests/access")
@requires()
@document_request(SubjectRequestIn)
@returns(SubjectRequestOut, 202)
@raises(409)
async def request_access():
    """Ask for a copy of your personal data (GDPR Art. 15, 20). The request is `received`; the link we email you
    confirms it, then a worker builds a ZIP archive (one JSON file per table, your uploaded files) and emails a
    download link valid for 7 days. 409 while another access request is open."""
    return await _submit(SubjectRequestType.ACCESS)


@bp.post("/requests/deletion")
@requires()
@document_request(SubjectRequestIn)
@returns(SubjectRequestOut, 202)
@raises(409)
async def request_deletion():
    """Ask for your account and personal data to be erased (GDPR Art. 17). The request is `received`; confirming
    it by the emailed link ends the account at once, then a worker erases it (what organizations keep names a
    pseudonym). 409 while you are an organization's only owner (transfer ownership first) or another deletion
    request is open."""
    return await _submit(SubjectRequestType.DELETION)
