"""Object storage: one port, two adapters. Uploads and downloads go straight between the browser (or a JSON
client) and the store through short-lived signed URLs; the app signs them, then re-reads what arrived.

- `local.LocalStore`: files under var/ (the default, `make dev`), URLs signed by the app itself (itsdangerous),
  served by this app's /storage routes.
- `s3.S3Store`: any S3-compatible store (AWS S3, MinIO, Ceph, R2), presigned POST with the key, exact size,
  type and SHA-256 pinned, presigned GET with an attachment disposition.

Objects are content-addressed: `t/<organization>/sha256/<hex>`, so one organization stores the same bytes once.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, urlsplit

UPLOAD_SECONDS = 300  # presigned uploads live five minutes
DOWNLOAD_SECONDS = 300
CHUNK = 1024 * 1024
HEAD_BYTES = 8192  # what type sniffing reads


@dataclass(frozen=True)
class Upload:
    """Where and how to send the bytes: a multipart POST of `fields`, then the file as `file` (last)."""

    url: str
    fields: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True)
class Stored:
    """What the store holds under a key: its size, its SHA-256 and its first bytes (for type sniffing)."""

    size: int
    sha256: str
    head: bytes


class ObjectStore(Protocol):
    """What attachments need from a store."""

    name: str

    def presign_upload(self, key: str, *, size: int, content_type: str, sha256: str, seconds: int) -> Upload:
        """A short-lived upload bound to key, exact size, content type and checksum."""

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks (FileNotFoundError when absent)."""

    async def inspect(self, key: str) -> Stored | None:
        """Re-read the object: its real size, SHA-256 and first bytes; None when nothing is there."""

    async def put(self, key: str, source) -> None:
        """Store a local file under `key` (server-made objects such as privacy exports; the file is consumed)."""

    async def exists(self, key: str) -> bool:
        """Whether the key holds an object."""

    async def delete(self, key: str) -> None:
        """Remove the object (absent is fine)."""

    def download_url(self, key: str, *, filename: str, content_type: str, inline: bool, seconds: int) -> str:
        """A short-lived URL answering the bytes with the given name and type."""

    def connect_origins(self) -> list[str]:
        """Origins the browser talks to directly (the page's CSP connect-src)."""


def object_key(org_id, sha256: str) -> str:
    """The content address of an organization's bytes."""
    return f"t/{org_id}/sha256/{sha256}"


def digest_stream(source: BinaryIO) -> Stored:
    """Size, SHA-256 and first bytes of a readable, read once in 1 MiB blocks into one buffer (blocking: run it in
    a thread; hashlib lets go of the GIL on blocks this size, so the event loop keeps serving meanwhile)."""
    digest, size, head = hashlib.sha256(), 0, b""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        got = source.readinto(buffer) if hasattr(source, "readinto") else _read_into(source, view)
        if not got:
            break
        digest.update(view[:got])
        if len(head) < HEAD_BYTES:
            head += bytes(view[: min(got, HEAD_BYTES - len(head))])
        size += got
    return Stored(size, digest.hexdigest(), head)


def _read_into(source, view: memoryview) -> int:
    chunk = source.read(len(view))
    view[: len(chunk)] = chunk
    return len(chunk)


async def inspect(store: ObjectStore, key: str) -> Stored | None:
    """Re-read an object: its real size, SHA-256 and first bytes; None when nothing is there."""
    return await store.inspect(key)


def make_store(url: str, *, var_dir, secret_key: str) -> ObjectStore:
    """The store OBJECT_STORE_URL names: empty or file:… for local disk, s3://bucket?endpoint=… for S3."""
    parts = urlsplit(url or "")
    if parts.scheme in ("", "file"):
        from webapp.collaboration.storage.local import LocalStore

        root = parts.path or str(var_dir / "objects")
        return LocalStore(root, secret_key=secret_key)
    if parts.scheme == "s3":
        from webapp.collaboration.storage.s3 import S3Store

        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return S3Store(
            bucket=parts.netloc,
            endpoint_url=options.get("endpoint"),
            region=options.get("region", "us-east-1"),
            public_endpoint=options.get("public_endpoint"),
        )
    raise SystemExit(f"OBJECT_STORE_URL must be empty, file:///path or s3://bucket?endpoint=…, got {url!r}")


_stores: dict[tuple, ObjectStore] = {}


def store_for(settings) -> ObjectStore:
    """The process's store for these settings (built once: boto3 clients are meant to be shared)."""
    from webapp.devserver import var_dir

    key = (settings.object_store_url, settings.secret_key)
    if key not in _stores:
        _stores[key] = make_store(settings.object_store_url, var_dir=var_dir(), secret_key=settings.secret_key)
    return _stores[key]
