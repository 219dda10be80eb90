"""API rate limits: sliding windows of one minute in Redis (the `limits` library's sliding-window counter), one per
API key, per user and per organization (the plan's limit, else the platform setting) — or per address for a caller
without credentials. Every API answer carries the tightest window as `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (IETF draft); a request over any window is a 429 with `Retry-After`. The windows live in Redis, so
every web process counts against the same numbers.

Limits are read from settings and plans at most every CACHE_SECONDS per process: a changed limit takes effect
within that time; revocation and membership are not cached here (the principal checks them on every request)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import NoScriptError
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.core.tenancy import RequestContext

CACHE_SECONDS = 30
SETTING_KEYS = ("api.rate_limit_key", "api.rate_limit_user", "api.rate_limit_organization", "api.rate_limit_address")


@dataclass(frozen=True)
class Window:
    """One counted window after this request: whose, its limit, what is left and seconds until it is whole again."""

    subject: str  # key, user, organization or address
    limit: int
    remaining: int
    reset: int
    allowed: bool


def _storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class _Cached:
    """Values kept for CACHE_SECONDS in this process."""

    def __init__(self) -> None:
        self.values: dict[object, tuple[float, object]] = {}

    def get(self, key):
        found = self.values.get(key)
        return found[1] if found and found[0] > time.monotonic() else None

    def put(self, key, value) -> None:
        if len(self.values) > 10_000:  # organizations come and go: never grow without bound
            self.values.clear()
        self.values[key] = (time.monotonic() + CACHE_SECONDS, value)


class ApiLimiter:
    """Counts API requests against their windows."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        self.storage = RedisStorage(
            _storage_uri(redis_url), implementation="redispy", key_prefix=f"{namespace}:apilimits"
        )
        self.bridge = self.storage.bridge
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.cache = _Cached()

    async def platform_limits(self, session: AsyncSession) -> dict:
        """The platform's settings: requests a minute per key, user, organization and address."""
        values = self.cache.get("settings")
        if values is None:
            from webapp.settings import queries as settings

            values = await settings.values_of(session, list(SETTING_KEYS))
            self.cache.put("settings", values)
        return values

    async def limits_for(self, session: AsyncSession, ctx: RequestContext) -> list[tuple[str, str, int]]:
        """(subject, identity, requests per minute) for each window this caller counts against."""
        values = await self.platform_limits(session)
        if ctx.user_id is None and ctx.api_key_id is None:
            return [("address", ctx.ip or "unknown", int(values["api.rate_limit_address"]))]
        windows = []
        if ctx.api_key_id is not None:
            windows.append(("key", str(ctx.api_key_id), int(values["api.rate_limit_key"])))
        if ctx.user_id is not None:
            windows.append(("user", str(ctx.user_id), int(values["api.rate_limit_user"])))
        if ctx.org_id is not None:
            org_limit = await self._organization_limit(session, ctx.org_id)
            windows.append(("organization", str(ctx.org_id), org_limit or int(values["api.rate_limit_organization"])))
        return windows

    async def _organization_limit(self, session: AsyncSession, org_id: uuid.UUID) -> int | None:
        cached = self.cache.get(("org", org_id))
        if cached is not None:
            return cached or None
        from webapp.billing import entitlements

        try:
            limit = (await entitlements.standing(session, org_id)).plan.api_requests_per_minute
        except LookupError:  # an organization without a subscription row: the platform's number
            limit = None
        self.cache.put(("org", org_id), limit or 0)
        return limit

    async def hit(self, windows: list[tuple[str, str, int]]) -> list[Window]:
        """Count this request in every window and report them, in one Redis round trip: the `limits` library's own
        sliding-window scripts (acquire, then read the window) for each window, pipelined."""
        items = [(subject, ident, RateLimitItemPerMinute(limit)) for subject, ident, limit in windows]
        try:
            replies = await self._pipelined(items)
        except NoScriptError:  # Redis restarted or was flushed since the scripts were registered
            for script in (self.bridge.lua_acquire_sliding_window, self.bridge.lua_sliding_window):
                script.sha = await script.registered_client.script_load(script.script)
            replies = await self._pipelined(items)
        now = time.time()
        return [
            _window(subject, item, bool(acquired), _sliding(window), now)
            for (subject, _, item), acquired, window in zip(items, replies[::2], replies[1::2], strict=True)
        ]

    async def _pipelined(self, items) -> list:
        acquire, read = self.bridge.lua_acquire_sliding_window, self.bridge.lua_sliding_window
        async with self.bridge.get_connection().pipeline(transaction=False) as pipe:
            for subject, ident, item in items:
                key = item.key_for(subject, ident)
                keys = (
                    self.bridge.prefixed_key(self.storage._previous_window_key(key)),
                    self.bridge.prefixed_key(self.storage._current_window_key(key)),
                )
                # evalsha straight away: a pipeline that knows its scripts asks SCRIPT EXISTS first, a second trip
                pipe.evalsha(acquire.sha, 2, *keys, item.amount, item.get_expiry(), 1)
                pipe.evalsha(read.sha, 2, *keys, item.get_expiry())
            return await pipe.execute()

    async def current(self, windows: list[tuple[str, str, int]]) -> list[Window]:
        """The windows as they stand, without counting (the API page shows them)."""
        items = [(subject, ident, RateLimitItemPerMinute(limit)) for subject, ident, limit in windows]
        stats = await asyncio.gather(
            *(self.strategy.get_window_stats(item, subject, ident) for subject, ident, item in items)
        )
        now = time.time()
        return [
            Window(subject, item.amount, max(0, stat.remaining), max(1, math.ceil(stat.reset_time - now)), True)
            for (subject, _, item), stat in zip(items, stats, strict=True)
        ]


def _sliding(window) -> tuple[int, float, int, float]:
    """The sliding-window script's answer as the library reads it: counts and seconds to expiry (as
    RedispyBridge.get_sliding_window)."""
    if not window:
        return 0, 0.0, 0, 0.0
    return (int(window[0] or 0), max(0, float(window[1] or 0)) / 1000,
            int(window[2] or 0), max(0, float(window[3] or 0)) / 1000)  # fmt: skip


def _window(subject: str, item, allowed: bool, sliding: tuple[int, float, int, float], now: float) -> Window:
    """A counted window, with remaining and reset as SlidingWindowCounterRateLimiter.get_window_stats computes them."""
    previous_count, previous_expires_in, current_count, current_expires_in = sliding
    expiry = item.get_expiry()
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, item.amount - math.floor(weighted))
    reset_in = 0.0
    if previous_count or current_count:
        previous_reset_in = previous_expires_in % (expiry / previous_count) if previous_count else math.inf
        current_reset_in = current_expires_in % expiry if current_count else math.inf
        reset_in = min(previous_reset_in, current_reset_in)
    return Window(subject, item.amount, remaining, max(1, math.ceil(reset_in)), allowed)


def binding(windows: list[Window]) -> Window | None:
    """The window the caller should read: a refused one (the latest to reopen), else the one with least left."""
    refused = [w for w in windows if not w.allowed]
    if refused:
        return max(refused, key=lambda w: w.reset)
    return min(windows, key=lambda w: (w.remaining, -w.reset), default=None)


def headers(window: Window) -> dict[str, str]:
    """The IETF draft's three headers for a window."""
    return {"RateLimit-Limit": str(window.limit), "RateLimit-Remaining": str(window.remaining),
            "RateLimit-Reset": str(window.reset)}  # fmt: skip
