"""Switching the browser between the staff member's session and the impersonated one: the staff member's own
session token waits in a signed, HTTP-only cookie for the way back (its session stays valid server-side)."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import current_app, request
from quart_auth import AuthUser, current_user, login_user, logout_user

RETURN_COOKIE = "cl_staff_return"
MAX_AGE = 3600 + 300  # an impersonation lasts at most an hour


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="impersonation-return")


def switch_to(response, token: str) -> None:
    """Sign the browser in as the impersonated user, keeping the staff member's token for the way back."""
    staff_token = current_user.auth_id
    login_user(AuthUser(token))
    if staff_token:
        response.set_cookie(
            RETURN_COOKIE, _signer().dumps(staff_token), max_age=MAX_AGE, httponly=True, samesite="Lax",
            secure=current_app.config["QUART_AUTH_COOKIE_SECURE"], path="/",
        )  # fmt: skip


def switch_back(response) -> bool:
    """Sign the browser back in as the staff member (False when the return cookie is gone: signed out)."""
    raw = request.cookies.get(RETURN_COOKIE)
    response.delete_cookie(RETURN_COOKIE, path="/")
    try:
        staff_token = _signer().loads(raw, max_age=MAX_AGE) if raw else None
    except BadSignature:
        staff_token = None
    if staff_token:
        login_user(AuthUser(staff_token))
        return True
    logout_user()
    return False
