"""The audit log's hash chains: rows written through the services form one valid chain per organization, even from
many concurrent writers; the verifier names the first row a superuser changed, deleted or reordered behind the app's
back (and a row slipped in outside the chain); the command line says the same with its exit status."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import text

from tests.helpers import login
from webapp.audit.verify import verify_chain
from webapp.core import audit
from webapp.core.tenancy import RequestContext, enable_rls_bypass, scope_session
from webapp.core.transaction import unit_of_work

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _verify(maker, org_id):
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify a chain")
        return await verify_chain(session, org_id)


async def _write(maker, org_id, n: int, action: str = "test.event") -> None:
    async with unit_of_work(maker) as session:
        await scope_session(session, org_id=org_id)
        for i in range(n):
            await audit.record(
                session,
                RequestContext(org_id=org_id, ip="2001:DB8::1"),
                action,
                entity_type="test",
                entity_id=i,
                after={"n": i, "ratio": 2.0, "name": "Ada"},
            )


async def _as_superuser(owner_engine, sql: str, **params) -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(text(sql), params)


async def _rows(owner_engine, org_id) -> list:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT id, chain_seq FROM audit_logs WHERE organization_id = :o ORDER BY chain_seq"),
                {"o": org_id},
            )
        ).all()


async def test_concurrent_writers_to_one_organization_keep_one_valid_chain(app, factory, maker, owner_engine):
    owner = await factory.org_with_owner()
    await asyncio.gather(*[_write(maker, owner.org_id, 5) for _ in range(12)])
    client = app.test_client()
    await login(client, owner.email, owner.password)  # rows written by the app's own requests join the chain too
    report = await _verify(maker, owner.org_id)
    assert report.ok, report.broken
    rows = await _rows(owner_engine, owner.org_id)
    assert [r.chain_seq for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 60
    assert report.rows == len(rows) == report.head_seq
    platform = await _verify(maker, None)  # sign-in rows that belong to no organization: the platform's chain
    assert platform.ok, platform.broken


async def test_the_verifier_names_the_first_row_changed_deleted_or_reordered_behind_the_apps_back(
    factory, maker, owner_engine
):
    cases = {}
    for case in ("content", "fact", "middle", "last", "swap", "outside"):
        owner = await factory.org_with_owner()
        await _write(maker, owner.org_id, 6)
        cases[case] = (owner.org_id, await _rows(owner_engine, owner.org_id))
        assert (await _verify(maker, owner.org_id)).ok

    org, rows = cases["content"]
    target = rows[-3]
    await _as_superuser(
        owner_engine, "UPDATE audit_logs SET after = jsonb_set(after, '{n}', '99') WHERE id = :i", i=target.id
    )
    broken = (await _verify(maker, org)).broken
    assert broken.row_id == target.id and "changed after it was written" in broken.problem

    org, rows = cases["fact"]
    await _as_superuser(owner_engine, "UPDATE audit_logs SET action = 'test.innocent' WHERE id = :i", i=rows[2].id)
    broken = (await _verify(maker, org)).broken
    assert broken.row_id == rows[2].id and "changed after it was written" in broken.problem

    org, rows = cases["middle"]
    await _as_superuser(owner_engine, "DELETE FROM audit_logs WHERE id = :i", i=rows[3].id)
    broken = (await _verify(maker, org)).broken
    assert broken.seq == rows[4].chain_seq and "missing" in broken.problem

    org, rows = cases["last"]
    await _as_superuser(owner_engine, "DELETE FROM audit_logs WHERE id = :i", i=rows[-1].id)
    broken = (await _verify(maker, org)).broken
    assert f"head says {len(rows)}" in broken.problem

    org, rows = cases["swap"]  # two rows trade places
    await _as_superuser(
        owner_engine,
        "UPDATE audit_logs SET chain_seq = CASE WHEN id = :a THEN CAST(:sb AS bigint) ELSE CAST(:sa AS bigint) END "
        "WHERE id IN (:a, :b)",
        a=rows[1].id,
        b=rows[2].id,
        sa=rows[1].chain_seq,
        sb=rows[2].chain_seq,
    )
    broken = (await _verify(maker, org)).broken
    assert broken.seq == rows[1].chain_seq and broken.row_id == rows[2].id

    org, rows = cases["outside"]
    await _as_superuser(
        owner_engine,
        "INSERT INTO audit_logs (id, created_at, organization_id, action, entity_type) "
        "VALUES (gen_random_uuid(), now(), :o, 'test.forged', 'test')",
        o=org,
    )
    assert "outside the chain" in (await _verify(maker, org)).broken.problem

    # the command line: 0 for a chain that holds, 1 naming the broken row
    slug_ok = await factory.org_with_owner()
    await _write(maker, slug_ok.org_id, 2)
    env = dict(os.environ)
    good = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "audit", "verify", "--org", slug_ok.org_slug],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0 and good.stdout.startswith("ok"), good.stdout + good.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "audit", "verify", "--org", str(cases["content"][0])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "BROKEN" in bad.stdout and str(cases["content"][1][-3].id) in bad.stdout


async def test_signed_checkpoints_catch_a_chain_rewritten_head_and_all(app, factory, maker, owner_engine, settings):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from webapp.audit.checkpoints import sign_heads

    owner = await factory.org_with_owner()
    await _write(maker, owner.org_id, 6)
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: sign heads")
        assert await sign_heads(session, settings.audit_signing_seed()) >= 1
        assert await sign_heads(session, settings.audit_signing_seed()) == 0  # nothing moved since
    pem = await (await app.test_client().get("/audit/public-key")).get_data()
    public = load_pem_public_key(pem)
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify with checkpoints")
        assert (await verify_chain(session, owner.org_id, public)).ok

    # someone with the database drops the last row and moves the head back: every link still holds…
    rows = await _rows(owner_engine, owner.org_id)
    async with owner_engine.begin() as conn:
        previous = (
            await conn.execute(text("SELECT row_hash FROM audit_logs WHERE id = :i"), {"i": rows[-2].id})
        ).scalar_one()
        await conn.execute(text("DELETE FROM audit_logs WHERE id = :i"), {"i": rows[-1].id})
        await conn.execute(
            text("UPDATE audit_chain_heads SET seq = :s, head_hash = :h WHERE chain_key = :o"),
            {"s": len(rows) - 1, "h": previous, "o": owner.org_id},
        )
    rewritten = await _verify(maker, owner.org_id)
    assert rewritten.ok, (rewritten, len(rows))
    # …but the signed checkpoint says there was one more
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify with checkpoints")
        broken = (await verify_chain(session, owner.org_id, public)).broken
    assert f"vouches for {len(rows)} rows" in broken.problem

    # and a checkpoint forged without the key is refused
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_checkpoints SET seq = :s, head_hash = :h WHERE chain_key = :o"),
            {"s": len(rows) - 1, "h": previous, "o": owner.org_id},
        )
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify with checkpoints")
        broken = (await verify_chain(session, owner.org_id, public)).broken
    assert "not signed by the platform's key" in broken.problem
