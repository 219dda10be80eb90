"""Verifying providers' webhooks on the raw body, each with its own scheme through its own library:

* Stripe (and the built-in sandbox, which signs the same way): `Stripe-Signature: t=…,v1=…` checked by
  `stripe.WebhookSignature.verify_header` with a 300 s tolerance; the `whsec_…` secret is used as it is.
* Polar and Dodo: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) checked by
  `standardwebhooks.Webhook`; for Polar its legacy secret form too (the whole secret's UTF-8 bytes as the key,
  which is what Polar's SDK did before the standard `whsec_` base64 form).

Several configured secrets (a rotation) are each tried; a header with several signatures passes when one matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import standardwebhooks
import stripe

from webapp.billing.enums import Provider

TOLERANCE_SECONDS = 300
STRIPE_SCHEME = (Provider.STRIPE, Provider.SANDBOX)


class SignatureError(Exception):
    """The body is not what the provider signed (or no signature, or too old): nothing may be stored."""


@dataclass(frozen=True)
class VerifiedEvent:
    """An event whose signature checked out: its id (the dedupe key), type, when it happened, the parsed body."""

    provider: Provider
    event_id: str
    type: str
    occurred_at: datetime | None
    payload: dict


def _stripe_scheme(body: str, headers, secrets: list[str]) -> None:
    header = headers.get("Stripe-Signature")
    if not header:
        raise SignatureError("no Stripe-Signature header")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance=TOLERANCE_SECONDS)
            return
        except (stripe.SignatureVerificationError, ValueError):
            continue
    raise SignatureError("no signature matches")


def _standard_keys(provider: Provider, secret: str) -> list[str | bytes]:
    keys: list[str | bytes] = []
    if secret.startswith("whsec_") or provider == Provider.DODO:
        keys.append(secret)  # the standard form: base64 after the prefix
    if provider == Provider.POLAR:
        keys.append(secret.encode())  # Polar's legacy form: the secret's own bytes
    return keys


def _standard_scheme(provider: Provider, body: str, headers, secrets: list[str]) -> None:
    plain = {key.lower(): value for key, value in headers.items()}
    if not all(plain.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    for secret in secrets:
        for key in _standard_keys(provider, secret):
            try:
                standardwebhooks.Webhook(key).verify(body, plain, json_parse=False)
                return
            except Exception:  # the library raises ValueError/binascii.Error on malformed signatures, not only its own
                continue
    raise SignatureError("no signature matches")


def moment(value) -> datetime | None:
    """A provider's time: Unix seconds or ISO 8601 (naive means UTC); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def verify(provider: Provider, raw: bytes, headers, secrets: list[str], parsed: object = None) -> VerifiedEvent:
    """The verified event, or SignatureError (a body that is not UTF-8 JSON with an id and a type counts as
    unverifiable too: a provider never sends one). `parsed`: the body already decoded at the edge, if it was."""
    if not secrets:
        raise SignatureError(f"no webhook secret is configured for {provider}")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureError("the body is not UTF-8") from exc
    if provider in STRIPE_SCHEME:
        _stripe_scheme(body, headers, secrets)
    else:
        _standard_scheme(provider, body, headers, secrets)
    try:
        payload = parsed if isinstance(parsed, dict) else json.loads(body)
    except ValueError as exc:
        raise SignatureError("the signed body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise SignatureError("the signed body has no event type")
    if provider in STRIPE_SCHEME:
        event_id, occurred = payload.get("id"), moment(payload.get("created"))
    else:
        plain = {k.lower(): v for k, v in headers.items()}
        event_id, occurred = plain["webhook-id"], moment(payload.get("timestamp"))
        if occurred is None and plain["webhook-timestamp"].isdigit():
            occurred = moment(int(plain["webhook-timestamp"]))
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
        raise SignatureError("the signed body has no event id")
    return VerifiedEvent(provider, event_id, payload["type"][:120], occurred, payload)


def stripe_header(body: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `body`, made by stripe's own signer (the sandbox's deliveries, and tests)."""
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
