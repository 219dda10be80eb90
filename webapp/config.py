"""Typed settings read from the environment (see README "Configuration")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the web, worker and scheduler processes read from the environment."""

    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    environment: str = "development"
    app_db_role: str = "closedloop_app"
    redis_namespace: str = "closedloop"
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    cookie_secure: bool = False
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    max_body_bytes: int = 1024 * 1024
    db_pool_size: int = 10
    db_max_overflow: int = 0  # overflow connections are closed on return: under load, a new connection per request
    db_idle_transaction_seconds: int = 60  # Postgres ends a transaction left idle this long (0: never)
    log_level: str = "INFO"
    log_json: bool = True
    demo_password: str = "moonbase-alpha-2031"
    task_idle_timeout_seconds: int = 3600
    queue_maxlen: int = 100_000
    simulation_stale_seconds: int = 60
    simulation_max_attempts: int = 3
    embedded: bool = False
    git_sha: str = ""
    smtp_url: str = ""
    mail_from: str = "ClosedLoop <no-reply@closedloop.test>"
    login_max_failures_per_account_ip: int = 5
    login_max_failures_per_account: int = 20
    login_max_attempts_per_ip: int = 60
    login_lock_minutes: int = 15
    signups_per_ip_hour: int = 10
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    trusted_proxies: str = ""
    object_store_url: str = ""
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_quota_bytes: int = 5 * 1024**3
    billing_provider: str = "sandbox"
    # each: one secret, or several separated by commas while a rotation is under way
    sandbox_webhook_secret: str = ""
    stripe_webhook_secret: str = ""
    polar_webhook_secret: str = ""
    dodo_webhook_secret: str = ""
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    polar_access_token: str = ""
    polar_api_base: str = "https://api.polar.sh"
    polar_products: str = ""  # plan:interval=product id, comma-separated
    dodo_api_key: str = ""
    dodo_api_base: str = "https://live.dodopayments.com"
    dodo_products: str = ""
    internal_usage_tokens: str = ""  # who may call POST /internal/usage/record (comma-separated while rotating)
    internal_privacy_tokens: str = ""  # who may call POST /internal/privacy/process/{id}
    audit_signing_key: str = ""  # base64 of a 32-byte Ed25519 seed: signs the daily audit checkpoints
    webhooks_allow_loopback: bool = False  # outside production only: tenants' webhooks may go to 127.0.0.1

    def webhook_secrets(self, provider: str) -> list[str]:
        """The provider's webhook signing secrets (several during a rotation); the sandbox's derives from
        SECRET_KEY unless set."""
        raw = getattr(self, f"{provider}_webhook_secret", "")
        if not raw and provider == "sandbox":
            digest = hmac.new(self.secret_key.encode(), b"sandbox-webhooks", hashlib.sha256).hexdigest()
            return [f"whsec_{digest[:40]}"]
        return [part.strip() for part in raw.split(",") if part.strip()]

    def internal_tokens(self, scope: str) -> list[str]:
        """The service credentials of one internal route group; outside production an unset one derives from
        SECRET_KEY (so workers and tests share it without configuration), in production unset means none."""
        raw = getattr(self, f"internal_{scope}_tokens", "")
        if not raw and not self.is_production:
            digest = hmac.new(self.secret_key.encode(), f"internal:{scope}".encode(), hashlib.sha256).hexdigest()
            return [f"cl_int_{digest[:40]}"]
        return [part.strip() for part in raw.split(",") if len(part.strip()) >= 32]

    def audit_signing_seed(self) -> bytes | None:
        """The Ed25519 seed audit checkpoints are signed with; outside production an unset one derives from
        SECRET_KEY, in production unset means no checkpoints (and a logged error each day)."""
        if self.audit_signing_key:
            seed = base64.b64decode(self.audit_signing_key)
            if len(seed) != 32:
                raise ValueError("AUDIT_SIGNING_KEY must be the base64 of 32 bytes")
            return seed
        if self.is_production:
            return None
        return hashlib.sha256(f"audit-checkpoint:{self.secret_key}".encode()).digest()

    @property
    def is_production(self) -> bool:
        """True when running with production hardening (secure cookies, HSTS)."""
        return self.environment == "production"

    def with_overrides(self, **changes) -> "Settings":
        """Return a copy with some fields replaced (tests and the dev runner use it)."""
        return replace(self, **changes)


