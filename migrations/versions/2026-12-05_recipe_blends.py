"""Recipes whose inputs may be mixed (issue 24; habitat.md §4.3: the heat melt compactor takes any trash mix with at
least 20 % plastic). `processing_recipes.blend_min_share` (NULL: the lines' fixed ratio) lets a recipe's input lines be
mixed in any proportion as long as the lines marked `recipe_lines.blend_group` make up at least that share of a batch.
Existing organizations' reference recipes get the reference catalog's blends: the trash tile (at least 20 % food
packaging and plastic parts), where it still takes one of those, and plastics shredding (any mix of its inputs).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 08:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

TILE_PLASTICS = ("food_packaging", "misc_plastics")


def upgrade() -> None:
    op.add_column("processing_recipes", sa.Column("blend_min_share", sa.Numeric(5, 4), nullable=True))
    op.create_check_constraint(
        op.f("ck_processing_recipes_blend_share_range"), "processing_recipes", "blend_min_share BETWEEN 0 AND 1"
    )
    op.add_column(
        "recipe_lines", sa.Column("blend_group", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_recipe_lines_blend_group_is_input"), "recipe_lines", "NOT blend_group OR direction = 'input'"
    )
    plastics = ", ".join(f"'{key}'" for key in TILE_PLASTICS)
    op.execute(
        "UPDATE recipe_lines l SET blend_group = true FROM processing_recipes r, waste_materials m "
        "WHERE r.id = l.recipe_id AND r.organization_id = l.organization_id AND r.reference_key = 'hmc_trash_tile' "
        f"AND l.direction = 'input' AND m.id = l.material_id AND m.reference_key IN ({plastics})"
    )
    op.execute(
        "UPDATE processing_recipes r SET blend_min_share = 0.2 WHERE r.reference_key = 'hmc_trash_tile' "
        "AND EXISTS (SELECT 1 FROM recipe_lines l WHERE l.recipe_id = r.id AND l.blend_group)"
    )
    op.execute("UPDATE processing_recipes SET blend_min_share = 0 WHERE reference_key = 'shred_plastics'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_recipe_lines_blend_group_is_input"), "recipe_lines", type_="check")
    op.drop_column("recipe_lines", "blend_group")
    op.drop_constraint(op.f("ck_processing_recipes_blend_share_range"), "processing_recipes", type_="check")
    op.drop_column("processing_recipes", "blend_min_share")
