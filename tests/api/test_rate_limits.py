"""API rate limits across two web processes sharing Redis: every API answer carries RateLimit-Limit / -Remaining /
-Reset for its tightest window; past the organization's limit (its plan's number) either process answers 429 with
Retry-After and the error body, and a plan without its own number falls back to the platform's setting. Also: the
batched count agrees with the `limits` library's own reading, and revocation reaches every process at once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Stack

pytestmark = pytest.mark.live

LIMIT = 8


async def _give_plan_limit(owner_engine, org_id, limit: int) -> None:
    """A plan of the organization's own, a copy of its current one with an API limit (retired: never offered)."""
    async with owner_engine.begin() as conn:
        await conn.execute(text("""
            WITH copy AS (
                INSERT INTO billing_plans (id, key, version, name, description, status, is_default, currency,
                    monthly_price_minor, yearly_price_minor, seat_price_minor, included_seats, seat_limit,
                    mission_limit, storage_limit_bytes, monthly_run_limit, monthly_credits, api_requests_per_minute)
                SELECT gen_random_uuid(), 'ratelimited-' || substr(md5(random()::text), 1, 8), 1, 'Rate limited',
                    '', 'retired', false, p.currency, p.monthly_price_minor, p.yearly_price_minor,
                    p.seat_price_minor, p.included_seats, p.seat_limit, p.mission_limit, p.storage_limit_bytes,
                    p.monthly_run_limit, 0, :limit
                FROM billing_plans p JOIN billing_subscriptions s ON s.plan_id = p.id WHERE s.organization_id = :o
                RETURNING id
            )
            UPDATE billing_subscriptions SET plan_id = (SELECT id FROM copy), status = 'active'
            WHERE organization_id = :o
        """), {"o": org_id, "limit": limit})  # fmt: skip


@pytest.fixture(scope="module")
def second_web(live_stack):
    """Another web process on the same database and Redis as the live stack's."""
    with Stack(names=("web",), tag="-second-web") as stack:
        yield stack.url


async def test_two_processes_count_one_window_and_answer_429_with_the_headers(
    live_stack, second_web, factory, owner_engine
):
    owner = await factory.org_with_owner()
    await _give_plan_limit(owner_engine, owner.org_id, LIMIT)
    with httpx.Client(timeout=30) as http:
        login = http.post(f"{live_stack}/api/v1/auth/login", json={
            "email": owner.email, "password": owner.password, "organization": owner.org_slug})  # fmt: skip
        assert login.status_code == 201
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        remaining = []
        for n in range(LIMIT - 1):  # the login itself counted against the address, not the organization
            base = (live_stack, second_web)[n % 2]
            answer = http.get(f"{base}/api/v1/organizations/{owner.org_id}/missions", headers=auth)
            assert answer.status_code == 200, answer.text
            assert answer.headers["RateLimit-Limit"] == str(LIMIT)
            assert 1 <= int(answer.headers["RateLimit-Reset"]) <= 60
            remaining.append(int(answer.headers["RateLimit-Remaining"]))
        assert remaining == list(range(LIMIT - 1, 0, -1))  # both processes drew from one window
        last = http.get(f"{second_web}/api/v1/organizations/{owner.org_id}/missions", headers=auth)
        assert last.status_code == 200 and last.headers["RateLimit-Remaining"] == "0"
        for base in (live_stack, second_web):
            refused = http.get(f"{base}/api/v1/organizations/{owner.org_id}/missions", headers=auth)
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert refused.headers["RateLimit-Remaining"] == "0"
            body = refused.json()
            assert body["error"] == "RateLimited" and "organization" in body["message"]
            assert body["details"]["retry_after"] == int(refused.headers["Retry-After"])

        other = await factory.org_with_owner()  # its plan sets no number: the platform's setting (3,000) counts
        login = http.post(f"{second_web}/api/v1/auth/login", json={
            "email": other.email, "password": other.password, "organization": other.org_slug})  # fmt: skip
        answer = http.get(f"{live_stack}/api/v1/organizations/{other.org_id}/missions",
                          headers={"Authorization": f"Bearer {login.json()['access_token']}"})  # fmt: skip
        assert answer.status_code == 200
        assert int(answer.headers["RateLimit-Limit"]) == 1200  # the person's window is tighter than 3,000
        anonymous = http.get(f"{second_web}/api/v1/billing/plans")
        assert anonymous.status_code == 200 and anonymous.headers["RateLimit-Limit"] == "300"  # the address's


