"""Local-disk object store: files under a directory, uploads and downloads through URLs this app signs
(itsdangerous, bound to key, size, type, checksum and expiry) and serves (webapp.collaboration.storage_views)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from webapp.collaboration.storage import CHUNK, Stored, Upload, digest_stream

UPLOAD_PATH = "/storage/upload"
DOWNLOAD_PATH = "/storage/objects"


class LinkError(Exception):
    """A signed link that is forged, for something else, or too old."""


class LocalStore:
    """Objects as files under `root`; the key is the relative path."""

    name = "local"

    def __init__(self, root: str | os.PathLike, *, secret_key: str):
        self.root = Path(root)
        self._uploads = URLSafeTimedSerializer(secret_key, salt="closedloop-object-upload")
        self._downloads = URLSafeTimedSerializer(secret_key, salt="closedloop-object-download")

    def path_of(self, key: str) -> Path:
        """The file of a key (keys are made by object_key; anything escaping the root is refused)."""
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise LinkError("That key is outside the store.")
        return path

    def presign_upload(self, key: str, *, size: int, content_type: str, sha256: str, seconds: int) -> Upload:
        """A POST to this app's upload route; the token carries what the upload must be."""
        token = self._uploads.dumps({"key": key, "size": size, "type": content_type, "sha256": sha256, "ttl": seconds})
        return Upload(url=UPLOAD_PATH, fields={"token": token, "Content-Type": content_type})

    def check_upload(self, token: str) -> dict:
        """What a signed upload token allows; LinkError when forged or expired."""
        return _load(self._uploads, token)

    async def write(self, key: str, source: Path) -> None:
        """Move a verified temporary file into place (atomic rename on the same filesystem)."""
        target = self.path_of(key)

        def place() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a crash
            finally:
                os.close(directory)

        await asyncio.to_thread(place)

    async def put(self, key: str, source: Path) -> None:
        """Store a file the server made (moved into place)."""
        await self.write(key, Path(source))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks."""
        path = self.path_of(key)
        handle = await asyncio.to_thread(open, path, "rb")  # FileNotFoundError when absent
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def inspect(self, key: str) -> Stored | None:
        """Re-read the file in one worker thread: size, SHA-256, first bytes; None when absent."""
        path = self.path_of(key)

        def digest() -> Stored | None:
            try:
                with open(path, "rb", buffering=0) as handle:
                    return digest_stream(handle)
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(digest)

    async def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return await asyncio.to_thread(self.path_of(key).is_file)

    async def delete(self, key: str) -> None:
        """Remove the file (absent is fine)."""
        path = self.path_of(key)
        await asyncio.to_thread(lambda: path.unlink(missing_ok=True))

    def download_url(self, key: str, *, filename: str, content_type: str, inline: bool, seconds: int) -> str:
        """A link to this app's download route, valid `seconds`."""
        token = self._downloads.dumps(
            {"key": key, "name": filename, "type": content_type, "inline": inline, "ttl": seconds}
        )
        return f"{DOWNLOAD_PATH}/{token}"

    def check_download(self, token: str) -> dict:
        """What a signed download link serves; LinkError when forged or expired."""
        return _load(self._downloads, token)

    def connect_origins(self) -> list[str]:
        """Uploads go to this app itself."""
        return []


def _load(serializer: URLSafeTimedSerializer, token: str) -> dict:
    try:
        data, signed_at = serializer.loads(token, return_timestamp=True)
    except (BadSignature, ValueError) as exc:
        raise LinkError("This link is invalid.") from exc
    if not isinstance(data, dict) or datetime.now(UTC) - signed_at > timedelta(seconds=data.get("ttl", 0)):
        raise LinkError("This link has expired.")
    return data
