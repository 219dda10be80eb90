"""What an organization downloads to verify its audit log offline: its checkpoints bundle (signed heads, where the
chain starts after retention, the public key) and the stand-alone script verify_audit_export.py (docs/audit.md)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from webapp.audit import checkpoints as signed
from webapp.audit.verify import latest_anchor
from webapp.core import audit_chain

SCRIPT = Path(__file__).with_name("verify_audit_export.py")


def source() -> str:
    """The offline verifier's source, as downloaded."""
    return SCRIPT.read_text(encoding="utf-8")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def checkpoint_bundle(session: AsyncSession, organization_id: uuid.UUID | None, seed: bytes | None) -> dict:
    """The chain's signed checkpoints, its anchor and the public key, as one JSON document."""
    chain = audit_chain.chain_key(organization_id)
    anchor = await latest_anchor(session, chain)
    return {
        "chain": str(chain),
        "generated_at": _when(datetime.now(UTC)),
        "public_key_pem": signed.public_pem(seed) if seed is not None else None,
        "key_id": signed.key_id(signed.signing_key(seed).public_key()) if seed is not None else None,
        "anchor": {"seq": anchor.seq, "row_hash": anchor.row_hash} if anchor else None,
        "checkpoints": [
            {"seq": c.seq, "head_hash": c.head_hash, "signed_at": _when(c.signed_at), "key_id": c.key_id,
             "signature": c.signature}
            for c in await signed.checkpoints_of(session, chain)
        ],
    }  # fmt: skip


def dumps(bundle: dict) -> str:
    """The bundle as the download writes it."""
    return json.dumps(bundle, ensure_ascii=False, indent=2)
