"""Attachments: presign (limits, types, quota, dedupe), complete (re-read: size, SHA-256, sniffed type; a mismatch is
a 422 and the object goes), download links, delete, attach to a comment, and the collector of what nobody uses."""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import filetype
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webapp.billing import entitlements
from webapp.billing.entitlements import Gate
from webapp.collaboration.enums import AttachmentStatus
from webapp.collaboration.models import Attachment, StoredObject
from webapp.collaboration.queries import Target
from webapp.collaboration.storage import (
    DOWNLOAD_SECONDS,
    UPLOAD_SECONDS,
    ObjectStore,
    Upload,
    inspect,
    object_key,
)
from webapp.core import audit
from webapp.core.errors import Forbidden, NotFound, ValidationError
from webapp.core.ids import new_id
from webapp.core.tenancy import RequestContext, enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.identity.models import User

log = logging.getLogger(__name__)
PENDING_HOURS = 1  # how long a presigned upload may wait for `complete`
UNREFERENCED_GRACE = timedelta(hours=24)  # an object nobody points at is kept this long (an undo, a re-attach)
IMAGES = {"image/png": "PNG image", "image/jpeg": "JPEG image", "image/gif": "GIF image", "image/webp": "WebP image"}
TEXT = {"text/plain": "text file", "text/csv": "CSV file", "text/markdown": "Markdown file", "application/json": "JSON"}
OFFICE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel workbook",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint deck",
}
ALLOWED = IMAGES | TEXT | OFFICE | {"application/pdf": "PDF", "application/zip": "ZIP archive"}
CHECKSUM = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Limits:
    """Per-file size and per-organization storage, from the settings (the plan's limit arrives with billing)."""

    max_bytes: int
    quota_bytes: int


def safe_filename(raw) -> str:
    """A name fit for a header and a page: no path, no control or format characters, at most 255 characters."""
    if not isinstance(raw, str):
        return ""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    name = name.strip().strip(".")
    return name[:255]


def describe(content_type: str | None) -> str:
    """A person's word for a type ("PDF", "PNG image")."""
    return ALLOWED.get(content_type or "", content_type or "file")


def sniff(head: bytes, declared: str) -> str | None:
    """The type the bytes really are (filetype reads their signature); text has none, so text types are taken at
    their word only when the bytes are UTF-8 without NULs."""
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime == "application/zip" and declared in OFFICE:
            return declared  # an Office file is a ZIP whose marker may lie past the first bytes read
        return kind.mime
    if declared in TEXT:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 3:  # a character cut at the end of the sample is fine
                return None
            text = head[: exc.start].decode("utf-8")
        return declared if "\x00" not in text else None
    return None


