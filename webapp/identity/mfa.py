"""TOTP multi-factor authentication: enrolment, verification without replay, recovery codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from datetime import UTC, datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core import audit
from webapp.core.errors import BadRequest, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext
from webapp.identity.models import MfaRecoveryCode, User
from webapp.identity.service import check_current_password
from webapp.security.enums import SecurityEventType, Severity
from webapp.security.service import record_event

ISSUER = "ClosedLoop"
RECOVERY_CODES = 10
ENROLMENT_SECONDS = 15 * 60


def _fernet(secret_key: str) -> Fernet:
    # a key of its own, derived from SECRET_KEY: rotating SECRET_KEY means re-enrolling MFA
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"closedloop-mfa", info=b"totp-secret").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, totp_secret: str) -> str:
    """Encrypt a TOTP secret for the database or a hidden form field."""
    return _fernet(secret_key).encrypt(totp_secret.encode()).decode()


def unseal(secret_key: str, sealed: str, ttl: int | None = None) -> str:
    """Decrypt a sealed TOTP secret; a 400 when it was tampered with or is older than `ttl` seconds."""
    try:
        return _fernet(secret_key).decrypt(sealed.encode(), ttl=ttl).decode()
    except (InvalidToken, ValueError) as exc:
        raise BadRequest("The set-up expired. Start again.") from exc


def new_enrolment(email: str) -> tuple[str, str]:
    """A fresh secret and the otpauth:// URI an authenticator app scans."""
    secret = pyotp.random_base32()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG data URI rendered on the server (CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def matching_step(secret: str, code: str, last_step: int | None, at: float | None = None) -> int | None:
    """The 30-s step whose code this is (±1 step of clock drift), or None; a step already used never matches."""
    code = (code or "").replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp, now = pyotp.TOTP(secret), at or time.time()
    current = totp.timecode(datetime.fromtimestamp(now, UTC))
    for step in (current - 1, current, current + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _code_hash(code: str) -> bytes:
    return hashlib.sha256(code.replace("-", "").lower().encode()).digest()


async def _new_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(7)).decode().lower()[:10]  # 50 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(MfaRecoveryCode(id=new_id(), user_id=user_id, code_hash=_code_hash(raw)))
    await session.flush()
    return codes


async def enable_mfa(
    session: AsyncSession,
    ctx: RequestContext,
    user: User,
    *,
    secret_key: str,
    sealed_secret: str,
    code: str,
    password: str,
) -> list[str]:
    """Turn MFA on after re-authentication and one valid code; returns the recovery codes (shown once)."""
    await check_current_password(user, password)
    secret = unseal(secret_key, sealed_secret, ttl=ENROLMENT_SECONDS)
    step = matching_step(secret, code, None)
    if step is None:
        raise ValidationError(details={"fields": {"code": ["That code does not match. Check the time on your phone."]}})
    user.mfa_secret, user.mfa_enabled_at, user.mfa_last_step = seal(secret_key, secret), datetime.now(UTC), step
    codes = await _new_recovery_codes(session, user.id)
    await audit.record(session, ctx, "user.mfa_enabled", entity_type="user", entity_id=user.id, organization_id=None)
    await record_event(session, ctx, SecurityEventType.MFA_ENROLLED, user_id=user.id, organization_id=None)
    return codes


async def disable_mfa(
    session: AsyncSession, ctx: RequestContext, user: User, *, secret_key: str, code: str, password: str
) -> None:
    """Turn MFA off after re-authentication and a valid code."""
    await check_current_password(user, password)
    if not await verify_second_factor(session, ctx, user, secret_key=secret_key, code=code):
        raise ValidationError(details={"fields": {"code": ["That code does not match."]}})
    user.mfa_secret = user.mfa_enabled_at = user.mfa_last_step = None
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    await audit.record(session, ctx, "user.mfa_disabled", entity_type="user", entity_id=user.id, organization_id=None)
    await record_event(
        session, ctx, SecurityEventType.MFA_DISABLED, user_id=user.id, organization_id=None, severity=Severity.WARNING
    )


async def regenerate_recovery_codes(
    session: AsyncSession, ctx: RequestContext, user: User, *, password: str
) -> list[str]:
    """Replace every recovery code (the old ones stop working)."""
    await check_current_password(user, password)
    codes = await _new_recovery_codes(session, user.id)
    await audit.record(
        session, ctx, "user.mfa_recovery_codes_regenerated", entity_type="user", entity_id=user.id, organization_id=None
    )
    return codes


async def verify_second_factor(
    session: AsyncSession, ctx: RequestContext, user: User, *, secret_key: str, code: str
) -> bool:
    """A current TOTP code (each step usable once) or an unused recovery code; failures are recorded."""
    if user.mfa_secret is None:
        return False
    step = matching_step(unseal(secret_key, user.mfa_secret), code, user.mfa_last_step)
    if step is not None:
        # conditional update: two concurrent requests with the same code cannot both succeed
        result = await session.execute(
            update(User)
            .where(User.id == user.id, (User.mfa_last_step.is_(None)) | (User.mfa_last_step < step))
            .values(mfa_last_step=step)
        )
        if result.rowcount:
            user.mfa_last_step = step
            return True
    cleaned = (code or "").strip()
    if 10 <= len(cleaned.replace("-", "")) <= 11:
        used = await session.execute(
            update(MfaRecoveryCode)
            .where(
                MfaRecoveryCode.user_id == user.id,
                MfaRecoveryCode.code_hash == _code_hash(cleaned),
                MfaRecoveryCode.used_at.is_(None),
            )
            .values(used_at=datetime.now(UTC))
        )
        if used.rowcount:
            await record_event(
                session,
                ctx,
                SecurityEventType.MFA_RECOVERY_USED,
                user_id=user.id,
                organization_id=None,
                severity=Severity.WARNING,
            )
            return True
    await record_event(
        session, ctx, SecurityEventType.MFA_FAILED, user_id=user.id, organization_id=None, severity=Severity.WARNING
    )
    return False


async def remaining_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    """How many recovery codes are still unused."""
    from sqlalchemy import func

    stmt = (
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one()
