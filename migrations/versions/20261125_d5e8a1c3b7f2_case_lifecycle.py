"""The whole case lifecycle (issue 12): channel, assessment, closure codes, links, feedback
given, root-cause codes, remediation, minutes, identity disclosures; and the key of the
reporter's follow-up cookie.

Revision ID: d5e8a1c3b7f2
Revises: c41d7e2b9f58
Create Date: 2026-11-25
"""

import secrets

import sqlalchemy as sa
from alembic import op


# The coded values as they stood at this revision (a migration never follows later vocabulary).
ADMISSIBILITY = ("in_scope", "out_of_scope", "duplicate", "insufficient_information", "refer")
ALLEGATION_TYPES = (
    "official_bribery",
    "improper_advantage_received",
    "gift_outside_exception",
    "hospitality_travel",
    "facilitation_payment",
    "third_party_payment",
    "donation_sponsorship",
    "false_records",
    "control_circumvention",
    "wilful_blindness",
    "retaliation",
    "other",
)
CHANNELS = ("web", "phone", "letter", "email", "meeting")
CLOSURES = ("investigated", "out_of_scope", "duplicate", "referred", "insufficient_information", "withdrawn")
DETRIMENT_RISKS = ("low", "medium", "high")
DISCLOSURE_BASES = ("consent", "authority_investigation", "judicial_proceedings", "rights_of_defence")
LINK_KINDS = ("related", "duplicate_of", "duplicated_by")
LIST_KINDS = ("business_unit", "country")
MEETING_KINDS = ("call", "video", "meeting")
MINUTES_ANSWERS = ("confirmed", "corrected")
PRIORITIES = ("low", "medium", "high", "critical")
REMEDIATION_STATUSES = ("open", "in_progress", "done", "verified")
ROOT_CAUSES = (
    "inadequate_controls",
    "third_party_due_diligence",
    "pressure_incentives",
    "management_override",
    "training_gap",
    "tone_at_the_top",
    "other",
)

revision = "d5e8a1c3b7f2"
down_revision = "c41d7e2b9f58"
branch_labels = None
depends_on = None