async def storage_used(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Bytes the organization stores (each object once), pending uploads not counted."""
    stmt = select(func.coalesce(func.sum(StoredObject.size), 0)).where(StoredObject.organization_id == org_id)
    return int((await session.execute(stmt)).scalar_one())


def _check(values: dict, limits: Limits) -> dict:
    errors: dict[str, list[str]] = {}
    filename = safe_filename(values.get("filename"))
    if not filename:
        errors["filename"] = ["Give the file a name."]
    mime = values.get("mime_type")
    if not isinstance(mime, str) or mime.lower() not in ALLOWED:
        errors["mime_type"] = [
            f"This type of file cannot be attached; allowed: {', '.join(sorted(set(ALLOWED.values())))}."
        ]
    size = values.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        errors["size"] = ["Give the file's size in bytes."]
    elif size > limits.max_bytes:
        errors["size"] = [f"Files can be at most {limits.max_bytes // (1024 * 1024)} MiB."]
    checksum = values.get("checksum_sha256")
    if not isinstance(checksum, str) or not CHECKSUM.fullmatch(checksum.lower()):
        errors["checksum_sha256"] = ["Give the file's SHA-256 as 64 hexadecimal digits."]
    if errors:
        raise ValidationError(details={"fields": errors})
    return {"filename": filename, "mime_type": mime.lower(), "size": size, "checksum": checksum.lower()}


async def presign(
    session: AsyncSession,
    ctx: RequestContext,
    store: ObjectStore,
    limits: Limits,
    values: dict,
    target: Target | None,
) -> tuple[Attachment, Upload | None]:
    """A pending attachment and where to upload its bytes; no upload when the organization stores them already."""
    data = _check(values, limits)
    stored = (
        await session.execute(
            select(StoredObject.id).where(
                StoredObject.organization_id == ctx.org_id, StoredObject.checksum_sha256 == data["checksum"]
            )
        )
    ).scalar_one_or_none()
    if stored is None:  # bytes the organization already stores cost nothing more
        await entitlements.require(session, ctx.org_id, Gate.STORAGE, org_slug=ctx.org_slug, adding=data["size"])
    if stored is None and await storage_used(session, ctx.org_id) + data["size"] > limits.quota_bytes:
        raise ValidationError.field(
            "size", f"The organization's storage is full ({limits.quota_bytes // 1024**3} GiB); delete files first."
        )
    attachment = Attachment(
        id=new_id(),
        organization_id=ctx.org_id,
        filename=data["filename"],
        declared_type=data["mime_type"],
        size=data["size"],
        checksum_sha256=data["checksum"],
        status=AttachmentStatus.PENDING,
        entity_type=target.kind.name if target else None,
        entity_id=target.entity_id if target else None,
        uploaded_by=ctx.user_id,
        expires_at=datetime.now(UTC) + timedelta(hours=PENDING_HOURS),
    )
    session.add(attachment)
    await session.flush()
    upload = None
    if stored is None:
        upload = store.presign_upload(
            object_key(ctx.org_id, data["checksum"]),
            size=data["size"],
            content_type=data["mime_type"],
            sha256=data["checksum"],
            seconds=UPLOAD_SECONDS,
        )
    return attachment, upload


async def _lock(session: AsyncSession, ctx: RequestContext, attachment_id: uuid.UUID) -> Attachment:
    attachment = (
        await session.execute(
            select(Attachment)
            .where(
                Attachment.organization_id == ctx.org_id,
                Attachment.id == attachment_id,
                Attachment.deleted_at.is_(None),
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment


_REFERENCE = (
    update(StoredObject)
    .where(StoredObject.organization_id == bindparam("org"), StoredObject.checksum_sha256 == bindparam("sha"))
    .values(unreferenced_since=None)
    .returning(StoredObject.id, StoredObject.content_type)
)
_STORE = (
    pg_insert(StoredObject)
    .on_conflict_do_update(index_elements=["organization_id", "checksum_sha256"], set_={"unreferenced_since": None})
    .returning(StoredObject.id, StoredObject.content_type)
)


async def complete(session: AsyncSession, ctx: RequestContext, store: ObjectStore, attachment_id: uuid.UUID):
    """Verify what arrived and make the attachment ready: size, SHA-256 and the sniffed type must be what was
    presigned, else a 422 and the object is deleted (nothing of it is kept)."""
    attachment = await _lock(session, ctx, attachment_id)
    if attachment.uploaded_by != ctx.user_id:
        raise NotFound("No such attachment.")  # someone else's upload in progress is not yours to see
    if attachment.status == AttachmentStatus.READY:
        return attachment
    if attachment.expires_at < datetime.now(UTC):
        raise ValidationError("This upload expired; start it again.", {"fields": {"attachment_id": ["Expired."]}})
    # one statement both finds the bytes this organization already stores and marks them referenced again
    stored = (await session.execute(_REFERENCE, {"org": ctx.org_id, "sha": attachment.checksum_sha256})).one_or_none()
    if stored is None:
        key = object_key(ctx.org_id, attachment.checksum_sha256)
        found = await inspect(store, key)
        problem = _mismatch(attachment, found)
        if problem:
            if found is not None:
                await store.delete(key)
            raise ValidationError(problem, {"fields": {"file": [problem]}})
        values = {
            "id": new_id(),
            "organization_id": ctx.org_id,
            "checksum_sha256": attachment.checksum_sha256,
            "size": found.size,
            "content_type": sniff(found.head, attachment.declared_type),
            "storage_key": key,
        }
        # a twin upload of the same bytes may have completed meanwhile: then its row is the one
        stored = (await session.execute(_STORE, values)).one()
    attachment.status, attachment.object_id = AttachmentStatus.READY, stored.id
    attachment.content_type, attachment.completed_at = stored.content_type, datetime.now(UTC)
    await session.flush()
    await audit.record(
        session, ctx, "attachment.create", entity_type="attachment", entity_id=attachment.id,
        after={"filename": attachment.filename, "size": attachment.size, "type": attachment.content_type,
               "on": f"{attachment.entity_type}/{attachment.entity_id}" if attachment.entity_type else None},
    )  # fmt: skip
    return attachment


def _mismatch(attachment: Attachment, found) -> str | None:
    if found is None:
        return "Nothing was uploaded for this file."
    if found.size != attachment.size:
        return f"The upload has {found.size} bytes, not the {attachment.size} announced."
    if found.sha256 != attachment.checksum_sha256:
        return "The upload's SHA-256 is not the one announced; the file changed or arrived damaged."
    real = sniff(found.head, attachment.declared_type)
    if real is None or real not in ALLOWED:
        return (
            f"This file's contents are not an allowed type (it was announced as {describe(attachment.declared_type)})."
        )
    if real != attachment.declared_type:
        return f"This file is a {describe(real)}, not a {describe(attachment.declared_type)} as announced."
    return None


@dataclass
class AttachmentView:
    """An attachment as pages and the API show it."""

    id: uuid.UUID
    filename: str
    content_type: str | None
    declared_type: str
    size: int
    checksum_sha256: str
    status: AttachmentStatus
    entity_type: str | None
    entity_id: uuid.UUID | None
    comment_id: uuid.UUID | None
    uploaded_by: uuid.UUID | None
    uploader_name: str | None
    created_at: datetime

    @property
    def is_image(self) -> bool:
        """Shown as a thumbnail (raster images only: SVG can carry script)."""
        return self.content_type in IMAGES

    @property
    def label(self) -> str:
        """What kind of file it is, for people."""
        return describe(self.content_type or self.declared_type)


def _view_select():
    return select(
        Attachment.id,
        Attachment.filename,
        Attachment.content_type,
        Attachment.declared_type,
        Attachment.size,
        Attachment.checksum_sha256,
        Attachment.status,
        Attachment.entity_type,
        Attachment.entity_id,
        Attachment.comment_id,
        Attachment.uploaded_by,
        User.name,
        Attachment.created_at,
    ).outerjoin(User, User.id == Attachment.uploaded_by)


def own_view(attachment: Attachment, ctx: RequestContext) -> AttachmentView:
    """The caller's own upload as pages and the API show it, from the row in hand (no second read)."""
    return AttachmentView(
        attachment.id, attachment.filename, attachment.content_type, attachment.declared_type, attachment.size,
        attachment.checksum_sha256, attachment.status, attachment.entity_type, attachment.entity_id,
        attachment.comment_id, attachment.uploaded_by, ctx.user_name, attachment.created_at,
    )  # fmt: skip


async def get_attachment(session: AsyncSession, ctx: RequestContext, attachment_id: uuid.UUID) -> AttachmentView:
    """One live attachment the caller may see: ready and on an entity they can read, or their own upload."""
    row = (
        await session.execute(
            _view_select().where(
                Attachment.organization_id == ctx.org_id,
                Attachment.id == attachment_id,
                Attachment.deleted_at.is_(None),
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("No such attachment.")
    view = AttachmentView(*row)
    if view.uploaded_by != ctx.user_id and (view.status != AttachmentStatus.READY or not view.entity_type):
        raise NotFound("No such attachment.")
    if view.entity_type:
        from webapp.collaboration.queries import get_target

        await get_target(session, ctx, view.entity_type, view.entity_id)
    return view


async def list_for(session: AsyncSession, org_id: uuid.UUID, target: Target) -> list[AttachmentView]:
    """The ready files attached to an entity itself (not to its comments), newest first."""
    rows = await session.execute(
        _view_select()
        .where(
            Attachment.organization_id == org_id,
            Attachment.entity_type == target.kind.name,
            Attachment.entity_id == target.entity_id,
            Attachment.comment_id.is_(None),
            Attachment.status == AttachmentStatus.READY,
            Attachment.deleted_at.is_(None),
        )
        .order_by(Attachment.created_at.desc())
    )
    return [AttachmentView(*r) for r in rows]


async def for_comments(session: AsyncSession, org_id: uuid.UUID, comment_ids) -> dict[uuid.UUID, list]:
    """The ready files of some comments, by comment."""
    if not comment_ids:
        return {}
    rows = await session.execute(
        _view_select()
        .where(
            Attachment.organization_id == org_id,
            Attachment.comment_id.in_(list(comment_ids)),
            Attachment.status == AttachmentStatus.READY,
            Attachment.deleted_at.is_(None),
        )
        .order_by(Attachment.created_at)
    )
    found: dict[uuid.UUID, list] = {}
    for row in rows:
        view = AttachmentView(*row)
        found.setdefault(view.comment_id, []).append(view)
    return found


async def download_url(
    session: AsyncSession, ctx: RequestContext, store: ObjectStore, attachment_id: uuid.UUID, *, inline: bool = False
) -> str:
    """A short-lived URL of the bytes (inline only for raster images; everything else downloads)."""
    view = await get_attachment(session, ctx, attachment_id)
    if view.status != AttachmentStatus.READY:
        raise NotFound("This file has not finished uploading.")
    key = (
        await session.execute(
            select(StoredObject.storage_key)
            .join(
                Attachment,
                and_(
                    Attachment.organization_id == StoredObject.organization_id, Attachment.object_id == StoredObject.id
                ),
            )
            .where(Attachment.id == attachment_id, Attachment.organization_id == ctx.org_id)
        )
    ).scalar_one()
    return store.download_url(
        key,
        filename=view.filename,
        content_type=view.content_type or "application/octet-stream",
        inline=inline and view.is_image,
        seconds=DOWNLOAD_SECONDS,
    )


async def delete_attachment(
    session: AsyncSession, ctx: RequestContext, attachment_id: uuid.UUID, *, can_moderate
) -> None:
    """Remove a file: its uploader, or someone who may change the entity it is on; its bytes go once unused."""
    view = await get_attachment(session, ctx, attachment_id)
    if view.uploaded_by != ctx.user_id and not can_moderate(view):
        raise Forbidden("Only the person who attached it, or someone who may edit what it is on, can delete it.")
    attachment = await _lock(session, ctx, attachment_id)
    attachment.deleted_at = datetime.now(UTC)
    await session.flush()
    if attachment.object_id is not None:
        others = (
            await session.execute(
                select(func.count()).where(
                    Attachment.organization_id == ctx.org_id,
                    Attachment.object_id == attachment.object_id,
                    Attachment.deleted_at.is_(None),
                )
            )
        ).scalar_one()
        if not others:
            stored = await session.get(StoredObject, attachment.object_id)
            stored.unreferenced_since = datetime.now(UTC)
    await audit.record(
        session, ctx, "attachment.delete", entity_type="attachment", entity_id=attachment.id,
        before={"filename": attachment.filename, "on": f"{attachment.entity_type}/{attachment.entity_id}"},
    )  # fmt: skip


async def attach_to_comment(session: AsyncSession, ctx: RequestContext, comment, attachment_ids) -> None:
    """Give a new comment its files: ready uploads of the caller that are not on anything yet."""
    ids = list(dict.fromkeys(attachment_ids or []))
    if not ids:
        return
    if len(ids) > 20:
        raise ValidationError.field("attachments", "A comment can carry at most 20 files.")
    rows = (
        (
            await session.execute(
                select(Attachment)
                .where(
                    Attachment.organization_id == ctx.org_id,
                    Attachment.id.in_(ids),
                    Attachment.uploaded_by == ctx.user_id,
                    Attachment.status == AttachmentStatus.READY,
                    Attachment.deleted_at.is_(None),
                    Attachment.comment_id.is_(None),
                    Attachment.entity_type.is_(None),
                )
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if len(rows) != len(ids):
        raise ValidationError.field("attachments", "Attach only your own finished uploads that are on nothing else.")
    for attachment in rows:
        attachment.comment_id = comment.id
        attachment.entity_type, attachment.entity_id = comment.entity_type, comment.entity_id
    await session.flush()


async def collect(maker: async_sessionmaker, store: ObjectStore) -> dict[str, int]:
    """The scheduled collector: expired pending uploads and their stray bytes, and objects nobody has pointed at
    for UNREFERENCED_GRACE; bytes are deleted after the rows' commit."""
    now = datetime.now(UTC)
    doomed_keys: list[str] = []
    async with unit_of_work(maker) as session:
        # maintenance across tenants: the bypass is explicit and says why
        await enable_rls_bypass(session, reason="attachment collector")
        expired = (
            (
                await session.execute(
                    select(Attachment).where(Attachment.status == AttachmentStatus.PENDING, Attachment.expires_at < now)
                )
            )
            .scalars()
            .all()
        )
        for attachment in expired:
            known = (
                await session.execute(
                    select(StoredObject.id).where(
                        StoredObject.organization_id == attachment.organization_id,
                        StoredObject.checksum_sha256 == attachment.checksum_sha256,
                    )
                )
            ).scalar_one_or_none()
            if known is None:
                doomed_keys.append(object_key(attachment.organization_id, attachment.checksum_sha256))
            await session.delete(attachment)
        live_refs = (
            select(Attachment.id)
            .where(
                Attachment.organization_id == StoredObject.organization_id,
                Attachment.object_id == StoredObject.id,
                Attachment.deleted_at.is_(None),
            )
            .exists()
        )
        unused = (await session.execute(select(StoredObject).where(~live_refs))).scalars().all()
        dropped = 0
        for stored in unused:
            if stored.unreferenced_since is None:
                stored.unreferenced_since = now
            elif stored.unreferenced_since < now - UNREFERENCED_GRACE:
                await session.execute(
                    Attachment.__table__.delete().where(
                        Attachment.organization_id == stored.organization_id, Attachment.object_id == stored.id
                    )
                )
                doomed_keys.append(stored.storage_key)
                await session.delete(stored)
                dropped += 1
        await session.flush()
    for key in dict.fromkeys(doomed_keys):
        try:
            await store.delete(key)
        except Exception:  # the next run tries again; a stray file costs space, not correctness
            log.exception("could not delete object %s", key)
    return {"expired_uploads": len(expired), "objects_deleted": dropped}
