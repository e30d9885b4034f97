"""Random keys for the rows a reporter's act writes, numbers within a case, and the
reporters' audit entries held back to their day's batch.

Rows written before this revision keep their ids (renumbering them would mean rewriting
every reference to them); their order is what it was. Messages, files and flags get
their numbers within the case from that order, once.

Revision ID: 9b2e4c7d1a03
Revises: 3f6a8d2c5e71
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "9b2e4c7d1a03"
down_revision = "3f6a8d2c5e71"
branch_labels = None
depends_on = None

NUMBERED = ("messages", "attachments", "retaliation_flags")
# Tables whose ids are now random, and the columns that refer to them.
RANDOM = ("cases", "grants", "messages", "attachments", "retaliation_flags", "outbox")
REFERRING = {
    "cases": (
        "grants",
        "messages",
        "attachments",
        "findings",
        "audit_log",
        "implicated_staff",
        "disciplinary_outcomes",
        "protected_persons",
        "retaliation_flags",
        "check_ins",
    ),
    "messages": ("attachments",),
}


def upgrade() -> None:
    for table in NUMBERED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE {table} SET number = "
            f"(SELECT count(*) FROM {table} AS earlier WHERE earlier.case_id = {table}.case_id AND earlier.id <= {table}.id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
            batch.create_unique_constraint(op.f(f"uq_{table}_case_id"), ["case_id", "number"])

    if op.get_bind().dialect.name == "postgresql":
        # SQLite's INTEGER key is 64 bits already (and stays the rowid); PostgreSQL's is not.
        for table in RANDOM:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE BIGINT")
            op.execute(f"DROP SEQUENCE IF EXISTS {table}_id_seq")
        for referred, tables in REFERRING.items():
            column = "case_id" if referred == "cases" else "message_id"
            for table in tables:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT")

    op.create_table(
        "reporter_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_reporter_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporter_events")),
    )
    with op.batch_alter_table("reporter_events") as batch:
        batch.create_index(batch.f("ix_reporter_events_day"), ["day"], unique=False)


def downgrade() -> None:
    op.drop_table("reporter_events")
    for table in NUMBERED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_case_id"), type_="unique")
            batch.drop_column("number")
