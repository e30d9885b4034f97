"""The board pack: the dashboard's figures and charts for a period as a PDF, for the Audit Committee
to take to the Board. Made with ReportLab's platypus from ``metrics.dashboard`` (plain metadata,
no case key) and the same chart drawings as the page; every page says who made it and when, and
the making is audit-logged with the period.

Only ReportLab's built-in fonts are used (no font file to ship or fetch): they cover Latin-1 and
Windows-1252, so a label with other characters (a business unit named in Polish or Japanese) is
folded to its base letters where it can be (ź to z) and drawn as a box where it cannot, never a crash.
"""

import asyncio
import io
import unicodedata
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import CondPageBreak, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.ext.asyncio import AsyncSession

from . import audit, charts, metrics
from .access import require_role
from .identity import Identity
from .steps import PAGES
from .vocabulary import CATEGORIES, CLOSURES, FINDINGS, STATUSES

MARGIN = 1.4 * cm
STYLES = getSampleStyleSheet()
CELL = STYLES["BodyText"].clone("cell", fontSize=8, leading=10)
HEAD = CELL.clone("head", fontName="Helvetica-Bold")
TABLE_STYLE = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def pdf_text(text: str) -> str:
    """``text`` safe for a platypus Paragraph in a built-in font: markup escaped, and each character
    outside Windows-1252 folded to its base letter when it has one."""
    return escape(folded(text))


def folded(text: str) -> str:
    """``text`` for a built-in font, not markup (the document's title and author, the footer drawn on
    the canvas): each character outside Windows-1252 folded to its base letter when it has one."""
    chars = []
    for char in str(text):
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            char = base if base.isascii() and base else char
        chars.append(char)
    return "".join(chars)


def _table(columns: list[str], rows: list[list[str]], width: float) -> Table:
    first = width * 0.7 if len(columns) == 2 else min(width * 0.34, 170)
    rest = (width - first) / max(len(columns) - 1, 1)
    data = [[Paragraph(pdf_text(cell), HEAD) for cell in columns]]
    data += [[Paragraph(pdf_text(cell), HEAD if index == 0 else CELL) for index, cell in enumerate(row)] for row in rows]
    table = Table(data, colWidths=[first, *[rest] * (len(columns) - 1)], repeatRows=1, hAlign="LEFT")
    table.setStyle(TABLE_STYLE)
    return table


def _counter_rows(counter, labels: dict[str, str], extra: dict[str, str] | None = None) -> list[list[str]]:
    names = {**labels, **(extra or {})}
    # A breakdown of one period's cases: a count under 5 could point at a reporter.
    return [[names.get(code, code), str(metrics.Count(counter[code]))] for code in names if counter.get(code)]


