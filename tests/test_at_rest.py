"""Nothing a reporter writes is readable from the database, its files or a dump."""

import base64
import secrets
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cases.models import Base
from tests.conftest import REPORT_FORM, count_rows, receipt_from

pytestmark = pytest.mark.usefixtures("installed")

# Columns kept in plain on purpose (README, "Metadata kept in plain"). A new
# plain column must be added to the README and here, deliberately.
PLAIN_COLUMNS = {
    # session_key: the key of the reporter's follow-up cookie, which holds their derived keys.
    "installation": {"id", "receipt_salt", "recovery_public_key", "session_key", "created_on"},
    "staff": {
        "id",
        "email",
        "role",
        "active",
        "public_key",
        "wrapped_private_key",
        "password_salt",
        "password_verifier",
        "totp_last_step",
        "failed_logins",
        "wants_digest",
        "locked_until",
        "created_at",
    },
    "staff_sessions": {"id", "token_hash", "staff_id", "state", "created_at", "last_seen_at"},
    "staff_devices": {"id", "staff_id", "token_hash", "failures", "locked_until", "last_used_at"},
    "rate_windows": {"name", "window_start", "used"},
    "cases": {
        "id",
        "reference",
        "category",
        "routing",
        "status",
        "received_on",
        "acknowledged_on",
        "acknowledge_by",
        "feedback_by",
        "public_key",
        "staff_public_key",
        "receipt_lookup",
        "assignee_id",
        "retaliation_flag",
        "closed_on",
        "escalated_on",
        "channel",
        "admissibility",
        "priority",
        "detriment_risk",
        "business_unit_id",
        "country_id",
        "assessed_on",
        "investigation_due",
        "retaliation_watch",
        "feedback_given_on",
        "closure",
    },
    "grants": {"id", "case_id", "holder", "staff_id", "sealed_key", "staff_sealed_key"},
    "messages": {"id", "case_id", "number", "sender", "staff_id", "sent_on", "retaliation", "feedback"},
    "attachments": {"id", "case_id", "number", "message_id"},
    "findings": {"id", "case_id", "outcome", "root_cause", "decided_by", "decided_on"},
    # The administrator's coding lists: business units and countries, never a reporter's text.
    "list_entries": {"id", "kind", "label", "active"},
    "case_allegations": {"case_id", "code"},
    "case_links": {"id", "case_id", "other_id", "kind", "linked_by", "linked_on"},
    "remediation_actions": {"id", "case_id", "number", "due_on", "status", "created_by", "created_on", "updated_on"},
    "minutes": {"id", "case_id", "number", "kind", "held_on", "recorded_by", "answer", "answered_on"},
    "identity_disclosures": {"id", "case_id", "basis", "reporter_told", "disclosed_by", "disclosed_on"},
    "audit_log": {"id", "at", "actor_id", "action", "case_id", "detail", "entry_hash"},
    "audit_head": {"id", "entry_id", "entry_hash"},
    "reporter_events": {"id", "day", "action", "case_id", "detail"},
    "implicated_staff": {"id", "case_id", "staff_id", "named_by", "named_on", "overridden"},
    "disciplinary_outcomes": {
        "id",
        "case_id",
        "subject_role",
        "subject_type",
        "action",
        "effective_on",
        "decided_by",
        "recorded_by",
    },
    "protected_persons": {"id", "case_id", "employee_hash", "role", "added_by", "added_on"},
    "retaliation_flags": {
        "id",
        "case_id",
        "number",
        "source",
        "opened_on",
        "respond_by",
        "status",
        "form",
        "action_on",
        "resolution",
        "resolved_by",
        "resolved_on",
    },
    "check_ins": {"id", "case_id", "days_after_closure", "delivered_on", "answered_on", "retaliation"},
    # Mails carry no case content (tests/test_notifications.py checks with a canary).
    "outbox": {
        "id",
        "recipient",
        "subject",
        "body",
        "kind",
        "dedupe_key",
        "created_at",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "last_error",
    },
}
# Sealed to a case key, or (totp_box, sealed_keys) wrapped under a password- or cookie-held key.
SEALED_COLUMNS = {
    "report_box",
    "identity_box",
    "body_box",
    "meta_box",
    "blob",
    "narrative_box",
    "root_cause_box",
    "totp_box",
    "sealed_keys",
    "subject_box",
    "notes_box",
    "name_box",
    "resolution_box",
    "plan_box",
    "referral_box",
    "what_box",
    "owner_box",
    "evidence_box",
    "correction_box",
    "recipient_box",
}


def test_only_listed_metadata_is_plain():
    for table in Base.metadata.sorted_tables:
        plain = {c.name for c in table.columns} - SEALED_COLUMNS
        assert plain == PLAIN_COLUMNS[table.name], table.name


def canary(label: str) -> str:
    return f"CANARY{label}{secrets.token_hex(6)}"


