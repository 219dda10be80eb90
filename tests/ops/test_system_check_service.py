"""run_check is idempotent under duplicate delivery, fenced by the attempt number, and reaped when abandoned."""

from __future__ import annotations

from sqlalchemy import text

from tests.security.test_rls import _seed_checks
from webapp.core.pubsub import make_redis
from webapp.ops import service
from webapp.ops.probes import heartbeat_worker


async def _only_check_id(owner_engine, org_id):
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(text("SELECT id FROM system_checks WHERE organization_id = :o"), {"o": org_id})
        ).scalar_one()


async def test_duplicate_delivery_runs_once(maker, factory, settings, owner_engine):
    member = await factory.org_with_owner()
    await _seed_checks(maker, member, 1)
    check_id = await _only_check_id(owner_engine, member.org_id)
    redis = make_redis(settings.redis_url)
    try:
        await heartbeat_worker(redis, settings.redis_namespace)
        kwargs = dict(namespace=settings.redis_namespace, queue_name="none", org_id=member.org_id, check_id=check_id)
        first = await service.run_check(maker, redis, **kwargs)
        second = await service.run_check(maker, redis, **kwargs)
    finally:
        await redis.aclose()
    assert str(first) == "succeeded" and second is None
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT attempt, progress, status FROM system_checks WHERE id = :i"), {"i": check_id}
            )
        ).one()
    assert tuple(row) == (1, 100, "succeeded")


async def test_stale_running_check_is_reclaimed_with_a_new_attempt(maker, factory, settings, owner_engine):
    member = await factory.org_with_owner()
    await _seed_checks(maker, member, 1)
    check_id = await _only_check_id(owner_engine, member.org_id)
    async with owner_engine.begin() as conn:  # a worker died mid-run three minutes ago
        await conn.execute(
            text(
                "UPDATE system_checks SET status = 'running', attempt = 1, "
                "heartbeat_at = now() - interval '3 minutes' WHERE id = :i"
            ),
            {"i": check_id},
        )
    redis = make_redis(settings.redis_url)
    try:
        status = await service.run_check(
            maker, redis, namespace=settings.redis_namespace, queue_name="none", org_id=member.org_id, check_id=check_id
        )
    finally:
        await redis.aclose()
    assert status is not None
    async with owner_engine.connect() as conn:
        attempt = (
            await conn.execute(text("SELECT attempt FROM system_checks WHERE id = :i"), {"i": check_id})
        ).scalar_one()
    assert attempt == 2


async def test_reaper_fails_abandoned_checks_and_audits(maker, factory, settings, owner_engine, count_rows):
    member = await factory.org_with_owner()
    await _seed_checks(maker, member, 1)
    check_id = await _only_check_id(owner_engine, member.org_id)
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE system_checks SET status = 'running', attempt = 1, "
                "heartbeat_at = now() - interval '5 minutes' WHERE id = :i"
            ),
            {"i": check_id},
        )
    redis = make_redis(settings.redis_url)
    try:
        reaped = await service.reap_abandoned_checks(maker, redis, settings.redis_namespace)
    finally:
        await redis.aclose()
    assert reaped >= 1
    assert (
        await count_rows(
            "system_checks", "id = :i AND status = 'failed' AND error LIKE '%stopped responding%'", i=check_id
        )
        == 1
    )
    assert await count_rows("audit_logs", "action = 'system_check.reaped' AND entity_id = :i", i=str(check_id)) == 1