def load_settings() -> Settings:
    """Build Settings from os.environ (a `.env` file in the checkout fills in what the environment leaves unset),
    refusing unsafe production values."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    env = os.environ.get("CLOSEDLOOP_ENV", "development")
    secret = os.environ.get("SECRET_KEY", "")
    if not secret:
        if env == "production":
            raise SystemExit("SECRET_KEY must be set in production")
        secret = _dev_secret()
    port = _int("PORT", 8000)
    host = os.environ.get("HOST", "127.0.0.1")
    return Settings(
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=os.environ.get("REDIS_URL", ""),
        secret_key=secret,
        environment=env,
        app_db_role=os.environ.get("DATABASE_APP_ROLE", "closedloop_app"),
        redis_namespace=os.environ.get("REDIS_NAMESPACE", "closedloop"),
        host=host,
        port=port,
        base_url=os.environ.get("BASE_URL", f"http://{host}:{port}"),
        cookie_secure=_bool(os.environ.get("COOKIE_SECURE"), env == "production"),
        session_idle_minutes=_int("SESSION_IDLE_MINUTES", 60),
        session_absolute_hours=_int("SESSION_ABSOLUTE_HOURS", 12),
        max_body_bytes=_int("MAX_BODY_BYTES", 1024 * 1024),
        db_pool_size=_int("DB_POOL_SIZE", 10),
        db_max_overflow=_int("DB_MAX_OVERFLOW", 0),
        db_idle_transaction_seconds=_int("DB_IDLE_TRANSACTION_SECONDS", 60),
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        log_json=_bool(os.environ.get("LOG_JSON"), True),
        demo_password=os.environ.get("CLOSEDLOOP_DEMO_PASSWORD", "moonbase-alpha-2031"),
        task_idle_timeout_seconds=_int("TASK_IDLE_TIMEOUT_SECONDS", 3600),
        queue_maxlen=_int("QUEUE_MAXLEN", 100_000),
        simulation_stale_seconds=_int("SIMULATION_STALE_SECONDS", 60),
        simulation_max_attempts=_int("SIMULATION_MAX_ATTEMPTS", 3),
        embedded=_bool(os.environ.get("CLOSEDLOOP_EMBEDDED"), False),
        git_sha=os.environ.get("GIT_SHA", ""),
        smtp_url=os.environ.get("SMTP_URL", ""),
        mail_from=os.environ.get("MAIL_FROM", "ClosedLoop <no-reply@closedloop.test>"),
        login_max_failures_per_account_ip=_int("LOGIN_MAX_FAILURES_PER_ACCOUNT_IP", 5),
        login_max_failures_per_account=_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 20),
        login_max_attempts_per_ip=_int("LOGIN_MAX_ATTEMPTS_PER_IP", 60),
        login_lock_minutes=_int("LOGIN_LOCK_MINUTES", 15),
        signups_per_ip_hour=_int("SIGNUPS_PER_IP_HOUR", 10),
        access_token_minutes=_int("ACCESS_TOKEN_MINUTES", 15),
        refresh_token_days=_int("REFRESH_TOKEN_DAYS", 30),
        trusted_proxies=os.environ.get("TRUSTED_PROXIES", "").strip(),
        object_store_url=os.environ.get("OBJECT_STORE_URL", "").strip(),
        attachment_max_bytes=_int("ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024),
        attachment_quota_bytes=_int("ATTACHMENT_QUOTA_BYTES", 5 * 1024**3),
        billing_provider=_choice("BILLING_PROVIDER", "sandbox", ("sandbox", "stripe", "polar", "dodo")),
        sandbox_webhook_secret=os.environ.get("SANDBOX_WEBHOOK_SECRET", "").strip(),
        stripe_webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip(),
        polar_webhook_secret=os.environ.get("POLAR_WEBHOOK_SECRET", "").strip(),
        dodo_webhook_secret=os.environ.get("DODO_WEBHOOK_SECRET", "").strip(),
        stripe_api_key=os.environ.get("STRIPE_API_KEY", "").strip(),
        stripe_api_base=os.environ.get("STRIPE_API_BASE", "").strip() or "https://api.stripe.com",
        polar_access_token=os.environ.get("POLAR_ACCESS_TOKEN", "").strip(),
        polar_api_base=os.environ.get("POLAR_API_BASE", "").strip() or "https://api.polar.sh",
        polar_products=os.environ.get("POLAR_PRODUCTS", "").strip(),
        dodo_api_key=os.environ.get("DODO_API_KEY", "").strip(),
        dodo_api_base=os.environ.get("DODO_API_BASE", "").strip() or "https://live.dodopayments.com",
        dodo_products=os.environ.get("DODO_PRODUCTS", "").strip(),
        internal_usage_tokens=os.environ.get("INTERNAL_USAGE_TOKENS", "").strip(),
        internal_privacy_tokens=os.environ.get("INTERNAL_PRIVACY_TOKENS", "").strip(),
        audit_signing_key=os.environ.get("AUDIT_SIGNING_KEY", "").strip(),
        webhooks_allow_loopback=_bool(os.environ.get("WEBHOOKS_ALLOW_LOOPBACK"), False),
    )


def _dev_secret() -> str:
    """A per-checkout secret kept in var/ so dev sessions survive restarts."""
    path = PROJECT_ROOT / "var" / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value
