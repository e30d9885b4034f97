"""Device cookies for staff logins, and limits shared by every process.

Revision ID: c41d7e2b9f58
Revises: 9b2e4c7d1a03
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "c41d7e2b9f58"
down_revision = "9b2e4c7d1a03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_devices_staff_id_staff"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_devices_token_hash")),
    )
    with op.batch_alter_table("staff_devices") as batch:
        batch.create_index(batch.f("ix_staff_devices_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "rate_windows",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_windows")),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_table("staff_devices")
