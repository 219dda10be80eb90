"""Settings: one typed registry (webapp/settings/registry.py) and one table of values at system, organization or
user scope; the effective value resolves user -> organization -> system -> default. Email preferences move off
users.email_preferences onto it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.security import app_role, execute_script, revoke_app_role

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

EMAIL_KEYS = ("approval_requests", "invitation_accepted", "mentions")


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("scope", sa.Enum("system", "organization", "user", name="setting_scope"), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_.]{1,79}$'", name=op.f("ck_settings_key_format")),
        sa.CheckConstraint(
            "(scope = 'system' AND organization_id IS NULL AND user_id IS NULL) OR "
            "(scope = 'organization' AND organization_id IS NOT NULL AND user_id IS NULL) OR "
            "(scope = 'user' AND user_id IS NOT NULL AND organization_id IS NULL)",
            name=op.f("ck_settings_scope_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_settings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_settings_updated_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_settings_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings")),
    )
    op.create_index(
        "uq_settings_system_key", "settings", ["key"], unique=True, postgresql_where=sa.text("scope = 'system'")
    )
    op.create_index(
        "uq_settings_org_key",
        "settings",
        ["organization_id", "key"],
        unique=True,
        postgresql_where=sa.text("scope = 'organization'"),
    )
    op.create_index(
        "uq_settings_user_key", "settings", ["user_id", "key"], unique=True, postgresql_where=sa.text("scope = 'user'")
    )
    role = app_role()
    # everyone reads the platform's defaults; an organization's values are its members'; a person's are theirs.
    # Platform defaults are written only under the (audited) staff bypass.
    execute_script(f"""
        ALTER TABLE settings ENABLE ROW LEVEL SECURITY;
        --;
        ALTER TABLE settings FORCE ROW LEVEL SECURITY;
        --;
        CREATE POLICY settings_scope ON settings
            USING (
                scope = 'system'
                OR organization_id = (SELECT app_current_org())
                OR user_id = (SELECT app_current_user())
                OR (SELECT app_rls_bypass())
                -- a teammate's choices (whether they want an email) are readable inside the organization
                OR (scope = 'user' AND EXISTS (
                    SELECT 1 FROM memberships m WHERE m.user_id = settings.user_id
                    AND m.organization_id = (SELECT app_current_org()) AND m.deleted_at IS NULL))
            )
            WITH CHECK (
                (scope = 'organization' AND organization_id = (SELECT app_current_org()))
                OR (scope = 'user' AND user_id = (SELECT app_current_user()))
                OR (SELECT app_rls_bypass())
            );
        --;
        GRANT SELECT, INSERT, UPDATE, DELETE ON settings TO {role};
    """)
    # email preferences move onto the registry: one user-scope row per choice someone made
    for key in EMAIL_KEYS:
        op.execute(f"""
            INSERT INTO settings (id, scope, user_id, key, value)
            SELECT gen_random_uuid(), 'user', id, 'email.{key}', email_preferences -> '{key}'
            FROM users WHERE email_preferences ? '{key}' AND jsonb_typeof(email_preferences -> '{key}') = 'boolean'
        """)
    op.drop_column("users", "email_preferences")


def downgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "email_preferences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.execute("""
        UPDATE users SET email_preferences = coalesce((
            SELECT jsonb_object_agg(substr(s.key, 7), s.value) FROM settings s
            WHERE s.scope = 'user' AND s.user_id = users.id AND s.key LIKE 'email.%'
        ), '{}'::jsonb)
    """)
    revoke_app_role(["settings"])
    op.drop_index("uq_settings_user_key", table_name="settings", postgresql_where=sa.text("scope = 'user'"))
    op.drop_index("uq_settings_org_key", table_name="settings", postgresql_where=sa.text("scope = 'organization'"))
    op.drop_index("uq_settings_system_key", table_name="settings", postgresql_where=sa.text("scope = 'system'"))
    op.drop_table("settings")
    op.execute("DROP TYPE IF EXISTS setting_scope")
