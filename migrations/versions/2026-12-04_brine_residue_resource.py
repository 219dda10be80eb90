"""The brine route (habitat.md §4.3, R11): `brine_residue`, what a brine processor leaves once it has taken the
water, is a resource recipes may output. It is stored waste, not a product.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04 17:05:00+00:00
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL adds an enum value inside a transaction as long as nothing uses it in the same one
    op.execute("ALTER TYPE resource ADD VALUE IF NOT EXISTS 'brine_residue' AFTER 'oxygen'")


def downgrade() -> None:
    # PostgreSQL cannot drop one value of an enum; recipe lines that name it go back to being impossible to write
    op.execute("DELETE FROM recipe_lines WHERE resource = 'brine_residue'")
