"""Date format, time zone and the two-factor rule move onto the settings registry: users.locale and
users.timezone become the user settings profile.locale and profile.timezone, organizations.require_mfa the
organization setting security.require_mfa. Members read their organizations' settings (the list of one's
organizations shows each one's two-factor rule)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 21:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from migrations.security import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_POLICY = """
    DROP POLICY settings_scope ON settings;
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
            {members_read}
        )
        WITH CHECK (
            (scope = 'organization' AND organization_id = (SELECT app_current_org()))
            OR (scope = 'user' AND user_id = (SELECT app_current_user()))
            OR (SELECT app_rls_bypass())
        );
"""
_MEMBERS_READ = """
            -- an organization's settings are readable by its members from anywhere (their list of organizations)
            OR (scope = 'organization' AND EXISTS (
                SELECT 1 FROM memberships m WHERE m.organization_id = settings.organization_id
                AND m.user_id = (SELECT app_current_user()) AND m.deleted_at IS NULL))
"""


def upgrade() -> None:
    execute_script(_POLICY.format(members_read=_MEMBERS_READ))
    # only choices that differ from the registry's defaults become rows; the rest fall back as before
    op.execute("""
        INSERT INTO settings (id, scope, user_id, key, value)
        SELECT gen_random_uuid(), 'user', id, 'profile.locale', to_jsonb(locale) FROM users WHERE locale <> 'en'
    """)
    op.execute("""
        INSERT INTO settings (id, scope, user_id, key, value)
        SELECT gen_random_uuid(), 'user', id, 'profile.timezone', to_jsonb(timezone) FROM users WHERE timezone <> 'UTC'
    """)
    op.execute("""
        INSERT INTO settings (id, scope, organization_id, key, value)
        SELECT gen_random_uuid(), 'organization', id, 'security.require_mfa', 'true'::jsonb
        FROM organizations WHERE require_mfa
    """)
    op.drop_column("users", "locale")
    op.drop_column("users", "timezone")
    op.drop_column("organizations", "require_mfa")


def downgrade() -> None:
    op.add_column(
        "organizations", sa.Column("require_mfa", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column("users", sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False))
    op.add_column("users", sa.Column("locale", sa.String(length=16), server_default="en", nullable=False))
    op.execute("""
        UPDATE organizations o SET require_mfa = (s.value = 'true'::jsonb) FROM settings s
        WHERE s.scope = 'organization' AND s.organization_id = o.id AND s.key = 'security.require_mfa'
    """)
    for column in ("locale", "timezone"):
        op.execute(f"""
            UPDATE users u SET {column} = s.value #>> '{{}}' FROM settings s
            WHERE s.scope = 'user' AND s.user_id = u.id AND s.key = 'profile.{column}'
        """)
    op.execute("DELETE FROM settings WHERE key IN ('profile.locale', 'profile.timezone', 'security.require_mfa')")
    execute_script(_POLICY.format(members_read=""))
