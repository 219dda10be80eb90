"""SQL building blocks migrations share: the app role, RLS policies, grants, monthly partitions."""

from __future__ import annotations

import os
import re

from alembic import op

STATEMENT_BREAK = re.compile(r"^\s*--;\s*$", re.MULTILINE)


def execute_script(script: str) -> None:
    """Run statements separated by `--;` lines one by one (asyncpg prepares each statement)."""
    for statement in STATEMENT_BREAK.split(script):
        if statement.strip():
            op.execute(statement)


PARTITION_TABLE = re.compile(
    r"^((audit_logs|security_events|usage_metered_usage)_(p\d{6}|default)|search_index_p\d{2})$"
)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave partitions (monthly ones made at run time by ensure_monthly_partitions, search_index's hash
    partitions made by its migration) out of autogenerate."""
    return not (type_ == "table" and name and PARTITION_TABLE.match(name))


def app_role() -> str:
    """Name of the non-privileged role the web and worker processes run as."""
    role = os.environ.get("DATABASE_APP_ROLE", "closedloop_app")
    if not role.replace("_", "").isalnum():
        raise SystemExit(f"DATABASE_APP_ROLE must be a plain identifier, got {role!r}")
    return role


def create_app_role() -> None:
    """Create the app role (cluster-wide, so kept on downgrade) and the helper functions policies read."""
    role = app_role()
    execute_script(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
            -- the migrating role must be able to SET ROLE to it (superusers always can)
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE format('GRANT %I TO %I', '{role}', current_user);
            END IF;
        END $$;
        --;
        GRANT USAGE ON SCHEMA public TO {role};
        --;

        CREATE OR REPLACE FUNCTION app_current_org() RETURNS uuid LANGUAGE sql STABLE AS
            $f$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $f$;
        --;
        CREATE OR REPLACE FUNCTION app_current_user() RETURNS uuid LANGUAGE sql STABLE AS
            $f$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $f$;
        --;
        CREATE OR REPLACE FUNCTION app_rls_bypass() RETURNS boolean LANGUAGE sql STABLE AS
            $f$ SELECT coalesce(current_setting('app.bypass_rls', true), 'off') = 'on' $f$;
        --;
    """)


def enable_tenant_rls(table: str, *, extra_using: str | None = None, allow_null_org: bool = False) -> None:
    """ENABLE + FORCE RLS with the tenant policy on `organization_id`."""
    using = "organization_id = (SELECT app_current_org()) OR (SELECT app_rls_bypass())"
    if extra_using:
        using += f" OR {extra_using}"
    check = "organization_id = (SELECT app_current_org()) OR (SELECT app_rls_bypass())"
    if allow_null_org:
        check += " OR organization_id IS NULL"
    execute_script(f"""
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        --;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        --;
        CREATE POLICY {table}_tenant ON {table} USING ({using}) WITH CHECK ({check});
        --;
    """)


def grant_app_role(*, read_write: list[str], append_only: list[str] = (), read_only: list[str] = ()) -> None:
    """Table privileges for the app role; append-only tables get no UPDATE or DELETE."""
    role = app_role()
    for table in read_write:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
    for table in append_only:
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {role}")
    for table in read_only:
        op.execute(f"GRANT SELECT ON {table} TO {role}")


def revoke_app_role(tables: list[str]) -> None:
    """Undo grant_app_role."""
    role = app_role()
    for table in tables:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")


def install_partition_function(tables: tuple[str, ...] = ("audit_logs",)) -> None:
    """ensure_monthly_partitions(parent, months) for the listed tables: owner-privileged, callable by the app role."""
    role = app_role()
    allowed = ", ".join(f"'{t}'" for t in tables)
    execute_script(f"""
        CREATE OR REPLACE FUNCTION ensure_monthly_partitions(parent text, months_ahead integer)
        RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
        DECLARE
            month_start date := date_trunc('month', now())::date;
            i integer;
            created integer := 0;
            part text;
        BEGIN
            IF parent NOT IN ({allowed}) THEN
                RAISE EXCEPTION 'not a partitioned table managed here: %', parent;
            END IF;
            IF months_ahead < 0 OR months_ahead > 24 THEN
                RAISE EXCEPTION 'months_ahead must be between 0 and 24';
            END IF;
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I DEFAULT', parent || '_default', parent);
            FOR i IN 0..months_ahead LOOP
                part := parent || '_p' || to_char(month_start + make_interval(months => i), 'YYYYMM');
                IF to_regclass(part) IS NULL THEN
                    EXECUTE format(
                        'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                        part, parent,
                        month_start + make_interval(months => i),
                        month_start + make_interval(months => i + 1)
                    );
                    created := created + 1;
                END IF;
            END LOOP;
            RETURN created;
        END $f$;
        --;
        REVOKE ALL ON FUNCTION ensure_monthly_partitions(text, integer) FROM PUBLIC;
        --;
        GRANT EXECUTE ON FUNCTION ensure_monthly_partitions(text, integer) TO {role};
        --;
    """)


def drop_partition_function() -> None:
    """Remove the partition helper and the policy helper functions."""
    execute_script("""
        DROP FUNCTION IF EXISTS ensure_monthly_partitions(text, integer);
        --;
        DROP FUNCTION IF EXISTS app_current_org();
        --;
        DROP FUNCTION IF EXISTS app_current_user();
        --;
        DROP FUNCTION IF EXISTS app_rls_bypass();
        --;
    """)


def install_detach_function(tables: tuple[str, ...]) -> None:
    """detach_old_partitions(parent, keep_months) for the listed tables: detaches the monthly partitions that end
    before the retention window (they stay as tables of their own, to be archived and dropped by an operator);
    owner-privileged, callable by the app role. For usage events it also forgets their idempotency keys: an event
    that old is refused anyway (it is older than the late-arrival window)."""
    role = app_role()
    allowed = ", ".join(f"'{t}'" for t in tables)
    execute_script(f"""
        CREATE OR REPLACE FUNCTION detach_old_partitions(parent text, keep_months integer)
        RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
        DECLARE
            cutoff date := (date_trunc('month', now()) - make_interval(months => keep_months))::date;
            child text;
            detached integer := 0;
        BEGIN
            IF parent NOT IN ({allowed}) THEN
                RAISE EXCEPTION 'not a partitioned table managed here: %', parent;
            END IF;
            IF keep_months < 2 OR keep_months > 120 THEN
                RAISE EXCEPTION 'keep_months must be between 2 and 120';
            END IF;
            FOR child IN
                SELECT c.relname FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname = parent AND c.relname ~ ('^' || parent || '_p[0-9]{{6}}$')
                  AND to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month' <= cutoff
                ORDER BY c.relname
            LOOP
                EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, child);
                detached := detached + 1;
            END LOOP;
            IF parent = 'usage_metered_usage' THEN
                DELETE FROM usage_transaction_keys WHERE occurred_at < cutoff;
            END IF;
            RETURN detached;
        END $f$;
        --;
        REVOKE ALL ON FUNCTION detach_old_partitions(text, integer) FROM PUBLIC;
        --;
        GRANT EXECUTE ON FUNCTION detach_old_partitions(text, integer) TO {role};
        --;
    """)
