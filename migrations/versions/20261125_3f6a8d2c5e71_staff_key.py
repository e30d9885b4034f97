"""A second key per case, for what only staff read: the reporter's receipt opens none of it.

Cases filed before this revision get no staff key here (that needs a case
private key, which the server does not have): the first holder to open such a
case makes one, grants it, and re-seals the staff-only boxes under it
(``cases/access.py``, ``upgrade_case``).

Revision ID: 3f6a8d2c5e71
Revises: 3f8a61c0d2b7
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "3f6a8d2c5e71"
down_revision = "3f8a61c0d2b7"  # after the random references
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("staff_public_key", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("staff_sealed_key", sa.LargeBinary(length=80), nullable=True))
        batch.create_check_constraint(
            op.f("ck_grants_reporter_has_no_staff_key"), "holder <> 'reporter' OR staff_sealed_key IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_constraint(op.f("ck_grants_reporter_has_no_staff_key"), type_="check")
        batch.drop_column("staff_sealed_key")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("staff_public_key")
