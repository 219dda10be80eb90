"""Privacy over JSON: your consents (GET, and POST to grant or withdraw one)."""

from __future__ import annotations

from quart import Blueprint, g, url_for
from quart_schema import document_request

from webapp.core.forms import parse_body
from webapp.core.openapi import raises, returns
from webapp.core.permissions import requires
from webapp.core.transaction import db_session
from webapp.privacy import consents
from webapp.privacy.enums import ConsentDecision, ConsentMethod
from webapp.privacy.schemas import ConsentIn, ConsentsOut, DecisionOut, StandingOut, VersionOut

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