async def file_canary_report(client, reporter) -> tuple[str, dict[str, str]]:
    canaries = {
        name: canary(name)
        for name in [
            "summary",
            "details",
            "occurred",
            "country",
            "people",
            "amount",
            "howknown",
            "name",
            "contact",
            "filename",
            "filedata",
            "message",
            "msgfile",
            "msgdata",
        ]
    }
    token = await reporter.token("/report")
    page = await client.post(
        "/report",
        data={
            **REPORT_FORM,
            "csrf_token": token,
            "summary": canaries["summary"],
            "details": canaries["details"],
            "occurred_on": canaries["occurred"],
            "country": canaries["country"],
            "people": canaries["people"],
            "amount": canaries["amount"],
            "how_known": canaries["howknown"],
            "anonymity": "confidential",
            "send_anyway": "yes",  # the canary details are short: the form would ask first
            "name": canaries["name"],
            "contact": canaries["contact"],
        },
        files=[("attachments", (canaries["filename"] + ".txt", canaries["filedata"].encode() * 50, "text/plain"))],
    )
    receipt = receipt_from((await reporter.follow(page)).text)
    sent = await client.post(
        "/api/v1/follow-up/messages",
        json={
            "receipt": receipt,
            "body": canaries["message"],
            "retaliation": True,
            "attachments": [{"name": canaries["msgfile"], "data": base64.b64encode(canaries["msgdata"].encode()).decode()}],
        },
    )
    assert sent.status_code == 201
    # The canaries really are in the case: the receipt reads them back.
    shown = (await client.post("/api/v1/follow-up", json={"receipt": receipt})).text
    for label in ["summary", "details", "people", "message", "msgfile"]:
        assert canaries[label] in shown
    return receipt, canaries


def assert_no_canary(blob: bytes, canaries: dict[str, str], where: str) -> None:
    assert blob, f"{where} is empty: the test would prove nothing"
    for label, value in canaries.items():
        for encoding in ("utf-8", "utf-16-le"):
            assert value.encode(encoding) not in blob, f"{label} canary readable in {where}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL: pg_dump, below
async def test_sqlite_file_and_wal_hold_no_plaintext(client, reporter, settings, app):
    receipt, canaries = await file_canary_report(client, reporter)
    database = Path(make_url(settings.database_url).database)
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert any(p.name.endswith("-wal") for p in files)
    for path in files:  # before a checkpoint: the WAL holds the newest pages
        assert_no_canary(path.read_bytes() or b"\0", canaries, path.name)
    # Closing the last connection checkpoints the WAL into the main file.
    await app.state.ctx.engine.dispose()
    assert_no_canary(database.read_bytes(), canaries, "database after checkpoint")
    # Nothing else under the data directory (spooled uploads, say) holds plaintext either.
    for path in Path(settings.data_dir).rglob("*"):
        if path.is_file():
            assert_no_canary(path.read_bytes() or b"\0", canaries, str(path))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_pg_dump_holds_no_plaintext(client, reporter, settings):
    receipt, canaries = await file_canary_report(client, reporter)
    url = make_url(settings.database_url).set(drivername="postgresql")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", url.render_as_string(hide_password=False)], capture_output=True, check=True
    ).stdout
    assert b"COPY public.cases" in dump  # the dump has the data
    assert_no_canary(dump, canaries, "pg_dump")


async def test_a_database_copy_opens_nothing_even_during_a_staff_session(client, reporter, installed, browsers, app):
    """Everything stored, plus the settings, but no password, receipt or recovery key: the canary stays sealed.

    A staff member is logged in while the copy is taken, so the session row
    holding their private key is in it too.
    """
    from nacl.exceptions import CryptoError
    from nacl.public import PrivateKey
    from nacl.secret import SecretBox

    from cases.models import Case, Grant, StaffSession
    from crypto import keys

    receipt, canaries = await file_canary_report(client, reporter)
    officer = await browsers(installed.compliance_officer)
    assert canaries["details"] in (await officer.get("/staff/cases/" + await _reference(installed))).text
    stored = await _every_value(installed.ctx)
    assert await count_rows(installed.ctx, StaffSession) >= 1

    # Every stored value of key size is tried as a private key on every grant,
    # and as a secret key on every session row: none may open anything.
    candidates = {v for v in stored if isinstance(v, bytes) and len(v) == 32}
    candidates |= {bytes.fromhex(v) for v in stored if isinstance(v, str) and len(v) == 64 and _is_hex(v)}
    async with installed.ctx.sessions() as session:
        grants = (await session.scalars(select(Grant))).all()
        sealed_sessions = (await session.scalars(select(StaffSession.sealed_keys))).all()
        case = await session.scalar(select(Case))
    assert grants and sealed_sessions and candidates
    for candidate in candidates:
        for grant in grants:
            for sealed in filter(None, (grant.sealed_key, grant.staff_sealed_key)):
                with pytest.raises(CryptoError):
                    keys.open_grant(sealed, PrivateKey(candidate))
        for sealed in sealed_sessions:
            with pytest.raises(CryptoError):
                SecretBox(candidate).decrypt(sealed)
    assert case.report_box and not any(c.encode() in case.report_box for c in canaries.values())


async def _reference(installed) -> str:
    from cases.models import Case

    async with installed.ctx.sessions() as session:
        return await session.scalar(select(Case.reference))


async def _every_value(ctx) -> list:
    values = []
    async with ctx.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                values.extend(row)
    return values


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
