"""settings: one value of one registered setting at one scope (system, an organization, or a user)."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.core.db import Base, Timestamps, UUIDPrimaryKey, Versioned
from webapp.core.enums import pg_enum
from webapp.settings.enums import SettingScope


class Setting(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A value set at one scope; absent rows fall back to the next scope, then the registry's default."""

    __tablename__ = "settings"
    __table_args__ = (
        Index("uq_settings_system_key", "key", unique=True, postgresql_where=text("scope = 'system'")),
        Index(
            "uq_settings_org_key",
            "organization_id",
            "key",
            unique=True,
            postgresql_where=text("scope = 'organization'"),
        ),
        Index("uq_settings_user_key", "user_id", "key", unique=True, postgresql_where=text("scope = 'user'")),
        CheckConstraint(
            "(scope = 'system' AND organization_id IS NULL AND user_id IS NULL) OR "
            "(scope = 'organization' AND organization_id IS NOT NULL AND user_id IS NULL) OR "
            "(scope = 'user' AND user_id IS NOT NULL AND organization_id IS NULL)",
            name="scope_owner",
        ),
        CheckConstraint("key ~ '^[a-z][a-z0-9_.]{1,79}$'", name="key_format"),
    )

    scope: Mapped[SettingScope] = mapped_column(pg_enum(SettingScope, "setting_scope"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[object] = mapped_column(JSONB)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