async def test_one_round_trip_counts_as_the_library_does(settings):
    """ApiLimiter.hit pipelines the library's own scripts: what it reports is what the library itself reads."""
    import uuid

    from limits import RateLimitItemPerMinute

    from webapp.apiedge.ratelimit import ApiLimiter

    limiter = ApiLimiter(settings.redis_url, f"test-{uuid.uuid4().hex[:8]}")
    windows = [("key", "k1", 3), ("user", "u1", 5)]
    first = await limiter.hit(windows)
    assert [(w.subject, w.limit, w.remaining, w.allowed) for w in first] == [("key", 3, 2, True), ("user", 5, 4, True)]
    assert await limiter.strategy.hit(RateLimitItemPerMinute(3), "key", "k1")  # the library counts in the same window
    for subject, ident, limit in windows:
        stats = await limiter.strategy.get_window_stats(RateLimitItemPerMinute(limit), subject, ident)
        assert stats.remaining == {"key": 1, "user": 4}[subject]
    second = await limiter.hit(windows)
    assert [(w.remaining, w.allowed) for w in second] == [(0, True), (3, True)]
    third = await limiter.hit(windows)
    assert [w.allowed for w in third] == [False, True] and 1 <= third[0].reset <= 60
    assert (await limiter.current(windows))[1].remaining == 2  # the refused key window did not stop the user's count


async def _key_for(maker, member, permissions: list[str]) -> str:
    """An API key of `member`'s own, made through the service as the API keys page makes one."""
    from webapp.apikeys.service import create_key
    from webapp.core.tenancy import RequestContext, scope_session
    from webapp.core.transaction import unit_of_work
    from webapp.iam.catalog import system_role_permissions

    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=member.org_id, user_id=member.id)
        ctx = RequestContext(user_id=member.id, org_id=member.org_id, org_slug=member.org_slug, role=member.role,
                             permissions=system_role_permissions(member.role))  # fmt: skip
        _, raw = await create_key(session, ctx, name="poller", permissions=permissions, expires_at=None)
    return raw


async def test_a_revoked_key_or_a_removed_member_is_refused_at_once_by_every_process(
    live_stack, second_web, factory, maker, owner_engine
):
    """The hot reads (products and members with an API key) decide on every request in the database: no process
    keeps a key or a membership it has seen."""
    owner = await factory.org_with_owner()
    admin = await factory.member(owner, role="admin")
    raw = await _key_for(maker, admin, ["products:read", "members:read"])
    paths = [f"/api/v1/organizations/{owner.org_id}/products", f"/api/v1/organizations/{owner.org_id}/members"]

    def statuses(http) -> set[int]:
        return {http.get(base + path, headers={"Authorization": f"Bearer {raw}"}).status_code
                for base in (live_stack, second_web) for path in paths}  # fmt: skip

    async def change(sql: str) -> None:
        async with owner_engine.begin() as conn:
            await conn.execute(text(sql), {"u": admin.id, "o": owner.org_id})

    with httpx.Client(timeout=30) as http:
        for _ in range(2):  # the second round finds both processes warm (statements prepared, limits cached)
            assert statuses(http) == {200}
        await change("UPDATE api_keys SET enabled = false WHERE user_id = :u")
        assert statuses(http) == {401}
        await change("UPDATE api_keys SET enabled = true WHERE user_id = :u")
        assert statuses(http) == {200}
        await change("UPDATE memberships SET deleted_at = now() WHERE user_id = :u AND organization_id = :o")
        assert statuses(http) == {401}
        await change("UPDATE memberships SET deleted_at = NULL WHERE user_id = :u AND organization_id = :o")
        assert statuses(http) == {200}
        await change("UPDATE api_keys SET deleted_at = now() WHERE user_id = :u")
        assert statuses(http) == {401}
