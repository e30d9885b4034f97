"""A case as a PDF for counsel or a regulator: what the case page shows, on paper, marked on every page.

The case is opened as the case page opens it (``casefile.open_case``: the holder's grant, every
opening logged); nothing is decrypted twice. The reporter's identity is in the file only when
the exporter reveals it for this export, with a reason: the managing roles' "reveal" step,
reused as it is (an "identity.revealed" entry, and the reason kept as a sealed note on the case).
Protected persons are left out: their list can name a confidential reporter. The export itself
is logged ("case.exported", with or without the identity), before the file is made.

ReportLab's platypus, with its built-in fonts (Helvetica): nothing is downloaded or read from
disk at run time. Those fonts show Windows-1252 (Latin-1 and a few more, such as dashes and
the euro sign). A character outside it (Chinese, Cyrillic, Arabic, emoji ...) is printed as
"?" rather than failing or drawing an empty box, and the first page says how many were replaced:
the case page shows them as written.
"""

import io
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, steps
from .access import granted_case
from .casefile import CaseFile, open_case, reveal_identity
from .errors import InvalidInput
from .identity import Identity
from .vocabulary import (
    ADMISSIBILITY,
    ALLEGATION_TYPES,
    CATEGORIES,
    CHANNELS,
    CLOSURES,
    DETRIMENT_RISKS,
    DISCIPLINARY_ACTIONS,
    DISCLOSURE_BASES,
    FINDINGS,
    FLAG_RESOLUTIONS,
    FLAG_SOURCE_LABELS,
    LINK_KINDS,
    MINUTES_ANSWERS,
    PRIORITIES,
    REMEDIATION_STATUSES,
    RETALIATION_FORMS,
    ROOT_CAUSES,
    ROUTING_LABELS,
    SENDER_LABELS,
    SUBJECT_TYPES,
)

# A reason of at least this many words: "counsel" alone says nothing an auditor can check later.
MIN_REASON_WORDS = 3
REPLACEMENT = "?"


@dataclass(frozen=True)
class Export:
    name: str  # a safe file name: the reference and the time, ASCII only
    data: bytes
    replaced: int  # characters the built-in fonts cannot show, printed as "?"

    def __repr__(self) -> str:  # the file is case content
        return f"Export({self.name}, <{len(self.data)} bytes>)"


async def export_case(
    session: AsyncSession, identity: Identity, reference: str, now: datetime, *, reason: str | None = None
) -> Export:
    """The case as a PDF; with ``reason``, with the reporter's identity (revealed, logged). Commits.

    ``Forbidden`` for a role that may not export (or not reveal, with a reason), ``NoSuchCase``
    without a grant, ``InvalidInput`` for a reason of fewer than ``MIN_REASON_WORDS`` words.
    """
    steps.check_role(identity.staff.role, "export")
    reporter: dict | None = None
    if reason is not None:
        steps.check_role(identity.staff.role, "reveal")
        if len(reason.split()) < MIN_REASON_WORDS:
            raise InvalidInput(fields={"export_reason": "Say in a few words why this export needs the reporter's identity."})
        reporter = await reveal_identity(session, identity, reference, f"For a case export: {reason.strip()}", now)
    async with session.begin():
        case, _ = await granted_case(session, identity, reference, "export")
        detail = "with identity" if reporter is not None else "without identity"
        await audit.record(session, "case.exported", actor_id=identity.staff.id, case_id=case.id, detail=detail, at=now)
    casefile = await open_case(session, identity, reference, now)
    data, replaced = render_pdf(casefile, reporter, identity.staff.email, now)
    at = now.astimezone(UTC)
    return Export(f"case-{casefile.case.reference}-{at:%Y%m%d-%H%M}.pdf", data, replaced)


class _Writer:
    """Text made printable in the built-in fonts, counting what had to be replaced."""

    def __init__(self) -> None:
        self.replaced = 0

    def plain(self, value: object) -> str:
        out = []
        for char in "" if value is None else str(value):
            if char in "\n\t\r":
                out.append(char if char == "\n" else " ")
            elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
                continue  # control and format characters: nothing to show
            else:
                try:
                    char.encode("cp1252")
                    out.append(char)
                except UnicodeEncodeError:
                    self.replaced += 1
                    out.append(REPLACEMENT)
        return "".join(out)

    def markup(self, value: object) -> str:
        """For a Paragraph: escaped, line breaks kept."""
        return escape(self.plain(value)).replace("\n", "<br/>")


def _day(value) -> str:
    return value.isoformat() if value else ""