CASE_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _case_id(table: str) -> list:
    return [
        sa.Column("case_id", CASE_KEY, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f(f"fk_{table}_case_id_cases"), ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_in("kind", LIST_KINDS), name=op.f("ck_list_entries_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_entries")),
        sa.UniqueConstraint("kind", "label", name="one_label_per_kind"),
    )
    with op.batch_alter_table("installation") as batch:
        batch.add_column(sa.Column("session_key", sa.LargeBinary(length=32), nullable=True))
    op.get_bind().execute(sa.text("UPDATE installation SET session_key = :key"), {"key": secrets.token_bytes(32)})
    with op.batch_alter_table("installation") as batch:
        batch.alter_column("session_key", existing_type=sa.LargeBinary(length=32), nullable=False)

    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=16), server_default="web", nullable=False))
        batch.add_column(sa.Column("admissibility", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("priority", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("detriment_risk", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("business_unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("country_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("assessed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("investigation_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("plan_box", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("retaliation_watch", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch.add_column(sa.Column("feedback_given_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("closure", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("referral_box", sa.LargeBinary(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_cases_business_unit_id_list_entries"), "list_entries", ["business_unit_id"], ["id"]
        )
        batch.create_foreign_key(op.f("fk_cases_country_id_list_entries"), "list_entries", ["country_id"], ["id"])
        for column, values in (
            ("channel", CHANNELS),
            ("admissibility", ADMISSIBILITY),
            ("priority", PRIORITIES),
            ("detriment_risk", DETRIMENT_RISKS),
            ("closure", CLOSURES),
        ):
            batch.create_check_constraint(op.f(f"ck_cases_{column}"), _in(column, values))
    # Cases closed before closure codes existed were closed after a finding.
    op.execute("UPDATE cases SET closure = 'investigated' WHERE status = 'closed'")

    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("feedback", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("root_cause", sa.String(length=32), nullable=True))
        batch.create_check_constraint(op.f("ck_findings_root_cause"), _in("root_cause", ROOT_CAUSES))
        # The dashboard's counts read these columns from the index alone (cases/metrics.py).
        batch.create_index("ix_findings_case_id_outcome", ["case_id", "outcome", "root_cause", "decided_on"], unique=False)
    with op.batch_alter_table("disciplinary_outcomes") as batch:
        batch.drop_index("ix_disciplinary_outcomes_effective_on")
        batch.create_index(
            "ix_disciplinary_outcomes_effective_on", ["effective_on", "case_id", "subject_type", "action"], unique=False
        )

    op.create_table(
        "case_allegations",
        *_case_id("case_allegations"),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.CheckConstraint(_in("code", ALLEGATION_TYPES), name=op.f("ck_case_allegations_code")),
        sa.PrimaryKeyConstraint("case_id", "code", name=op.f("pk_case_allegations")),
    )
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        *_case_id("case_links"),
        sa.Column("other_id", CASE_KEY, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("linked_by", sa.Integer(), nullable=False),
        sa.Column("linked_on", sa.Date(), nullable=False),
        sa.CheckConstraint(_in("kind", LINK_KINDS), name=op.f("ck_case_links_kind")),
        sa.CheckConstraint("case_id <> other_id", name=op.f("ck_case_links_not_itself")),
        sa.ForeignKeyConstraint(
            ["other_id"], ["cases.id"], name=op.f("fk_case_links_other_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["linked_by"], ["staff.id"], name=op.f("fk_case_links_linked_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint("case_id", "other_id", name="once_per_pair"),
    )
    with op.batch_alter_table("case_links") as batch:
        batch.create_index(batch.f("ix_case_links_case_id"), ["case_id"], unique=False)
        batch.create_index(batch.f("ix_case_links_other_id"), ["other_id"], unique=False)

    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        *_case_id("remediation_actions"),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("what_box", sa.LargeBinary(), nullable=False),
        sa.Column("owner_box", sa.LargeBinary(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence_box", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("updated_on", sa.Date(), nullable=False),
        sa.CheckConstraint(_in("status", REMEDIATION_STATUSES), name=op.f("ck_remediation_actions_status")),
        sa.ForeignKeyConstraint(["created_by"], ["staff.id"], name=op.f("fk_remediation_actions_created_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_actions")),
        sa.UniqueConstraint("case_id", "number", name=op.f("uq_remediation_actions_case_id")),
    )
    with op.batch_alter_table("remediation_actions") as batch:
        batch.create_index(batch.f("ix_remediation_actions_case_id"), ["case_id"], unique=False)
        batch.create_index("ix_remediation_actions_status_due_on", ["status", "due_on", "case_id"], unique=False)

    op.create_table(
        "minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        *_case_id("minutes"),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("body_box", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("correction_box", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(_in("kind", MEETING_KINDS), name=op.f("ck_minutes_kind")),
        sa.CheckConstraint(_in("answer", MINUTES_ANSWERS), name=op.f("ck_minutes_answer")),
        sa.ForeignKeyConstraint(["recorded_by"], ["staff.id"], name=op.f("fk_minutes_recorded_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes")),
        sa.UniqueConstraint("case_id", "number", name=op.f("uq_minutes_case_id")),
    )
    with op.batch_alter_table("minutes") as batch:
        batch.create_index(batch.f("ix_minutes_case_id"), ["case_id"], unique=False)

    op.create_table(
        "identity_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        *_case_id("identity_disclosures"),
        sa.Column("recipient_box", sa.LargeBinary(), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("reporter_told", sa.Boolean(), nullable=False),
        sa.Column("disclosed_by", sa.Integer(), nullable=False),
        sa.Column("disclosed_on", sa.Date(), nullable=False),
        sa.CheckConstraint(_in("basis", DISCLOSURE_BASES), name=op.f("ck_identity_disclosures_basis")),
        sa.ForeignKeyConstraint(
            ["disclosed_by"], ["staff.id"], name=op.f("fk_identity_disclosures_disclosed_by_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_disclosures")),
    )
    with op.batch_alter_table("identity_disclosures") as batch:
        batch.create_index(batch.f("ix_identity_disclosures_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    for table in ("identity_disclosures", "minutes", "remediation_actions", "case_links", "case_allegations"):
        op.drop_table(table)
    with op.batch_alter_table("disciplinary_outcomes") as batch:
        batch.drop_index("ix_disciplinary_outcomes_effective_on")
        batch.create_index("ix_disciplinary_outcomes_effective_on", ["effective_on"], unique=False)
    with op.batch_alter_table("findings") as batch:
        batch.drop_index("ix_findings_case_id_outcome")
        batch.drop_constraint(op.f("ck_findings_root_cause"), type_="check")
        batch.drop_column("root_cause")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("feedback")
    with op.batch_alter_table("cases") as batch:
        for column in ("channel", "admissibility", "priority", "detriment_risk", "closure"):
            batch.drop_constraint(op.f(f"ck_cases_{column}"), type_="check")
        batch.drop_constraint(op.f("fk_cases_business_unit_id_list_entries"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_cases_country_id_list_entries"), type_="foreignkey")
        for column in (
            "referral_box",
            "closure",
            "feedback_given_on",
            "retaliation_watch",
            "plan_box",
            "investigation_due",
            "assessed_on",
            "country_id",
            "business_unit_id",
            "detriment_risk",
            "priority",
            "admissibility",
            "channel",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("installation") as batch:
        batch.drop_column("session_key")
    op.drop_table("list_entries")
