"""Named sinks (issue 24): the water, gases and propellant recipes make go to the water recovery system, the air
system or propellant storage, each with its own capacity (kg) and — water recovery and air — what it passes on a
day. Missions get the five numbers, NULL (unlimited, as before) by default; recipes may now make carbon dioxide and
hydrogen.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

CAPACITIES = ("water_recovery", "air_system", "propellant")
DRAINS = ("water_recovery", "air_system")


def upgrade() -> None:
    # PostgreSQL adds an enum value inside a transaction as long as nothing uses it in the same one
    op.execute("ALTER TYPE resource ADD VALUE IF NOT EXISTS 'carbon_dioxide'")
    op.execute("ALTER TYPE resource ADD VALUE IF NOT EXISTS 'hydrogen'")
    for sink in CAPACITIES:
        op.add_column("missions", sa.Column(f"{sink}_capacity_kg", sa.Numeric(10, 3), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_missions_{sink}_capacity_positive"),
            "missions",
            f"{sink}_capacity_kg IS NULL OR {sink}_capacity_kg > 0",
        )
    for sink in DRAINS:
        op.add_column("missions", sa.Column(f"{sink}_drain_kg_per_day", sa.Numeric(10, 3), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_missions_{sink}_drain_nonnegative"),
            "missions",
            f"{sink}_drain_kg_per_day IS NULL OR {sink}_drain_kg_per_day >= 0",
        )


def downgrade() -> None:
    for sink in DRAINS:
        op.drop_column("missions", f"{sink}_drain_kg_per_day")
    for sink in CAPACITIES:
        op.drop_column("missions", f"{sink}_capacity_kg")
    # PostgreSQL cannot drop one value of an enum; lines and products that name them go
    op.execute("DELETE FROM recipe_lines WHERE resource IN ('carbon_dioxide', 'hydrogen')")
    op.execute("DELETE FROM products WHERE product_type IN ('carbon_dioxide', 'hydrogen')")
