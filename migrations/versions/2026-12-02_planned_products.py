"""Products are recorded (the crew made them) or planned (a simulation run schedules them for a day): `kind`
replaces `source`; a run's products become one row per recipe, product and planned day, so a re-run adds a plan,
never to what was made

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00+00:00
"""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
import uuid6
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KG = Decimal("0.0001")


def _as_dict(value):
    return json.loads(value) if isinstance(value, str) else value


def _daily_rows(product, run) -> list[dict]:
    """A run's total for one recipe and product, split over the days its plan schedules the batches."""
    snapshot, results = _as_dict(run.input_snapshot), _as_dict(run.results)
    recipe = next((r for r in snapshot["recipes"] if r.get("id") == str(product.recipe_id)), None)
    batches = results.get("batches", {}).get(recipe["key"]) if recipe else None
    per_batch = (recipe or {}).get("outputs", {}).get(product.product_type)
    start = date.fromisoformat(snapshot.get("start_date") or run.created_at.date().isoformat())
    days = []
    if batches and per_batch:
        for offset, count in enumerate(batches):
            kg = (Decimal(str(count)) * Decimal(str(per_batch))).quantize(KG)
            if kg > 0:
                days.append((start + timedelta(days=offset), kg))
    if not days:  # nothing to split by: the whole plan on its first day
        days = [(start, product.quantity_kg)]
    return [
        {
            "id": uuid.UUID(bytes=uuid6.uuid7().bytes),
            "organization_id": product.organization_id,
            "mission_id": product.mission_id,
            "product_type": product.product_type,
            "quantity_kg": kg,
            "produced_at": datetime.combine(day, time(), UTC),
            "recipe_id": product.recipe_id,
            "kind": "planned",
            "simulation_run_id": product.simulation_run_id,
            "notes": product.notes,
            "created_by": product.created_by,
            "deleted_at": product.deleted_at,
            "created_at": product.created_at,
        }
        for day, kg in days
    ]


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("SET LOCAL app.bypass_rls = 'on'")  # a data migration across every tenant, by the schema owner
    kind = postgresql.ENUM("recorded", "planned", name="product_kind")
    kind.create(bind)
    op.add_column("products", sa.Column("kind", kind, server_default="recorded", nullable=False))
    op.drop_constraint(op.f("ck_products_simulation_has_run"), "products", type_="check")
    op.drop_index(
        "uq_products_run_recipe_type", table_name="products", postgresql_where=sa.text("simulation_run_id IS NOT NULL")
    )

    planned = bind.execute(
        sa.text(
            "SELECT p.id, p.organization_id, p.mission_id, p.product_type::text AS product_type, p.quantity_kg, "
            "p.recipe_id, p.simulation_run_id, p.notes, p.created_by, p.deleted_at, p.created_at, "
            "r.input_snapshot, r.results, r.created_at AS run_created_at "
            "FROM products p JOIN simulation_runs r ON r.id = p.simulation_run_id WHERE p.source = 'simulation'"
        )
    ).all()
    table = sa.table(
        "products",
        *[
            sa.column(c)
            for c in (
                "id",
                "organization_id",
                "mission_id",
                "product_type",
                "quantity_kg",
                "produced_at",
                "recipe_id",
                "kind",
                "simulation_run_id",
                "notes",
                "created_by",
                "deleted_at",
                "created_at",
            )
        ],
    )
    for product in planned:
        run = type(
            "Run",
            (),
            {
                "input_snapshot": product.input_snapshot,
                "results": product.results,
                "created_at": product.run_created_at,
            },
        )
        rows = _daily_rows(product, run)
        bind.execute(sa.text("DELETE FROM products WHERE id = :id"), {"id": product.id})
        bind.execute(
            table.insert().values(
                [
                    {
                        **row,
                        "product_type": sa.cast(
                            row["product_type"], postgresql.ENUM(name="resource", create_type=False)
                        ),
                        "kind": sa.cast(row["kind"], kind),
                    }
                    for row in rows
                ]
            )
        )

    op.drop_column("products", "source")
    op.execute("DROP TYPE product_source")
    op.create_check_constraint(
        op.f("ck_products_planned_has_run"), "products", "(kind = 'planned') = (simulation_run_id IS NOT NULL)"
    )
    op.create_index(
        "uq_products_run_recipe_type_day",
        "products",
        ["simulation_run_id", "recipe_id", "product_type", "produced_at"],
        unique=True,
        postgresql_where=sa.text("simulation_run_id IS NOT NULL"),
        postgresql_nulls_not_distinct=True,
    )
    op.create_index(
        "ix_products_mission_kind_live",
        "products",
        ["organization_id", "mission_id", "kind", "product_type"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("SET LOCAL app.bypass_rls = 'on'")
    op.drop_index(
        "ix_products_mission_kind_live", table_name="products", postgresql_where=sa.text("deleted_at IS NULL")
    )
    op.drop_index(
        "uq_products_run_recipe_type_day",
        table_name="products",
        postgresql_where=sa.text("simulation_run_id IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_products_planned_has_run"), "products", type_="check")
    source = postgresql.ENUM("manual", "simulation", name="product_source")
    source.create(bind)
    op.add_column("products", sa.Column("source", source, server_default="manual", nullable=False))
    # a plan's days fold back into one row per recipe and product, dated when the run finished
    op.execute("""
        WITH folded AS (
            DELETE FROM products WHERE kind = 'planned'
            RETURNING organization_id, mission_id, product_type, quantity_kg, recipe_id, simulation_run_id, notes,
                      created_by, deleted_at, created_at)
        INSERT INTO products (id, organization_id, mission_id, product_type, quantity_kg, produced_at, recipe_id,
                              source, simulation_run_id, notes, created_by, deleted_at, created_at)
        SELECT gen_random_uuid(), f.organization_id, f.mission_id, f.product_type, sum(f.quantity_kg),
               coalesce(r.finished_at, min(f.created_at)), f.recipe_id, 'simulation', f.simulation_run_id,
               min(f.notes), min(f.created_by::text)::uuid, max(f.deleted_at), min(f.created_at)
        FROM folded f JOIN simulation_runs r ON r.id = f.simulation_run_id
        GROUP BY f.organization_id, f.mission_id, f.product_type, f.recipe_id, f.simulation_run_id, r.finished_at
    """)
    op.drop_column("products", "kind")
    op.execute("DROP TYPE product_kind")
    op.create_check_constraint(
        op.f("ck_products_simulation_has_run"), "products", "(source = 'simulation') = (simulation_run_id IS NOT NULL)"
    )
    op.create_index(
        "uq_products_run_recipe_type",
        "products",
        ["simulation_run_id", "recipe_id", "product_type"],
        unique=True,
        postgresql_where=sa.text("simulation_run_id IS NOT NULL"),
    )
