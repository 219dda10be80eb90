"""S3-compatible object store (AWS S3, MinIO, Ceph, R2) through boto3: presigned POST with the key, the exact size
(content-length-range), the content type and the SHA-256 checksum pinned; presigned GET with an attachment
disposition. Credentials come the usual boto3 way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, a role)."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from contextlib import closing
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from webapp.collaboration.storage import CHUNK, Stored, Upload, digest_stream


class S3Store:
    """One bucket; `public_endpoint` is the address browsers use when it differs from the app's."""

    name = "s3"

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str, public_endpoint: str | None = None):
        self.bucket = bucket
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3})
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        # presigned URLs must name the host the browser reaches; the signature covers it
        self.signer = (
            boto3.client("s3", endpoint_url=public_endpoint, region_name=region, config=config)
            if public_endpoint
            else self.client
        )

    def presign_upload(self, key: str, *, size: int, content_type: str, sha256: str, seconds: int) -> Upload:
        """Presigned POST: the policy pins key, exact length, type and checksum; S3 refuses anything else."""
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        fields = {
            "Content-Type": content_type,
            "x-amz-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": checksum,
        }
        conditions = [
            {"bucket": self.bucket},
            ["eq", "$key", key],
            ["content-length-range", size, size],
            {"Content-Type": content_type},
            {"x-amz-checksum-algorithm": "SHA256"},
            {"x-amz-checksum-sha256": checksum},
        ]
        post = self.signer.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=seconds
        )
        return Upload(url=post["url"], fields=post["fields"])

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; FileNotFoundError when absent."""
        try:
            answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from exc
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def inspect(self, key: str) -> Stored | None:
        """GET the object and hash it as it streams, in one worker thread; None when absent."""

        def digest() -> Stored | None:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            with closing(answer["Body"]) as body:
                return digest_stream(body)

        return await asyncio.to_thread(digest)

    async def exists(self, key: str) -> bool:
        """HEAD the key."""
        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    async def put(self, key: str, source) -> None:
        """Upload a file the server made (multipart for big ones, boto3's transfer manager), then remove it."""
        await asyncio.to_thread(self.client.upload_file, str(source), self.bucket, key)
        os.unlink(source)

    async def delete(self, key: str) -> None:
        """Remove the object (S3 answers 204 for a missing key too)."""
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    def download_url(self, key: str, *, filename: str, content_type: str, inline: bool, seconds: int) -> str:
        """Presigned GET answering with our disposition and type, whatever the object was stored with."""
        disposition = "inline" if inline else "attachment"
        return self.signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
                "ResponseContentType": content_type,
            },
            ExpiresIn=seconds,
        )

    def connect_origins(self) -> list[str]:
        """The store's origin: browsers upload to it directly."""
        endpoint = self.signer.meta.endpoint_url
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{parts.netloc}"]
