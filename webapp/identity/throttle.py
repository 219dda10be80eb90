"""Sign-in throttling that cannot be turned into a lock-out of someone else's account.

Three moving windows on Redis (the `limits` library):
* failures per (account, IP): a guesser on one address is slowed down without touching the owner elsewhere;
* failures per IP across accounts: credential stuffing from one address;
* failures per account across IPs: a distributed attack locks the account for a short, fixed time and
  emails the owner an unlock link, so the worst an attacker achieves is a lock the owner can lift at once.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as aioredis

from webapp.config import Settings

WINDOW_MINUTES = 15
ACCOUNT_WINDOW_MINUTES = 60


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in attempt may go ahead, and if not, when to retry and why."""

    allowed: bool
    retry_after: int = 0
    reason: str = ""


def _storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class LoginThrottle:
    """Counts failed sign-ins and answers whether the next attempt may run."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        storage = RedisStorage(
            _storage_uri(settings.redis_url), implementation="redispy", key_prefix=f"{settings.redis_namespace}:limits"
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.redis, self.namespace = redis, settings.redis_namespace
        self.pair = RateLimitItemPerMinute(settings.login_max_failures_per_account_ip, WINDOW_MINUTES)
        self.per_ip = RateLimitItemPerMinute(settings.login_max_attempts_per_ip, WINDOW_MINUTES)
        self.per_account = RateLimitItemPerMinute(settings.login_max_failures_per_account, ACCOUNT_WINDOW_MINUTES)
        self.lock_seconds = settings.login_lock_minutes * 60
        self.signups = RateLimitItemPerHour(settings.signups_per_ip_hour)

    def _lock_key(self, account: str) -> str:
        return f"{self.namespace}:login-lock:{account}"

    async def _retry_after(self, item, *ids: str) -> int:
        stats = await self.limiter.get_window_stats(item, *ids)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def check(self, account: str, ip: str) -> Verdict:
        """May this address try this account now? (`account` is the normalised email.)"""
        lock_ttl = await self.redis.ttl(self._lock_key(account))
        if lock_ttl and lock_ttl > 0:
            return Verdict(False, lock_ttl, "account_locked")
        if not await self.limiter.test(self.per_ip, ip):
            return Verdict(False, await self._retry_after(self.per_ip, ip), "ip")
        if not await self.limiter.test(self.pair, account, ip):
            return Verdict(False, await self._retry_after(self.pair, account, ip), "account_ip")
        return Verdict(True)

    async def record_failure(self, account: str, ip: str) -> bool:
        """Count a failure; True when it just locked the account (the caller emails the owner)."""
        await self.limiter.hit(self.per_ip, ip)
        await self.limiter.hit(self.pair, account, ip)
        if await self.limiter.hit(self.per_account, account):
            return False
        # SET NX: only the failure that crosses the line locks and notifies, not every later one
        return bool(await self.redis.set(self._lock_key(account), "1", ex=self.lock_seconds, nx=True))

    async def record_success(self, account: str, ip: str) -> None:
        """A correct password clears this address's failures for the account."""
        await self.limiter.clear(self.pair, account, ip)

    async def signup_verdict(self, ip: str) -> Verdict:
        """May this address create another account now? (sign-up also reveals taken emails: keep it slow)"""
        if await self.limiter.test(self.signups, "signup", ip):
            return Verdict(True)
        return Verdict(False, await self._retry_after(self.signups, "signup", ip), "signup")

    async def record_signup(self, ip: str) -> None:
        """Count a sign-up attempt that reached the account checks."""
        await self.limiter.hit(self.signups, "signup", ip)

    async def unlock(self, account: str) -> None:
        """Lift a lock (the owner followed the unlock link, or an admin did)."""
        await self.redis.delete(self._lock_key(account))
        await self.limiter.clear(self.per_account, account)


def account_key(email: str) -> str:
    """Throttle identity of an email, whether or not an account exists (no enumeration)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "closedloop:" + email.strip().lower()).hex
