"""Privacy pages: your consents (grant or withdraw with one click, with their history and proofs), the prompt after
sign-in when a document changed, and the documents themselves (public)."""

from __future__ import annotations

from datetime import UTC

from quart import Blueprint, flash, g, redirect, request, url_for

from webapp.collaboration import markdown
from webapp.core.csvio import csv_response
from webapp.core.errors import Conflict, NotFound, ValidationError
from webapp.core.forms import read_form
from webapp.core.htmx import is_htmx, render, toast
from webapp.core.permissions import public, requires, staff_only
from webapp.core.redirects import safe_next
from webapp.core.transaction import db_session
from webapp.identity.models import AuthSession
from webapp.privacy import consents, registry
from webapp.privacy.enums import ConsentDecision, ConsentMethod, PolicyDocument
from webapp.privacy.forms import PublishForm

bp = Blueprint("privacy", __name__)

# what a browser session waiting for consent may still reach (webapp/__init__.py sends everything else to the
# prompt): the prompt and the documents, signing out, and every privacy page and call — a person's rights over their
# data never wait on accepting new terms
CONSENT_FREE_BLUEPRINTS = ("privacy.", "privacy_api.", "privacy_requests.")
CONSENT_FREE_ENDPOINTS = frozenset({"identity.logout"})


def reachable_before_consent(endpoint: str | None) -> bool:
    """Whether a session asked to accept changed documents may still call `endpoint`."""
    return endpoint in CONSENT_FREE_ENDPOINTS or (endpoint or "").startswith(CONSENT_FREE_BLUEPRINTS)


async def after_sign_in(session, auth_session: AuthSession, next_url: str | None) -> str:
    """Where a fresh sign-in goes: the consent prompt when a document needs the person's yes, else `next_url`."""
    if await consents.flag_session_if_due(session, auth_session):
        return url_for("privacy.consent_prompt", next=next_url) if next_url else url_for("privacy.consent_prompt")
    return next_url or url_for("identity.landing")


def _html(version, top: int = 2) -> str:
    return markdown.render_document(version.body, top)


@bp.get("/me/consent")
@requires()
async def consent_prompt():
    """The documents that changed since the person last accepted them, asked before anything else."""
    due = await consents.due_versions(db_session(), g.ctx.user_id)
    if not due:
        return redirect(safe_next(request.args.get("next")) or url_for("identity.landing"))
    return await render(
        "privacy/consent_prompt.html",
        due=[(v, consents.DOCUMENTS[v.document], _html(v, top=3)) for v in due],
        next=safe_next(request.args.get("next")) or "",
    )


@bp.post("/me/consent")
@requires()
async def consent_accept():
    """Accept every document the prompt showed; the session stops asking."""
    accepted = await consents.accept_due(db_session(), g.ctx, g.ctx.user_id, ConsentMethod.PROMPT)
    if accepted:
        await flash("Thank you — your acceptance is recorded on your privacy page.", "success")
    return redirect(safe_next((await request.form).get("next")) or url_for("identity.landing"), 303)


@bp.get("/me/privacy")
@requires()
async def privacy_page():
    """Your consents — each document, where you stand, one click to change — and their history with proofs."""
    return await render_privacy_page()


async def render_privacy_page(status: int = 200, error: str | None = None, **forms):
    """The privacy page: consents, their history, and your requests with the forms to make one."""
    from webapp.privacy.request_views import request_section

    session = db_session()
    return await render(
        "privacy/privacy.html",
        standing=await consents.standing(session, g.ctx.user_id),
        history=await consents.history(session, g.ctx.user_id),
        status=status,
        error=error,
        **await request_section(session, g.ctx.user_id, **forms),
    )


@bp.post("/me/privacy/consents")
@requires()
async def decide():
    """Grant or withdraw one optional document (the privacy page's switches; htmx answers with the row)."""
    form = await request.form
    try:
        document, decision = PolicyDocument(form.get("document", "")), ConsentDecision(form.get("decision", ""))
    except ValueError as exc:
        raise ValidationError.field("document", "Name a document and a decision (granted or withdrawn).") from exc
    session = db_session()
    try:
        version = await consents.get_version(session, document)
        await consents.decide(session, g.ctx, g.ctx.user_id, version, decision, ConsentMethod.SETTINGS)
    except Conflict as exc:
        if is_htmx():
            raise
        return await render_privacy_page(status=409, error=exc.message)
    label = consents.DOCUMENTS[document].label
    message = f"{label}: {'on' if decision == ConsentDecision.GRANTED else 'off'} from now on."
    if is_htmx():
        row = next(s for s in await consents.standing(session, g.ctx.user_id) if s.document == document)
        return toast(await render("privacy/_consent_row.html", s=row), message)
    await flash(message, "success")
    return redirect(url_for("privacy.privacy_page"), 303)


