"""Random case references: the counter that made them sequential goes.

References already given keep their form (2026-0001); new ones are the year and
eight random symbols (2026-7KQ4-M2XD). The old ones still tell their order.

Revision ID: 3f8a61c0d2b7
Revises: 7c1d2e9a4b10
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "3f8a61c0d2b7"
down_revision = "7c1d2e9a4b10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("reference_counters")


def downgrade() -> None:
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_reference_counters")),
    )
