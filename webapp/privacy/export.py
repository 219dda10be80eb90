"""Access and portability (GDPR Art. 15, 20): every personal row of one person, found through the registry, written
as a ZIP archive — one JSON file per table, the files they uploaded, a manifest saying what each column is for — and
stored in the object store for a week. Secrets (password and key hashes) are withheld; another person's address that
a record happens to quote is masked, so the archive says nothing about anyone else."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.collaboration.storage import object_key
from webapp.privacy import registry
from webapp.privacy.enums import DataCategory

WITHHELD = "(withheld: a secret)"
SOMEONE_ELSE = "(another person's address)"
EMAIL = re.compile(r"[^\s@\"<>]+@[^\s@\"<>]+\.[A-Za-z]{2,}")
HASHES = re.compile(r"(^|_)(hash|secret)$|_digest$")
PROOFS = frozenset({"proof_hash", "text_hash", "checksum_sha256"})  # hashes that prove, not secrets


@dataclass
class Archive:
    """What an export gathered, before it is written."""

    subject_id: uuid.UUID
    email: str
    tables: dict[str, list[dict]] = field(default_factory=dict)
    columns: dict[str, list[dict]] = field(default_factory=dict)
    files: list[tuple[str, str]] = field(default_factory=list)  # (name inside the archive, object key)

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: len(rows) for name, rows in self.tables.items()}


def _mask_others(value, own: str):
    if isinstance(value, str):
        return EMAIL.sub(lambda m: m.group(0) if m.group(0).lower() == own else SOMEONE_ELSE, value)
    if isinstance(value, list):
        return [_mask_others(v, own) for v in value]
    if isinstance(value, dict):
        return {k: _mask_others(v, own) for k, v in value.items()}
    return value


def _clean(row: dict, secret_columns: set[str], own: str) -> dict:
    cleaned = {}
    for column, value in row.items():
        if column in secret_columns or (HASHES.search(column) and column not in PROOFS):
            cleaned[column] = None if value is None else WITHHELD
        else:
            cleaned[column] = _mask_others(value, own)
    return cleaned


async def gather(session: AsyncSession, user_id: uuid.UUID, email: str) -> Archive:
    """Every registered table's rows of the person (the caller runs with the RLS bypass), plus their memberships."""
    archive = Archive(user_id, email.lower())
    for table in await registry.tables(session):
        if not table.about_people:
            continue
        column = f"t.{registry.quoted(table.subject_column)}"
        subject, match = (email.lower(), f"lower({column})") if table.by_email else (user_id, column)
        rows = await session.execute(
            text(f"SELECT to_jsonb(t) AS row FROM {registry.quoted(table.name)} t WHERE {match} = :subject ORDER BY 1"),
            {"subject": subject},
        )
        secrets = {e.column_name for e in table.entries if e.category == DataCategory.CREDENTIALS}
        found = [_clean(r.row, secrets, archive.email) for r in rows]
        name = (
            table.name if table.subject_column in ("id", "user_id", "email") else f"{table.name}.{table.subject_column}"
        )
        archive.tables[name] = found
        archive.columns[name] = [
            {"column": e.column_name, "category": e.category.value, "purpose": e.purpose,
             "lawful_basis": e.lawful_basis.value, "retention_days": e.retention_days}
            for e in table.entries
        ]  # fmt: skip
    memberships = await session.execute(
        text("SELECT jsonb_build_object('organization', o.name, 'organization_slug', o.slug, 'joined_at', m.created_at,"
             " 'left_at', m.deleted_at, 'role', r.name) AS row FROM memberships m JOIN organizations o"
             " ON o.id = m.organization_id LEFT JOIN roles r ON r.id = m.role_id WHERE m.user_id = :u ORDER BY 1"),
        {"u": user_id},
    )  # fmt: skip
    archive.tables["memberships"] = [r.row for r in memberships]
    uploads = await session.execute(
        text("SELECT id, organization_id, checksum_sha256, filename FROM attachments"
             " WHERE uploaded_by = :u AND status = 'ready' ORDER BY created_at"),
        {"u": user_id},
    )  # fmt: skip
    for upload in uploads:
        safe = re.sub(r"[^\w.\- ]+", "_", upload.filename).strip() or "file"
        archive.files.append((f"files/{upload.id}/{safe}", object_key(upload.organization_id, upload.checksum_sha256)))
    return archive


README = """This archive holds the personal data ClosedLoop keeps about you (GDPR Articles 15 and 20).

- tables/<table>.json: every record of that kind tied to you, one JSON object per record.
- files/: the files you uploaded.
- manifest.json: when this was made, how many records each table holds, and for every column what kind of data it
  is, why it is kept, on what lawful basis and for how long.

Secrets (password and key hashes) are withheld; another person's email address that one of your records quotes is
replaced by "(another person's address)". The records of processing are public at /legal/records-of-processing.
"""


async def write(archive: Archive, store, key: str, *, made_at: datetime | None = None) -> int:
    """Write the ZIP to a temporary file, then into the store under `key`; its size in bytes."""
    handle = tempfile.NamedTemporaryFile(prefix="privacy-export-", suffix=".zip", delete=False)
    handle.close()
    path = Path(handle.name)
    manifest = {
        "subject": str(archive.subject_id),
        "made_at": (made_at or datetime.now(UTC)).isoformat(),
        "tables": {name: {"rows": count, "columns": archive.columns.get(name, [])}
                   for name, count in archive.row_counts.items()},
        "files": [name for name, _ in archive.files],
    }  # fmt: skip
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("README.txt", README)
            bundle.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
            for name, rows in archive.tables.items():
                bundle.writestr(f"tables/{name}.json", json.dumps(rows, indent=1, ensure_ascii=False, default=str))
            for name, object_key_ in archive.files:
                with bundle.open(name, "w") as target:
                    try:
                        async for chunk in store.read(object_key_):
                            await asyncio.to_thread(target.write, chunk)
                    except FileNotFoundError:
                        continue  # bytes collected since (an attachment deleted meanwhile)
        size = path.stat().st_size
        await store.put(key, path)
        return size
    finally:
        path.unlink(missing_ok=True)


def archive_key(request_id: uuid.UUID) -> str:
    """Where a request's archive lives in the object store."""
    return f"privacy/exports/{request_id}.zip"