@bp.get("/legal/<document>")
@bp.get("/legal/<document>/v<int:version>")
@public
async def document(document: str, version: int | None = None):
    """A document as published: the version in effect, or an earlier one by number."""
    try:
        kind = PolicyDocument(document.replace("-", "_"))
    except ValueError as exc:
        raise NotFound("No such document.") from exc
    found = await consents.get_version(db_session(), kind, version)
    return await render(
        "privacy/document.html", version=found, info=consents.DOCUMENTS[kind], html=_html(found),
    )  # fmt: skip


@bp.get("/admin/privacy/documents")
@requires()
async def admin_documents():
    """Every document's versions, for staff: what is in effect, what is scheduled, and a form for the next one."""
    staff_only()
    return await _documents_page(db_session())


async def _documents_page(session, chosen: PolicyDocument | None = None, form: PublishForm | None = None):
    forms = {d: form if d == chosen and form else PublishForm() for d in consents.DOCUMENTS}
    return await render(
        "privacy/admin_documents.html", versions=await consents.all_versions(session), documents=consents.DOCUMENTS,
        forms=forms, chosen=chosen, status=422 if form else 200,
    )  # fmt: skip


@bp.post("/admin/privacy/documents/<document>")
@requires()
async def admin_publish(document: str):
    """Publish the next version of a document (audited); one that needs consent is asked for at next sign-in."""
    staff_only()
    try:
        kind = PolicyDocument(document)
    except ValueError as exc:
        raise NotFound("No such document.") from exc
    session = db_session()
    form = await read_form(PublishForm)
    if not form.validate():
        return await _documents_page(session, kind, form)
    when = form.effective_at.data.replace(tzinfo=UTC) if form.effective_at.data else None
    version = await consents.publish(
        session, g.ctx, kind, title=form.title.data, body=form.body.data,
        requires_consent=bool(form.requires_consent.data), effective_at=when,
    )  # fmt: skip
    await flash(f"{version.title} version {version.version} published.", "success")
    return redirect(url_for("privacy.admin_documents"), 303)


BASIS_LABELS = {
    "contract": "Contract — Art. 6(1)(b)", "legal_obligation": "Legal obligation — Art. 6(1)(c)",
    "legitimate_interests": "Legitimate interests — Art. 6(1)(f)", "consent": "Consent — Art. 6(1)(a)",
}  # fmt: skip
ERASURE_LABELS = {
    "delete": "deleted", "anonymise": "cleared", "pseudonymise": "replaced by a pseudonym", "keep": "kept",
}  # fmt: skip


def _retention(entry) -> str:
    if entry.retention_days is None:
        return "while the account exists"
    years, days = divmod(entry.retention_days, 365)
    span = f"{years} year{'s' if years > 1 else ''}" if years and not days else f"{entry.retention_days} days"
    return f"{span} after {entry.retention_from.replace('_', ' ')}"


@bp.get("/legal/records-of-processing")
@public
async def records():
    """The records of processing (GDPR Art. 30), generated from the personal-data registry."""
    entries = await registry.entries(db_session())
    return await render(
        "privacy/records.html", entries=entries, basis=BASIS_LABELS, erasure=ERASURE_LABELS, retention=_retention
    )


@bp.get("/legal/records-of-processing.csv")
@public
async def records_csv():
    """The same records as CSV, one row per column of personal data."""
    entries = await registry.entries(db_session())
    header = ["category", "table", "column", "purpose", "lawful_basis", "retention", "on_erasure", "kept_because"]
    rows = [
        (e.category.value, e.table_name, e.column_name, e.purpose, e.lawful_basis.value, _retention(e),
         e.erasure_action.value, e.keep_reason or "")
        for e in entries
    ]  # fmt: skip
    return csv_response("records-of-processing.csv", header, rows)
