"""Erasure (GDPR Art. 17): each registry entry's action applied to one person's rows, one transaction per table, the
account row last. Sessions, tokens, keys and messages go; what others rely on (comments, runs, audit and security
records) stays, with the person replaced by a stable pseudonym — their address and name are also replaced wherever
those kept records quote them. Re-running after a crash repeats only what is left: every step matches rows by the
person's id (and address), and the address disappears in the very last step."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.privacy import registry
from webapp.privacy.enums import DataCategory, ErasureAction

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never receive mail
ERASED_TEXT = "'(erased)'"  # what a cleared column that may not be empty holds


def pseudonym(user_id: uuid.UUID) -> str:
    """The stable name an erased person's records show (the same on every page, for every reader)."""
    return f"Former member {hashlib.sha256(str(user_id).encode()).hexdigest()[:8]}"


def pseudonymous_email(user_id: uuid.UUID) -> str:
    """The address field of an erased account: unique, never deliverable."""
    return f"erased-{hashlib.sha256(str(user_id).encode()).hexdigest()[:16]}@{ERASED_DOMAIN}"


def needles(email: str, name: str) -> list[str]:
    """The strings to replace in kept records: the address and the name, as stored and as JSON escapes them."""
    found = []
    for value in (email, email.lower(), name):
        for form in (value, json.dumps(value)[1:-1]):
            if len(form) >= 3 and form not in found:
                found.append(form)
    return found


async def _nullable(session: AsyncSession, table: str) -> dict[str, bool]:
    rows = await session.execute(
        text("SELECT column_name, is_nullable = 'YES' AS nullable FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND table_name = :t"),
        {"t": table},
    )  # fmt: skip
    return {r.column_name: r.nullable for r in rows}


async def erase_table(session: AsyncSession, table: registry.Table, user_id: uuid.UUID, email: str) -> tuple[str, int]:
    """Apply one table's registered actions to the person's rows: (what was done, rows affected)."""
    subject = registry.quoted(table.subject_column)
    match = f"lower({subject}) = :subject" if table.by_email else f"{subject} = :subject"
    params: dict = {"subject": email.lower() if table.by_email else user_id}
    contacts = [e.column_name for e in table.entries if e.category == DataCategory.CONTACT and not table.by_email]
    if contacts:  # rows that reached the person by address before they had an account (or after an address change)
        match = "(" + " OR ".join([match] + [f"lower({registry.quoted(c)}) = :email" for c in contacts]) + ")"
        params["email"] = email.lower()
    actions = {e.erasure_action for e in table.entries}
    name = registry.quoted(table.name)
    if actions == {ErasureAction.DELETE}:
        done = await session.execute(text(f"DELETE FROM {name} WHERE {match}"), params)
        return "deleted", done.rowcount
    nullable = await _nullable(session, table.name)
    assignments = []
    for entry in table.entries:
        column = registry.quoted(entry.column_name)
        if entry.erasure_action == ErasureAction.PSEUDONYMISE:
            value = "email_alias" if entry.category == DataCategory.CONTACT else "alias"
            assignments.append(f"{column} = :{value}")
        elif entry.erasure_action in (ErasureAction.ANONYMISE, ErasureAction.DELETE):
            empty = "NULL" if nullable.get(entry.column_name, True) else ERASED_TEXT
            assignments.append(f"{column} = {empty}")
    if not assignments:
        return "kept", 0
    params.update(alias=pseudonym(user_id), email_alias=pseudonymous_email(user_id))
    done = await session.execute(text(f"UPDATE {name} SET {', '.join(assignments)} WHERE {match}"), params)
    return "pseudonymised", done.rowcount


async def end_access(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """What lets the person in or speaks for them, beyond the registry: recovery codes, and their memberships end
    (the rows stay, marked left, so crews and role history keep their shape)."""
    codes = await session.execute(text("DELETE FROM mfa_recovery_codes WHERE user_id = :u"), {"u": user_id})
    left = await session.execute(
        text("UPDATE memberships SET deleted_at = now() WHERE user_id = :u AND deleted_at IS NULL"), {"u": user_id}
    )
    return {"mfa_recovery_codes": codes.rowcount, "memberships_left": left.rowcount}


async def scrub_kept_records(session: AsyncSession, user_id: uuid.UUID, email: str, name: str) -> int:
    """Replace the person's address and name by their pseudonym in audit and security records (owner function)."""
    changed = await session.execute(
        text("SELECT privacy_pseudonymise_kept_records(CAST(:needles AS text[]), :alias)"),
        {"needles": needles(email, name), "alias": pseudonym(user_id)},
    )
    return changed.scalar_one()


async def erase_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The account row last: address and name become the pseudonym, secrets go, and it can never sign in."""
    await session.execute(
        text("UPDATE users SET email = :email_alias, name = :alias, password_hash = '!erased', mfa_secret = NULL,"
             " mfa_enabled_at = NULL, mfa_last_step = NULL, last_login_at = NULL, status = 'deactivated',"
             " deactivated_at = coalesce(deactivated_at, now()), erased_at = now() WHERE id = :u"),
        {"u": user_id, "alias": pseudonym(user_id), "email_alias": pseudonymous_email(user_id)},
    )  # fmt: skip


async def erase(
    run_in_transaction: Callable[[Callable[[AsyncSession], Awaitable]], Awaitable],
    user_id: uuid.UUID,
    email: str,
    name: str,
    finish: Callable[[AsyncSession, dict], Awaitable],
) -> dict:
    """Erase one person: every registry table in its own transaction, then the kept records, then — with `finish`
    (which completes the request) in the same transaction — the account row. Counts per step."""
    counts: dict = {}

    async def tables(session):
        return [t for t in await registry.tables(session) if t.about_people and t.name != "users"]

    for table in await run_in_transaction(tables):
        label = (
            table.name if table.subject_column in ("user_id", "email", "id") else f"{table.name}.{table.subject_column}"
        )

        async def one(session, table=table):
            return await erase_table(session, table, user_id, email)

        action, rows = await run_in_transaction(one)
        counts[label] = {"action": action, "rows": rows}
    counts["access"] = await run_in_transaction(lambda s: end_access(s, user_id))
    counts["kept_records_pseudonymised"] = await run_in_transaction(
        lambda s: scrub_kept_records(s, user_id, email, name)
    )

    async def last(session):
        await erase_account(session, user_id)
        counts["users"] = {"action": "pseudonymised", "rows": 1, "at": datetime.now(UTC).isoformat()}
        await finish(session, counts)

    await run_in_transaction(last)
    return counts