def render(board: metrics.Dashboard, *, made_by: str, made_at: datetime, organisation: str) -> bytes:
    """The PDF (pure: no I/O but the bytes it returns)."""
    stamp = f"Made by {made_by} on {made_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 0.6 * cm,
        title=folded(f"Board pack {board.period}"),
        author=folded(made_by),
        creator="Speakup",
    )
    width = document.width

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(MARGIN, MARGIN - 0.2 * cm, folded(f"{stamp}. {organisation}, board pack {board.period}."))
        canvas.drawRightString(A4[0] - MARGIN, MARGIN - 0.2 * cm, f"Page {doc.page}")
        canvas.restoreState()

    story: list = [
        Paragraph(pdf_text(f"{organisation}: board pack, {board.period}"), STYLES["Title"]),
        Paragraph(pdf_text(f"{stamp}. Figures as of {board.today.isoformat()}."), STYLES["Normal"]),
        Paragraph(
            pdf_text(
                "Counted from plain metadata and coded fields only; no case content was opened. "
                + ("Every case is counted except any that implicates the maker. " if board.committee else "")
                + f"In a breakdown that could point at a reporter, a count from 1 to {metrics.SMALL - 1} reads "
                f"“{metrics.FEWER}”, and a rate or percentile over fewer than {metrics.SMALL} cases is not given."
            ),
            STYLES["Normal"],
        ),
        Spacer(1, 0.4 * cm),
        Paragraph("Register summary: cases received in the period", STYLES["Heading2"]),
    ]
    register = board.register
    for title, counter, labels, extra in (
        ("Status", register.get("status", {}), {s: s.capitalize() for s in STATUSES}, None),
        ("Category", register.get("category", {}), CATEGORIES, None),
        ("Closure", register.get("closure", {}), CLOSURES, {"open": "Not closed"}),
        ("Finding", register.get("finding", {}), FINDINGS, {"none": "No finding"}),
    ):
        rows = _counter_rows(counter, labels, extra)
        story.append(_table([title, "Cases"], rows or [["None", "0"]], width * 0.6))
        story.append(Spacer(1, 0.2 * cm))
    overdue = board.overdue
    story += [
        Paragraph(pdf_text(f"Overdue items today ({board.today.isoformat()})"), STYLES["Heading2"]),
        _table(
            ["Item", "Overdue"],
            [
                ["Acknowledgements", str(overdue.acknowledge)],
                ["Feedback to the reporter", str(overdue.feedback)],
                ["Investigations past their due date", str(overdue.investigation)],
                ["Remediation actions", str(overdue.remediation)],
                ["Retaliation flags past the response date", str(board.flags.overdue_now)],
                ["Open cases", str(metrics.open_total(board))],
            ],
            width * 0.6,
        ),
    ]
    flags = board.flags
    response = (
        f"{metrics.days_text(flags.response.median)} / {metrics.days_text(flags.response.p90)} ({flags.response.n} flags)"
        if flags.response.median is not None
        else f"not given (under {metrics.SMALL} resolved flags)"
    )
    for chart in charts.all_charts(board):
        drawing = chart.drawing  # the page's chart, drawn into the PDF as vectors
        block: list = [Paragraph(pdf_text(chart.title), STYLES["Heading2"]), drawing]
        story.append(CondPageBreak(drawing.height + 60))
        story.append(KeepTogether(block))
        if chart.rows:
            story.append(_table(chart.columns, chart.rows, width))
        else:
            story.append(Paragraph("Nothing to count in this period.", STYLES["Normal"]))
        if chart.note:
            story.append(Paragraph(pdf_text(chart.note), STYLES["Italic"]))
        if chart.key == "flags":
            story += [
                Spacer(1, 0.2 * cm),
                Paragraph("Retaliation overview", STYLES["Heading3"]),
                _table(
                    ["Flags", ""],
                    [
                        ["Raised in the period", str(flags.raised)],
                        ["Still open or under review", str(flags.open)],
                        ["Resolved", f"{flags.resolved} ({flags.resolved_in_time} by the response date)"],
                        ["Days to resolve: median / 90th percentile", response],
                        ["Open today, whenever raised", str(flags.open_now)],
                    ],
                    width * 0.7,
                ),
            ]
        story.append(Spacer(1, 0.3 * cm))
    story.append(Paragraph("Reports in the period by business unit and country", STYLES["Heading2"]))
    for title, places in (("Business unit", board.by_business_unit), ("Country", board.by_country)):
        story.append(
            _table([title, "Reports"], [[label, str(count)] for label, count in places] or [["None coded", "0"]], width * 0.6)
        )
        story.append(Spacer(1, 0.2 * cm))
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


async def make(session: AsyncSession, identity: Identity, period: metrics.Period, now: datetime, organisation: str) -> bytes:
    """The board pack for ``period``, made by a Committee member, and its audit entry. Commits."""
    require_role(identity, PAGES["boardpack"])
    board = await metrics.dashboard(session, identity, period, now.astimezone(UTC).date())
    # Laying out the PDF takes a moment of CPU: off the event loop, so other requests go on.
    pdf = await asyncio.to_thread(render, board, made_by=identity.staff.email, made_at=now, organisation=organisation)
    async with session.begin():
        await audit.record(session, "boardpack.generated", actor_id=identity.staff.id, detail=period.code, at=now)
    return pdf
