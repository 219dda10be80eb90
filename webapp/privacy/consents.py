"""Consents (GDPR Art. 7(1): the organization must be able to demonstrate consent). Each document — privacy
notice, terms, product news by email, product analytics — is published in versions; each decision a person makes
about a version is a new, never-changed row with how it was collected, the address and browser it came from, and a
proof hash over all of that and the version's text hash. Withdrawing is as easy as granting and counts at once."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import Conflict, Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, enable_rls_bypass, scope_session
from webapp.identity.models import AuthSession
from webapp.privacy.enums import ConsentDecision, ConsentMethod, PolicyDocument
from webapp.privacy.models import PolicyVersion, UserConsent


@dataclass(frozen=True)
class DocumentInfo:
    """What a document is for, as people see it."""

    label: str
    purpose: str


DOCUMENTS = {
    PolicyDocument.PRIVACY_NOTICE: DocumentInfo(
        "Privacy notice", "What personal data ClosedLoop keeps, why, for how long, and your rights over it."
    ),
    PolicyDocument.TERMS: DocumentInfo("Terms of service", "The agreement under which you use ClosedLoop."),
    PolicyDocument.MARKETING_EMAIL: DocumentInfo(
        "Product news by email", "An occasional email about new ClosedLoop features. Optional."
    ),
    PolicyDocument.PRODUCT_ANALYTICS: DocumentInfo(
        "Product analytics", "Counting which pages and features are used, to improve them. Optional."
    ),
}


def text_hash(body: str) -> str:
    """SHA-256 (hex) of a document version's exact text."""
    return hashlib.sha256(body.encode()).hexdigest()


def _address(ip) -> str | None:
    return None if ip is None else str(ipaddress.ip_address(str(ip).split("/")[0]))


def proof_of(
    *, user_id, document: str, version: int, text_hash: str, decision: str, decided_at: datetime, method: str, ip,
    user_agent: str | None,
) -> str:  # fmt: skip
    """The proof hash: SHA-256 over the canonical JSON (sorted keys, no spaces, UTC time to the microsecond) of
    who decided what about which exact text, when, how and from where. docs/privacy.md shows how to recompute it."""
    record = {
        "user_id": str(user_id), "document": str(document), "version": int(version), "text_hash": text_hash,
        "decision": str(decision), "decided_at": decided_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "method": str(method), "ip": _address(ip), "user_agent": user_agent or None,
    }  # fmt: skip
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def proof_holds(row: UserConsent, version: PolicyVersion) -> bool:
    """Whether a stored decision still matches its proof hash and the version's text."""
    expected = proof_of(
        user_id=row.user_id, document=row.document, version=version.version, text_hash=text_hash(version.body),
        decision=row.decision, decided_at=row.decided_at, method=row.method, ip=row.ip, user_agent=row.user_agent,
    )  # fmt: skip
    return row.proof_hash == expected and version.text_hash == text_hash(version.body)


async def current_versions(session: AsyncSession) -> dict[PolicyDocument, PolicyVersion]:
    """The version of each document in effect now (the highest whose effective date has come)."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.effective_at <= datetime.now(UTC))
        .order_by(PolicyVersion.document, PolicyVersion.version.desc())
        .ext(distinct_on(PolicyVersion.document))
    )
    return {row.document: row for row in (await session.execute(stmt)).scalars()}


async def all_versions(session: AsyncSession) -> list[PolicyVersion]:
    """Every published version, by document, newest first."""
    stmt = select(PolicyVersion).order_by(PolicyVersion.document, PolicyVersion.version.desc())
    return list((await session.execute(stmt)).scalars())


async def get_version(session: AsyncSession, document: PolicyDocument, version: int | None = None) -> PolicyVersion:
    """One version of a document (the current one when `version` is None); NotFound otherwise."""
    if version is None:
        found = (await current_versions(session)).get(document)
    else:
        stmt = select(PolicyVersion).where(PolicyVersion.document == document, PolicyVersion.version == version)
        found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such version of this document.")
    return found


async def _latest_decisions(session: AsyncSession, user_id) -> dict[PolicyDocument, tuple[UserConsent, int]]:
    stmt = (
        select(UserConsent, PolicyVersion.version)
        .join(PolicyVersion, PolicyVersion.id == UserConsent.version_id)
        .where(UserConsent.user_id == user_id)
        .order_by(UserConsent.document, UserConsent.decided_at.desc(), UserConsent.id.desc())
        .ext(distinct_on(UserConsent.document))
    )
    return {row.UserConsent.document: (row.UserConsent, row.version) for row in await session.execute(stmt)}


@dataclass(frozen=True)
class Standing:
    """Where one person stands with one document."""

    document: PolicyDocument
    info: DocumentInfo
    current: PolicyVersion
    decision: UserConsent | None  # their latest, about any version
    decided_version: int | None

    @property
    def granted(self) -> bool:
        """Their latest word is yes (to this or an earlier version)."""
        return self.decision is not None and self.decision.decision == ConsentDecision.GRANTED

    @property
    def due(self) -> bool:
        """The current version needs their consent and they have not given it to that version."""
        return self.current.requires_consent and not (self.granted and self.decided_version == self.current.version)


async def standing(session: AsyncSession, user_id) -> list[Standing]:
    """Each document in effect, with the person's latest decision about it."""
    versions, latest = await current_versions(session), await _latest_decisions(session, user_id)
    out = []
    for document, info in DOCUMENTS.items():
        if document in versions:
            decision, decided_version = latest.get(document, (None, None))
            out.append(Standing(document, info, versions[document], decision, decided_version))
    return out


