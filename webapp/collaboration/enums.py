"""Attachment states."""

from enum import StrEnum


class AttachmentStatus(StrEnum):
    """pending (presigned, not verified) -> ready (bytes verified and stored)."""

    PENDING = "pending"
    READY = "ready"
