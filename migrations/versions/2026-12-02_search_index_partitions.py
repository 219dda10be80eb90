"""search_index is hash-partitioned by organization (16 partitions): a word that is in every organization's
documents no longer makes the GIN scan walk every organization's matches before the organization filter keeps
its own — each query's index scan sees one partition, about 1/16 of the rows (bench/search.py, docs/scaling.md).
The organization already led the primary key, so keys, upserts and RLS stay as they were

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 22:10:00+00:00
"""

from alembic import op

from migrations.security import enable_tenant_rls, execute_script, grant_app_role

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PARTITIONS = 16
COLUMNS = "organization_id, entity_type, entity_id, mission_id, title, body, tags, tags_text, indexed_at"
DOCUMENT = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(tags_text, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')"
)


def _create(partitioned: bool) -> None:
    by = " PARTITION BY HASH (organization_id)" if partitioned else ""
    execute_script(f"""
        CREATE TABLE search_index (
            organization_id uuid NOT NULL,
            entity_type varchar(40) NOT NULL,
            entity_id uuid NOT NULL,
            mission_id uuid,
            title text NOT NULL,
            body text DEFAULT '' NOT NULL,
            tags jsonb DEFAULT '[]'::jsonb NOT NULL,
            tags_text text DEFAULT '' NOT NULL,
            search_vector tsvector GENERATED ALWAYS AS ({DOCUMENT}) STORED NOT NULL,
            indexed_at timestamptz DEFAULT now() NOT NULL,
            CONSTRAINT pk_search_index PRIMARY KEY (organization_id, entity_type, entity_id),
            CONSTRAINT fk_search_index_organization_id_organizations FOREIGN KEY (organization_id)
                REFERENCES organizations (id) ON DELETE CASCADE,
            CONSTRAINT ck_search_index_tags_array CHECK (jsonb_typeof(tags) = 'array'),
            CONSTRAINT ck_search_index_entity_type_length CHECK (char_length(entity_type) BETWEEN 1 AND 40)
        ){by}
    """)
    if partitioned:
        for n in range(PARTITIONS):
            op.execute(
                f"CREATE TABLE search_index_p{n:02d} PARTITION OF search_index "
                f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {n})"
            )


def _index() -> None:
    op.execute("CREATE INDEX ix_search_index_vector ON search_index USING gin (search_vector)")
    op.execute("CREATE INDEX ix_search_index_tags ON search_index USING gin (tags jsonb_path_ops)")
    op.execute("CREATE INDEX ix_search_index_entity ON search_index (entity_type, entity_id)")


def _move(partitioned: bool) -> None:
    op.execute("ALTER TABLE search_index RENAME TO search_index_old")
    for name in ("pk_search_index", "ix_search_index_vector", "ix_search_index_tags", "ix_search_index_entity"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    for name in (
        "fk_search_index_organization_id_organizations",
        "ck_search_index_tags_array",
        "ck_search_index_entity_type_length",
    ):
        op.execute(f"ALTER TABLE search_index_old RENAME CONSTRAINT {name} TO {name}_old")
    _create(partitioned)
    op.execute(f"INSERT INTO search_index ({COLUMNS}) SELECT {COLUMNS} FROM search_index_old")
    op.execute("DROP TABLE search_index_old")
    _index()  # after the copy: building a GIN index once is faster than growing it row by row
    # the policy sits on the parent, which is the only table the app role may touch; the partitions are reached
    # through it (a query naming a partition directly has no grant)
    enable_tenant_rls("search_index")
    grant_app_role(read_write=["search_index"])


def upgrade() -> None:
    _move(partitioned=True)


def downgrade() -> None:
    _move(partitioned=False)
