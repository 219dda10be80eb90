"""Two run types that study a mission instead of planning it once (issue 24): `trade_study` re-plans it for each
combination of one or two swept parameters, `pareto_sweep` traces the target against waste processed or energy.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 04:20:00+00:00
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL adds an enum value inside a transaction as long as nothing uses it in the same one
    op.execute("ALTER TYPE simulation_run_type ADD VALUE IF NOT EXISTS 'trade_study'")
    op.execute("ALTER TYPE simulation_run_type ADD VALUE IF NOT EXISTS 'pareto_sweep'")


def downgrade() -> None:
    # PostgreSQL cannot drop one value of an enum; the runs of these types go, their products with them (none)
    op.execute("DELETE FROM simulation_runs WHERE run_type::text IN ('trade_study', 'pareto_sweep')")
