"""API rate limits across two web processes sharing Redis: every API answer carries RateLimit-Limit / -Remaining /
-Reset for its tightest window; past the organization's limit (its plan's number) either process answers 429 with
Retry-After and the error body, and a plan without its own number falls back to the platform's setting."""

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