def render_pdf(file: CaseFile, reporter: dict | None, exported_by: str, at: datetime) -> tuple[bytes, int]:
    """The PDF of an opened case, and how many characters were replaced."""
    w = _Writer()
    case = file.case
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], ParagraphStyle("small", parent=styles["BodyText"], fontSize=8, leading=10)
    label_style = ParagraphStyle("label", parent=body, fontName="Helvetica-Bold")
    story: list = []

    def heading(text: str) -> None:
        story.append(Paragraph(escape(text), styles["Heading2"]))

    def para(text: object, style=body) -> None:
        story.append(Paragraph(w.markup(text), style))

    def pairs(rows: list[tuple[str, object]]) -> None:
        # One paragraph a field, not a table: a paragraph splits across pages, a table row cannot
        # (a 20,000-character report would not fit on one page).
        for label, value in rows:
            if value not in (None, ""):
                story.append(Paragraph(f"<b>{escape(label)}:</b> {w.markup(value)}", body))
        story.append(Spacer(0, 6))

    stamp = f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    with_identity = ", with the reporter's identity" if reporter is not None else ""
    footer = w.plain(f"Case {case.reference}: exported by {exported_by} on {stamp}{with_identity}. Confidential.")

    story.append(Paragraph(escape(f"Case {case.reference}"), styles["Title"]))
    para(f"Exported by {exported_by} on {stamp}{with_identity}. Confidential: a whistleblowing case file.")
    notice_at = len(story)  # the note on replaced characters goes here, once they are counted

    heading("The case")
    lifecycle = file.lifecycle
    pairs(
        [
            ("Category", CATEGORIES.get(case.category, case.category)),
            ("Routing", ROUTING_LABELS.get(case.routing, case.routing)),
            ("Channel", CHANNELS.get(case.channel, case.channel)),
            ("Status", case.status),
            ("Received", _day(case.received_on)),
            ("Acknowledged", _day(case.acknowledged_on) or f"not yet (due {_day(case.acknowledge_by)})"),
            ("Feedback", f"given {_day(case.feedback_given_on)}" if case.feedback_given_on else f"due {_day(case.feedback_by)}"),
            ("Escalated", _day(case.escalated_on)),
            ("Closed", f"{_day(case.closed_on)}: {CLOSURES.get(case.closure or '', '')}" if case.closed_on else ""),
            ("Readers", ", ".join(f"{r.email} ({r.role.replace('_', ' ')})" for r in file.readers)),
        ]
    )

    heading("Reporter's identity")
    if reporter is None:
        para("Not included in this export.")
    elif reporter.get("name") or reporter.get("contact"):
        pairs([("Name", reporter.get("name", "")), ("Contact", reporter.get("contact", ""))])
    else:
        para("The reporter gave no name: the report is anonymous.")

    heading("Report")
    report = file.report
    pairs(
        [
            ("Summary", report.summary),
            ("What happened", report.details),
            ("When", report.occurred_on),
            ("Where", report.country),
            ("People involved", report.people),
            ("Amounts", report.amount),
            ("How the reporter knows", report.how_known),
            ("Foreign official involved", report.foreign_official_involved),
            ("Files", "; ".join(f"{f.number}. {f.name} ({f.size:,} bytes)" for f in file.attachments)),
        ]
    )

    heading("Assessment")
    if case.admissibility:
        pairs(
            [
                ("Admissibility", ADMISSIBILITY.get(case.admissibility, "")),
                ("Priority", PRIORITIES.get(case.priority or "", "")),
                ("Risk of detriment", DETRIMENT_RISKS.get(case.detriment_risk or "", "")),
                ("Allegations", "; ".join(ALLEGATION_TYPES.get(a, a) for a in lifecycle.allegations) if lifecycle else ""),
                ("Business unit", lifecycle.business_unit if lifecycle else ""),
                ("Country", lifecycle.country if lifecycle else ""),
                ("Assessed", _day(case.assessed_on)),
                ("Investigation due", _day(case.investigation_due)),
                ("Investigation plan", file.plan),
                ("Referred to", file.referral),
                (
                    "Linked cases",
                    "; ".join(f"{LINK_KINDS.get(k.kind, k.kind)} {k.reference}" for k in lifecycle.links) if lifecycle else "",
                ),
            ]
        )
    else:
        para("Not yet assessed.")

    heading("Messages and notes")
    for entry in file.thread:
        meta = SENDER_LABELS.get(entry.sender, entry.sender) + (f" by {entry.author}" if entry.author else "")
        meta += f", {_day(entry.sent_on)}" + (" (retaliation reported)" if entry.retaliation else "")
        para(meta, label_style)
        para(entry.body)
        if entry.attachments:
            para("Files: " + "; ".join(f"{f.number}. {f.name}" for f in entry.attachments), small)
    if not file.thread:
        para("None.")

    heading("Minutes of calls and meetings")
    for m in file.minutes:
        para(
            f"{m.number}. {m.kind_label}, held {_day(m.held_on)}" + (f", recorded by {m.recorded_by}" if m.recorded_by else ""),
            label_style,
        )
        para(m.text)
        if m.answer:
            answer = f"{MINUTES_ANSWERS.get(m.answer, m.answer)} on {_day(m.answered_on)}"
            para(answer + (f": {m.correction}" if m.correction else "."), small)
        else:
            para("Not yet confirmed or corrected by the reporter.", small)
    if not file.minutes:
        para("None.")

    heading("Finding")
    if file.finding:
        f = file.finding
        pairs(
            [
                ("Outcome", FINDINGS.get(f.outcome, f.outcome)),
                ("Decided", f"{_day(f.decided_on)} by {f.decided_by}"),
                ("Narrative", f.narrative),
                ("Root cause", ROOT_CAUSES.get(f.root_cause or "", "")),
                ("Why it happened", f.explanation),
            ]
        )
    else:
        para("None yet.")

    heading("Remediation")
    for action in file.remediation:
        pairs(
            [
                (f"Action {action.number}", action.what),
                ("Owner", action.owner),
                ("Due", _day(action.due_on) + (" (overdue)" if action.overdue else "")),
                ("Status", REMEDIATION_STATUSES.get(action.status, action.status)),
                ("Evidence", action.evidence),
            ]
        )
    if not file.remediation:
        para("None.")

    heading("Discipline")
    for outcome in file.outcomes:
        pairs(
            [
                ("Subject", outcome.subject),
                ("Role", f"{outcome.subject_role} ({SUBJECT_TYPES.get(outcome.subject_type, outcome.subject_type)})"),
                ("Action", DISCIPLINARY_ACTIONS.get(outcome.action, outcome.action)),
                ("Effective", _day(outcome.effective_on)),
                ("Decided by", outcome.decided_by),
                ("Notes", outcome.notes),
            ]
        )
    if not file.outcomes:
        para("None.")

    heading("Disclosures of the reporter's identity")
    for d in file.disclosures:
        pairs(
            [
                ("Recipient", d.recipient),
                ("Legal basis", DISCLOSURE_BASES.get(d.basis, d.basis)),
                ("Reporter told", "yes" if d.reporter_told else "no"),
                ("Disclosed", f"{_day(d.disclosed_on)} by {d.disclosed_by}"),
            ]
        )
    if not file.disclosures:
        para("None.")

    heading("Retaliation flags")
    for flag in file.flags:
        pairs(
            [
                (
                    f"Flag {flag.number}",
                    f"{flag.status.replace('_', ' ')}, from {FLAG_SOURCE_LABELS.get(flag.source, flag.source)}",
                ),
                ("Opened", f"{_day(flag.opened_on)}, respond by {_day(flag.respond_by)}"),
                # Not an HR match's action and day: with HR's records they find the protected person,
                # who may be the reporter (the export leaves protected persons out for that reason).
                (
                    "Adverse action",
                    ""
                    if flag.source == "hr_match"
                    else f"{RETALIATION_FORMS.get(flag.form or '', '')} {_day(flag.action_on)}".strip(),
                ),
                ("Resolution", FLAG_RESOLUTIONS.get(flag.resolution or "", "")),
                ("Record", flag.record),
            ]
        )
    if not file.flags:
        para("None.")

    heading("Audit trail")
    para("Times are UTC. The reporter's acts are kept by their day only. Views and downloads are in the audit log.", small)
    for day in file.timeline:
        para(_day(day.day), label_style)
        for event in day.untimed:
            para(f"that day: {event.label} ({event.actor})", small)
        for event in day.timed:
            para(f"{event.at:%H:%M}: {event.label} ({event.actor})" if event.at else f"{event.label} ({event.actor})", small)

    if w.replaced:
        story.insert(
            notice_at,
            Paragraph(
                escape(
                    f"{w.replaced} character(s) that this file's built-in fonts cannot show (such as Chinese, Cyrillic or "
                    f'Arabic script) are printed as "{REPLACEMENT}". The case page shows them as written.'
                ),
                body,
            ),
        )

    def mark(canvas, doc) -> None:  # every page: who exported it and when
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(doc.leftMargin, 1.1 * cm, footer)
        canvas.drawRightString(A4[0] - doc.rightMargin, 0.7 * cm, f"Page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Case {case.reference}",
        author=exported_by,
        creator="Speakup",
        bottomMargin=2 * cm,
    )
    document.build(story, onFirstPage=mark, onLaterPages=mark)
    return buffer.getvalue(), w.replaced
