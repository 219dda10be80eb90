"""Audit integrity beyond the command line: staff verify chains on their page and a broken chain opens a SEV1
incident; an organization downloads its export and checkpoints and the stand-alone script verifies them offline
(and names a row a superuser changed); retention archives an old month to object storage, drops its partition only
through the guarded owner function, and the chain still verifies from its anchor."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text

from tests.audit.test_chain import _as_superuser, _rows, _write
from tests.helpers import login
from webapp.audit import checkpoints, integrity, offline, retention
from webapp.audit.models import AuditArchive, AuditVerification
from webapp.audit.verify import verify_chain
from webapp.collaboration.storage import store_for
from webapp.core import audit
from webapp.core.ids import new_id
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.security.models import SecurityIncident

SEED = bytes(range(32))


async def _verify_now(maker, chain) -> AuditVerification:
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify a chain")
        [run_id] = await integrity.request(session, None, [chain])
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify a chain")
        return await integrity.run(session, run_id)


async def _incidents(maker, chain) -> list[SecurityIncident]:
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: read incidents")
        found = await session.execute(
            select(SecurityIncident).where(SecurityIncident.dedupe_key == f"{integrity.RULE}:{chain}")
        )
        return list(found.scalars())


async def test_staff_verify_chains_and_a_broken_chain_opens_one_sev1_incident(app, factory, maker, owner_engine):
    owner = await factory.org_with_owner(name="Jezero Recyclers")
    await _write(maker, owner.org_id, 4)
    staff = await factory.platform_admin()
    browser = app.test_client()
    token = await login(browser, staff.email, staff.password)
    queued = await browser.post("/admin/audit/integrity", form={"csrf_token": token, "chain": str(owner.org_id)})
    assert queued.status_code == 303
    async with unit_of_work(maker) as session:  # what the worker does with the queued run
        await enable_rls_bypass(session, reason="test")
        run = (await session.execute(
            select(AuditVerification).where(AuditVerification.chain_key == owner.org_id)
        )).scalar_one()  # fmt: skip
        assert run.status == "queued" and run.requested_by == staff.id
        done = await integrity.run(session, run.id)
        assert done.status == "ok" and done.rows == done.head_seq >= 4
    page = await (await browser.get("/admin/audit/integrity")).get_data(as_text=True)
    assert "Jezero Recyclers" in page and "holds" in page and "Platform (no organization)" in page
    assert (await browser.post("/admin/audit/integrity", form={"csrf_token": token, "chain": str(uuid.uuid4())})
            ).status_code == 404  # fmt: skip

    rows = await _rows(owner_engine, owner.org_id)
    await _as_superuser(owner_engine, "DELETE FROM audit_logs WHERE id = :i", i=rows[2].id)
    broken = await _verify_now(maker, owner.org_id)
    assert broken.status == "broken" and broken.broken_seq == rows[3].chain_seq and "missing" in broken.problem
    again = await _verify_now(maker, owner.org_id)  # the live incident gathers later findings
    [incident] = await _incidents(maker, owner.org_id)
    assert incident.severity == "sev1" and incident.rule == integrity.RULE and incident.status == "open"
    assert str(again.id) in (await (await browser.get(f"/admin/security/incidents/{incident.id}")).get_data(
        as_text=True))  # fmt: skip
    assert "did not verify" in await (await browser.get("/admin/audit/integrity")).get_data(as_text=True)

    outsider = app.test_client()
    await login(outsider, owner.email, owner.password)
    assert (await outsider.get("/admin/audit/integrity")).status_code == 404


def _offline(tmp_path, export: bytes, bundle: dict, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "rows.jsonl").write_bytes(export)
    (tmp_path / "checkpoints.json").write_text(json.dumps(bundle))
    return subprocess.run(  # the script as an organization downloads it, run by a plain interpreter
        [sys.executable, str(tmp_path / "verify.py"), str(tmp_path / "rows.jsonl"), str(tmp_path / "checkpoints.json"),
         *extra], capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


async def test_an_organization_verifies_its_export_and_checkpoints_offline(app, factory, maker, owner_engine, tmp_path):
    owner = await factory.org_with_owner()
    await _write(maker, owner.org_id, 5)
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: sign the heads")
        await checkpoints.sign_heads(session, app.extensions["closedloop"]["settings"].audit_signing_seed())
    await _write(maker, owner.org_id, 2)  # rows after the latest checkpoint still verify by their links
    client = app.test_client()
    await login(client, owner.email, owner.password)
    script = await client.get("/audit/verify_audit_export.py")
    assert script.status_code == 200 and "attachment" in script.headers["Content-Disposition"]
    (tmp_path / "verify.py").write_bytes(await script.get_data())
    export = await (await client.get(f"/o/{owner.org_slug}/audit.jsonl")).get_data()
    bundle = json.loads(await (await client.get(f"/o/{owner.org_slug}/audit/checkpoints.json")).get_data())
    assert bundle["chain"] == str(owner.org_id) and bundle["checkpoints"] and bundle["public_key_pem"]
    api = await (await client.get(f"/api/v1/organizations/{owner.org_id}/audit-logs/checkpoints")).get_json()
    assert {**api, "generated_at": None} == {**bundle, "generated_at": None}

    holds = _offline(tmp_path, export, bundle, "--complete")
    assert holds.returncode == 0, holds.stdout + holds.stderr
    assert holds.stdout.startswith(f"ok chain {owner.org_id}") and "1 of 1 checkpoints matched" in holds.stdout

    forged = dict(bundle, checkpoints=[dict(bundle["checkpoints"][0], head_hash="f" * 64)])
    refused = _offline(tmp_path, export, forged)
    assert refused.returncode == 1 and "signature is not the platform key's" in refused.stdout

    rows = await _rows(owner_engine, owner.org_id)
    await _as_superuser(owner_engine, "UPDATE audit_logs SET after = '{\"n\": 7}' WHERE id = :i", i=rows[3].id)
    changed = _offline(tmp_path, await (await client.get(f"/o/{owner.org_slug}/audit.jsonl")).get_data(), bundle)
    assert changed.returncode == 1 and f"row {rows[3].chain_seq} ({rows[3].id})" in changed.stdout

    await _as_superuser(owner_engine, "DELETE FROM audit_logs WHERE id = :i", i=rows[4].id)
    gap = _offline(tmp_path, await (await client.get(f"/o/{owner.org_slug}/audit.jsonl")).get_data(), bundle,
                   "--complete")  # fmt: skip
    assert gap.returncode == 1 and f"rows {rows[4].chain_seq}–{rows[4].chain_seq} are not in the export" in gap.stdout
    assert offline.source().startswith("#!/usr/bin/env python3")


async def _write_in(maker, org_id, when: datetime, n: int) -> None:
    """Rows as if written in another month (the app always writes now; retention needs old months)."""
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: rows of an old month")
        for i in range(n):
            await audit._chain(session, {
                "id": new_id(), "created_at": when.replace(minute=i), "organization_id": org_id,
                "actor_user_id": None, "impersonator_user_id": None, "action": "test.old", "entity_type": "test",
                "entity_id": str(i), "before": None, "after": {"n": i}, "metadata": {}, "request_id": None,
                "ip": None, "user_agent": None, "break_glass": False,
            })  # fmt: skip


async def test_retention_archives_an_old_month_drops_it_and_the_chain_still_verifies(app, factory, maker,
                                                                                     owner_engine):  # fmt: skip
    owner = await factory.org_with_owner()
    await _as_superuser(owner_engine, "CREATE TABLE IF NOT EXISTS audit_logs_p201801 PARTITION OF audit_logs "
                        "FOR VALUES FROM ('2018-01-01') TO ('2018-02-01')")  # fmt: skip
    await _write_in(maker, owner.org_id, datetime(2018, 1, 15, 12, tzinfo=UTC), 5)
    await _write(maker, owner.org_id, 3)
    before = await _rows(owner_engine, owner.org_id)
    async with unit_of_work(maker) as session:  # the guard: no archive recorded, nothing dropped
        await enable_rls_bypass(session, reason="test")
        try:
            await session.execute(text("SELECT drop_archived_audit_partition('audit_logs_p201801', 84)"))
        except Exception as exc:  # noqa: BLE001 - the database's refusal is what we assert
            assert "no archive of audit_logs_p201801" in str(exc)
        else:
            raise AssertionError("the partition was dropped without an archive")
    settings = app.extensions["closedloop"]["settings"]
    store = store_for(settings)
    done = await retention.retire_old_months(maker, store)
    assert [a.partition for a in done] == ["audit_logs_p201801"] and done[0].rows == 5
    async with owner_engine.connect() as conn:
        assert (await conn.execute(text("SELECT to_regclass('audit_logs_p201801')"))).scalar() is None
    after = await _rows(owner_engine, owner.org_id)
    assert len(after) == len(before) - 5

    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test")
        archive = (await session.execute(
            select(AuditArchive).where(AuditArchive.partition == "audit_logs_p201801")
        )).scalar_one()  # fmt: skip
        assert archive.dropped_at is not None and archive.rows == 5
        report = await verify_chain(session, owner.org_id)
        assert report.ok, report.broken
    body = b"".join([chunk async for chunk in store.read(archive.object_key)])
    archived = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert [r["action"] for r in archived] == ["test.old"] * 5
    assert {r["chain_seq"] for r in archived} == {r.chain_seq for r in before} - {r.chain_seq for r in after}

    await _as_superuser(owner_engine, "DELETE FROM audit_logs WHERE id = :i", i=after[-2].id)
    async with unit_of_work(maker) as session:  # rows after the anchor are still held to the chain
        await enable_rls_bypass(session, reason="test")
        assert not (await verify_chain(session, owner.org_id)).ok
    assert await retention.retire_old_months(maker, store) == []  # nothing more is due
