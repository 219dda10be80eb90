"""Spares and consumables (issue 24): what a processing module costs in logistics mass. `spares_kg_per_repair` is
the spare parts one repair uses, `consumables_kg_per_h` the filters, liners and catalyst it uses per operating hour;
both NULL (none known) by default. Existing organizations' reference modules get the reference catalog's estimates,
with their provenance.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 09:00:00+00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

# reference key: (spares kg per repair, consumables kg per operating hour), as reference_catalog.json had them
REFERENCE = {
    "hmc": (2.0, 0.01),
    "shredder": (1.5, 0.005),
    "extruder": (0.5, 0.002),
    "press": (3.0, 0.005),
    "sinter": (2.0, 0.01),
    "reformer": (2.0, 0.02),
    "brine_processor": (1.0, 0.01),
    "o2_isru": (1.5, 0.002),
}
ESTIMATE = {"basis": "estimate", "note": "no source value"}


def upgrade() -> None:
    op.add_column("processing_modules", sa.Column("spares_kg_per_repair", sa.Numeric(10, 3), nullable=True))
    op.add_column("processing_modules", sa.Column("consumables_kg_per_h", sa.Numeric(10, 4), nullable=True))
    op.create_check_constraint(
        op.f("ck_processing_modules_spares_nonnegative"),
        "processing_modules",
        "spares_kg_per_repair IS NULL OR spares_kg_per_repair >= 0",
    )
    op.create_check_constraint(
        op.f("ck_processing_modules_consumables_nonnegative"),
        "processing_modules",
        "consumables_kg_per_h IS NULL OR consumables_kg_per_h >= 0",
    )
    provenance = json.dumps({"spares_kg_per_repair": ESTIMATE, "consumables_kg_per_h": ESTIMATE})
    update = sa.text(
        "UPDATE processing_modules SET spares_kg_per_repair = :spares, consumables_kg_per_h = :consumables, "
        "provenance = provenance || CAST(:provenance AS jsonb) WHERE reference_key = :key"
    )
    for key, (spares, consumables) in REFERENCE.items():
        op.get_bind().execute(
            update, {"key": key, "spares": spares, "consumables": consumables, "provenance": provenance}
        )


def downgrade() -> None:
    op.execute(
        "UPDATE processing_modules SET provenance = provenance - 'spares_kg_per_repair' - 'consumables_kg_per_h'"
    )
    op.drop_constraint(op.f("ck_processing_modules_consumables_nonnegative"), "processing_modules", type_="check")
    op.drop_constraint(op.f("ck_processing_modules_spares_nonnegative"), "processing_modules", type_="check")
    op.drop_column("processing_modules", "consumables_kg_per_h")
    op.drop_column("processing_modules", "spares_kg_per_repair")
