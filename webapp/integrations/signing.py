"""Endpoint secrets (`whsec_` + base64 of 32 random bytes, the Standard Webhooks form) kept encrypted, and the
signature headers every delivery carries, made by the `standardwebhooks` library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from standardwebhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def hint(secret: str) -> str:
    """What the pages show of a secret: the prefix and four characters."""
    return secret[: len(PREFIX) + 4] + "…"


def _fernet(secret_key: str) -> Fernet:
    key = hmac.new(secret_key.encode(), b"webhook-endpoint-secrets", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, secret_key: str) -> str:
    """Encrypt a signing secret for the database."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str | None:
    """The signing secret again (None when SECRET_KEY changed since: the endpoint needs a new secret)."""
    try:
        return _fernet(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def headers(signing_secrets: list[str], msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` — one `v1,` signature per live secret, separated
    by spaces, so a receiver holding either secret during a rotation verifies the message."""
    signatures = " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in signing_secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signatures}  # fmt: skip
