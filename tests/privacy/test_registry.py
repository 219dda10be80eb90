"""The personal-data registry stays complete: every column that looks personal (an address, a name, an IP, a
browser, a phone, free text a person writes, a secret) is registered — or named below as not personal, with the
reason — and every entry names real columns. A migration that adds a personal column without its entry fails here."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

LOOKS_PERSONAL = re.compile(
    r"email|(^|_)ip$|user_agent|phone|mobile|^name$|(first|last|full|display|user)_name$|address|birth|^content"
    r"|body$|^notes?$|reason$|review_notes|^description$|^message$|filename|specialization|^value$|payload"
    r"|properties|^before$|^after$|metadata|password|secret|^subject$|^title$|last_login"
)

# columns the pattern catches that hold no personal data, and why
NOT_PERSONAL = {
    "organizations.name": "an organization's name, not a person's",
    "missions.name": "the organization's mission, named by its planners",
    "missions.description": "the organization's mission plan",
    "simulation_runs.name": "a planning run's label",
    "processing_modules.name": "catalog equipment",
    "processing_modules.description": "catalog equipment",
    "processing_recipes.name": "catalog recipe",
    "processing_recipes.description": "catalog recipe",
    "waste_materials.name": "catalog material",
    "waste_materials.description": "catalog material",
    "roles.name": "a role's name",
    "roles.description": "a role's description",
    "billing_plans.name": "a price plan",
    "billing_plans.description": "a price plan",
    "billing_invoice_lines.description": "generated from the plan and the usage",
    "billing_payments.description": "generated from what was bought",
    "credit_holds.description": "generated from the run it holds credits for",
    "usage_billable_metrics.name": "a metric",
    "usage_billable_metrics.description": "a metric",
    "privacy_policy_versions.title": "a published document",
    "privacy_policy_versions.body": "a published document",
    "simulation_logs.message": "written by the engine",
    "auth_sessions.revoked_reason": "a fixed code (logout, idle, expired, ...)",
    "email_outbox.last_error": "the SMTP server's answer",
    "search_index.title": "derived from the other tables (rebuilt from them; erasure follows its sources)",
    "search_index.body": "derived from the other tables (rebuilt from them; erasure follows its sources)",
    "attachments.content_type": "a file's media type",
    "stored_objects.content_type": "a file's media type",
    "credit_holds.subject": "what the credits are held for (a run's id)",
    "usage_aggregates.value": "a metric's total",
    "users.email_verified_at": "when the address was confirmed: erased with the account row's pseudonym",
    "personal_data_registry.keep_reason": "this registry itself",
    "audit_logs.content_hash": "a SHA-256 of the row's content (docs/audit.md): reveals nothing of it",
    "personal_data_registry.column_name": "this registry itself",
    "impersonation_sessions.end_reason": "a fixed code (exit, expired, access_revoked, ...)",
    "webhook_endpoints.description": "the organization's label for its integration",
    "webhook_endpoints.disabled_reason": "a fixed code (gone, failing, manual)",
    "webhook_secrets.secret_encrypted": "the organization's signing secret (sealed), not a person's",
    "webhook_attempts.address": "the receiving server's IP address, not a person's",
    "webhook_messages.payload": "ids, numbers and the organization's object names; never a person's contact or text",
}


async def _columns(owner_engine) -> dict[str, str]:
    async with owner_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.table_name || '.' || c.column_name, c.udt_name FROM information_schema.columns c "
                "JOIN pg_class pc ON pc.relname = c.table_name AND pc.relnamespace = 'public'::regnamespace "
                "WHERE c.table_schema = 'public' AND pc.relkind IN ('r', 'p') AND NOT pc.relispartition"
            )
        )
        return dict(rows.all())


async def _registry(owner_engine) -> list:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, subject_column, retention_from, erasure_action, keep_reason "
                    "FROM personal_data_registry"
                )
            )
        ).all()


async def test_every_column_that_looks_personal_is_registered(owner_engine):
    columns, registry = await _columns(owner_engine), await _registry(owner_engine)
    registered = {f"{r.table_name}.{r.column_name}" for r in registry}
    suspects = {
        name for name, kind in columns.items() if kind == "inet" or LOOKS_PERSONAL.search(name.split(".", 1)[1])
    }
    missing = sorted(suspects - registered - set(NOT_PERSONAL))
    assert missing == [], f"register these in personal_data_registry (a migration) or explain them here: {missing}"
    stale = sorted(set(NOT_PERSONAL) - set(columns))
    assert stale == [], f"no such columns any more: {stale}"
    assert not registered & set(NOT_PERSONAL)


async def test_every_entry_names_real_columns_and_a_reason_to_keep(owner_engine):
    columns, registry = await _columns(owner_engine), await _registry(owner_engine)
    assert len(registry) >= 40
    for row in registry:
        assert f"{row.table_name}.{row.column_name}" in columns, row
        assert f"{row.table_name}.{row.subject_column}" in columns, row
        if row.retention_from:
            assert f"{row.table_name}.{row.retention_from}" in columns, row
        if row.erasure_action == "keep":
            assert row.keep_reason, row


async def test_the_app_reads_the_registry_and_cannot_change_it(maker):
    async with maker() as session:
        count = (await session.execute(text("SELECT count(*) FROM personal_data_registry"))).scalar_one()
        assert count >= 40
    async with maker() as session:
        await session.begin()
        with pytest.raises(DBAPIError, match="permission denied"):
            await session.execute(text("DELETE FROM personal_data_registry"))
        await session.rollback()


async def test_the_records_of_processing_are_generated_from_the_registry(app, owner_engine):
    client = app.test_client()
    page = await client.get("/legal/records-of-processing")
    body = await page.get_data(as_text=True)
    assert page.status_code == 200 and "users.email" in body and "Legal obligation — Art. 6(1)(c)" in body
    assert "1 year after created at" in body  # security events
    answer = await client.get("/legal/records-of-processing.csv")
    lines = (await answer.get_data(as_text=True)).strip().splitlines()
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert lines[0] == "category,table,column,purpose,lawful_basis,retention,on_erasure,kept_because"
    assert len(lines) - 1 == len(await _registry(owner_engine))
    assert any(line.startswith("contact,users,email,") and ",pseudonymise," in line for line in lines)
