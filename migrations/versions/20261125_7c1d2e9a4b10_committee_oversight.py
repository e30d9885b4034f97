"""Committee oversight: when a case was escalated, and implications the Committee overrode.

Revision ID: 7c1d2e9a4b10
Revises: 2513e30f7488
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "7c1d2e9a4b10"
down_revision = "2513e30f7488"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("escalated_on", sa.Date(), nullable=True))
    with op.batch_alter_table("implicated_staff") as batch:
        batch.add_column(sa.Column("overridden", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    # Cases escalated before this revision: their date is not kept, the status says it.
    op.execute("UPDATE cases SET escalated_on = received_on WHERE status = 'escalated'")
    # An implicated member who holds a grant got it through an override.
    op.execute(
        "UPDATE implicated_staff SET overridden = true WHERE EXISTS (SELECT 1 FROM grants "
        "WHERE grants.case_id = implicated_staff.case_id AND grants.staff_id = implicated_staff.staff_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("implicated_staff") as batch:
        batch.drop_column("overridden")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("escalated_on")
