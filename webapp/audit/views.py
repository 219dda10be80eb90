"""The audit checkpoints' public key, published so anyone can check a signed checkpoint offline."""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from webapp.audit.checkpoints import public_pem
from webapp.core.errors import NotFound
from webapp.core.permissions import public

bp = Blueprint("audit", __name__)


@bp.get("/audit/public-key")
@public
async def public_key():
    """The Ed25519 public key (PEM) the daily audit checkpoints are signed with."""
    seed = current_app.extensions["closedloop"]["settings"].audit_signing_seed()
    if seed is None:
        raise NotFound("Audit checkpoints are not signed on this installation.")
    return Response(public_pem(seed), content_type="application/x-pem-file; charset=utf-8")