async def due_versions(session: AsyncSession, user_id) -> list[PolicyVersion]:
    """The versions in effect that need the person's consent and do not have it yet."""
    return [s.current for s in await standing(session, user_id) if s.due]


async def decide(
    session: AsyncSession, ctx: RequestContext | None, user_id, version: PolicyVersion, decision: ConsentDecision,
    method: ConsentMethod,
) -> UserConsent:  # fmt: skip
    """Record one decision about the version in effect (append-only, with its proof); audited. Withdrawing from a
    document that must be accepted is refused: that is closing the account."""
    current = (await current_versions(session)).get(version.document)
    if current is None or current.id != version.id:
        raise Conflict(
            f"Version {version.version} is not the one in effect; decide about version {current.version}."
            if current
            else "This document is not in effect.",
            {"current_version": current.version if current else None},
        )
    if decision == ConsentDecision.WITHDRAWN and version.requires_consent:
        raise Conflict(
            f"The {DOCUMENTS[version.document].label.lower()} must be accepted to use ClosedLoop; to stop, delete "
            "your account (Profile → Delete account).",
            {"document": version.document.value},
        )
    decided_at = datetime.now(UTC)
    ip, agent = (ctx.ip, ctx.user_agent or None) if ctx else (None, None)
    row = UserConsent(
        id=new_id(), user_id=user_id, version_id=version.id, document=version.document, decision=decision,
        decided_at=decided_at, method=method, ip=ip, user_agent=agent,
        proof_hash=proof_of(
            user_id=user_id, document=version.document, version=version.version, text_hash=version.text_hash,
            decision=decision, decided_at=decided_at, method=method, ip=ip, user_agent=agent,
        ),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await audit.record(
        session, ctx, f"privacy.consent_{decision.value}", entity_type="privacy_user_consent", entity_id=row.id,
        after={"document": version.document.value, "version": version.version, "method": method.value},
        organization_id=None,
    )  # fmt: skip
    return row


async def accept_due(
    session: AsyncSession, ctx: RequestContext | None, user_id, method: ConsentMethod
) -> list[UserConsent]:
    """Grant every version that needs the person's consent and lacks it; their session stops asking."""
    rows = [
        await decide(session, ctx, user_id, version, ConsentDecision.GRANTED, method)
        for version in await due_versions(session, user_id)
    ]
    if ctx is not None and ctx.session_id is not None:
        await session.execute(update(AuthSession).where(AuthSession.id == ctx.session_id).values(consent_due=False))
    return rows


async def flag_session_if_due(session: AsyncSession, auth_session: AuthSession) -> bool:
    """At sign-in: mark the new session when a version needs the person's consent (the browser is asked first)."""
    await scope_session(session, user_id=auth_session.user_id)  # their own decisions, under RLS
    due = bool(await due_versions(session, auth_session.user_id))
    if due:
        auth_session.consent_due = True
        await session.flush()
    return due


async def history(session: AsyncSession, user_id, limit: int = 200) -> list[tuple[UserConsent, PolicyVersion]]:
    """The person's decisions, newest first, each with the version it was about."""
    stmt = (
        select(UserConsent, PolicyVersion)
        .join(PolicyVersion, PolicyVersion.id == UserConsent.version_id)
        .where(UserConsent.user_id == user_id)
        .order_by(UserConsent.decided_at.desc(), UserConsent.id.desc())
        .limit(limit)
    )
    return [(row.UserConsent, row.PolicyVersion) for row in await session.execute(stmt)]


async def consenting(session: AsyncSession, user_ids: list[uuid.UUID], document: PolicyDocument) -> set[uuid.UUID]:
    """Of `user_ids`, those whose latest word about `document` is yes (read when the mail goes out, so a
    withdrawal stops what is already queued)."""
    if not user_ids:
        return set()
    stmt = (
        select(UserConsent.user_id, UserConsent.decision)
        .where(UserConsent.user_id.in_(user_ids), UserConsent.document == document)
        .order_by(UserConsent.user_id, UserConsent.decided_at.desc(), UserConsent.id.desc())
        .ext(distinct_on(UserConsent.user_id))
    )
    return {row.user_id for row in await session.execute(stmt) if row.decision == ConsentDecision.GRANTED}


async def publish(
    session: AsyncSession, ctx: RequestContext, document: PolicyDocument, *, title: str, body: str,
    requires_consent: bool, effective_at: datetime | None = None,
) -> PolicyVersion:  # fmt: skip
    """Staff publish the next version of a document (audited). Once it is in effect, a version that requires
    consent is asked for at each person's next sign-in."""
    if not ctx.is_platform_admin:
        raise Forbidden("Only ClosedLoop staff publish documents.")
    title, body = title.strip(), body.strip() + "\n"
    if not 1 <= len(title) <= 200 or len(body) < 20:
        raise ValidationError("Give a title (at most 200 characters) and the document's text.")
    await enable_rls_bypass(session, reason=f"staff publish a version of {document.value}")
    last = await session.execute(
        select(PolicyVersion.version).where(PolicyVersion.document == document).order_by(PolicyVersion.version.desc())
    )
    version = PolicyVersion(
        id=new_id(), document=document, version=(last.scalars().first() or 0) + 1, title=title, body=body,
        text_hash=text_hash(body), requires_consent=requires_consent,
        effective_at=effective_at or datetime.now(UTC), published_by=ctx.user_id,
    )  # fmt: skip
    session.add(version)
    await session.flush()
    await audit.record(
        session, ctx, "privacy.document_published", entity_type="privacy_policy_version", entity_id=version.id,
        after={"document": document.value, "version": version.version, "requires_consent": requires_consent,
               "effective_at": version.effective_at.isoformat(), "text_hash": version.text_hash},
        organization_id=None,
    )  # fmt: skip
    return version
