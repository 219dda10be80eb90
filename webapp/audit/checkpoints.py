"""Daily signed checkpoints of every audit chain's head (Ed25519 via `cryptography`). The signed message is the
canonical JSON of {chain, seq, head_hash, signed_at}; the public key is published at /audit/public-key, so an
organization can check its downloaded rows and checkpoints offline (docs/audit.md)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.audit.models import AuditCheckpoint
from webapp.core import audit_chain
from webapp.core.audit import AuditChainHead
from webapp.core.ids import new_id


def signing_key(seed: bytes) -> Ed25519PrivateKey:
    """The private key of a 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(seed: bytes) -> str:
    """The public key, PEM, as published."""
    return signing_key(seed).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()  # fmt: skip


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def message(chain: uuid.UUID, seq: int, head_hash: str, signed_at: datetime) -> bytes:
    """What a checkpoint's signature covers."""
    return audit_chain.canonical({
        "chain": str(chain), "seq": seq, "head_hash": head_hash,
        "signed_at": signed_at.astimezone(UTC).isoformat(timespec="microseconds"),
    })  # fmt: skip


def signature_holds(public: Ed25519PublicKey, checkpoint) -> bool:
    """Whether a checkpoint's signature is the key's over its facts."""
    try:
        public.verify(bytes.fromhex(checkpoint.signature), message(
            checkpoint.chain_key, checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at))  # fmt: skip
    except (InvalidSignature, ValueError):
        return False
    return True


async def sign_heads(session: AsyncSession, seed: bytes) -> int:
    """Sign every chain head that moved since its last checkpoint (the caller has the RLS bypass); how many."""
    private = signing_key(seed)
    kid = key_id(private.public_key())
    latest = {
        c.chain_key: c.seq
        for c in (await session.execute(
            select(AuditCheckpoint.chain_key, AuditCheckpoint.seq).ext(distinct_on(AuditCheckpoint.chain_key))
            .order_by(AuditCheckpoint.chain_key, AuditCheckpoint.seq.desc())
        )).all()
    }  # fmt: skip
    signed = 0
    for head in (await session.execute(select(AuditChainHead))).scalars():
        if latest.get(head.chain_key) == head.seq:
            continue
        now = datetime.now(UTC)
        signature = private.sign(message(head.chain_key, head.seq, head.head_hash, now)).hex()
        session.add(AuditCheckpoint(id=new_id(), chain_key=head.chain_key, seq=head.seq, head_hash=head.head_hash,
                                    signed_at=now, key_id=kid, signature=signature))  # fmt: skip
        signed += 1
    await session.flush()
    return signed


async def checkpoints_of(session: AsyncSession, chain: uuid.UUID) -> list[AuditCheckpoint]:
    """A chain's checkpoints, oldest first."""
    rows = await session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.chain_key == chain).order_by(AuditCheckpoint.seq)
    )
    return list(rows.scalars())
