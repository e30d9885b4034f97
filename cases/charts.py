"""The dashboard's charts: ReportLab drawings made from the figures of ``cases/metrics.py``.

One ``Chart`` per figure: a title, a text alternative, the drawing and the numbers as a table.
The page embeds the drawing as an SVG image (``svg_data_uri``: no script, nothing the page's
Content-Security-Policy has to allow beyond ``img-src data:``) with the table beneath it; the
board pack draws the same Drawing, made by the same ``draw``, into its PDF. A count the privacy rule hides
("fewer than 5") is not drawn, since a bar's height would tell it; the table says so.
"""

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from .metrics import AGE_BANDS, DURATIONS, FEWER, SMALL, Count, Dashboard, days_text
from .vocabulary import (
    ALLEGATION_TYPES,
    CATEGORIES,
    CHANNELS,
    DISCIPLINARY_ACTIONS,
    FINDINGS,
    ROOT_CAUSES,
    STATUSES,
    SUBJECT_TYPES,
)

WIDTH, HEIGHT = 500, 250
# Okabe and Ito's palette: told apart with the common colour-vision deficiencies.
PALETTE = [
    colors.HexColor(code)
    for code in (
        "#0072B2",
        "#E69F00",
        "#009E73",
        "#CC79A7",
        "#56B4E9",
        "#D55E00",
        "#F0E442",
        "#000000",
        "#999999",
        "#882255",
        "#44AA99",
        "#117733",
    )
]
NO_FINDING = "No finding recorded"


@dataclass(frozen=True)
class Bars:
    """What a bar chart shows (hashable, so that its SVG can be kept): a value per category and series."""

    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]  # (name, a value per category)
    stacked: bool = False
    horizontal: bool = False
    percent: bool = False


@dataclass(frozen=True)
class Chart:
    key: str  # the chart's id on the page
    title: str
    description: str  # the text alternative: what the chart shows, in words
    bars: Bars
    columns: list[str]  # the table's headings (the first heads the row labels)
    rows: list[list[str]]
    note: str = ""  # said under the table (what is hidden and why)

    @property
    def drawing(self) -> Drawing:
        """A new Drawing of the chart (a Drawing is mutable: each PDF or SVG gets its own)."""
        return draw(self.bars)


def svg_data_uri(chart: Chart) -> str:
    """The chart as an SVG image in a data: URI, for an ``<img>`` the CSP allows."""
    return _svg(chart.bars)


# Rendering a chart to SVG is most of a dashboard's time (some 10 ms a chart); the figures change
# far less often than the page is read, so the SVG of the same bars is kept (a few KiB each).
@lru_cache(maxsize=512)
def _svg(bars: Bars) -> str:
    svg = renderSVG.drawToString(draw(bars))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _legend(drawing: Drawing, names: list[str], x: float) -> None:
    legend = Legend()
    legend.x, legend.y = x, HEIGHT - 20
    legend.fontName, legend.fontSize = "Helvetica", 8
    legend.alignment = "right"
    legend.dx = legend.dy = 7
    legend.deltay = 10
    legend.columnMaximum = 20
    legend.colorNamePairs = [(PALETTE[index % len(PALETTE)], _short(name)) for index, name in enumerate(names)]
    drawing.add(legend)


def _empty(drawing: Drawing) -> Drawing:
    drawing.add(String(WIDTH / 2, HEIGHT / 2, "Nothing to show for this period.", textAnchor="middle", fontSize=10))
    return drawing


def _bars(
    categories: list[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    horizontal: bool = False,
    percent: bool = False,
) -> Bars:
    return Bars(tuple(categories), tuple((name, tuple(values)) for name, values in series), stacked, horizontal, percent)


def draw(bars: Bars) -> Drawing:
    """A bar chart of ``bars.series``, with a legend when there are several."""
    categories, series = list(bars.categories), [(name, list(values)) for name, values in bars.series]
    stacked, horizontal, percent = bars.stacked, bars.horizontal, bars.percent
    drawing = Drawing(WIDTH, HEIGHT)
    if not categories or not series or not any(value for _, values in series for value in values if value):
        return _empty(drawing)
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    legend_width = 175 if len(series) > 1 else 0
    left = 150 if horizontal else 40
    chart.x, chart.y = left, 45
    chart.width, chart.height = WIDTH - left - 15 - legend_width, HEIGHT - 65
    chart.data = [values for _, values in series]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 8
    if horizontal:
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
    elif len(categories) > 6:
        chart.categoryAxis.labels.angle = 30
        chart.categoryAxis.labels.boxAnchor = "ne"
    if stacked:
        chart.categoryAxis.style = "stacked"
    chart.valueAxis.valueMin = 0
    if percent:
        chart.valueAxis.valueMax = 100
        chart.valueAxis.valueStep = 20
        chart.valueAxis.labelTextFormat = "%d%%"
    else:
        top = max(
            (sum(v or 0 for v in column) if stacked else max(v or 0 for v in column))
            for column in zip(*(values for _, values in series))
        )
        # Whole, round numbers on the axis: at most about five steps of 1, 2 or 5 times a power of ten.
        step = _nice_step(max(top or 0, 1))
        chart.valueAxis.valueStep = step
        chart.valueAxis.valueMax = step * math.ceil(max(top or 0, 1) / step)
    chart.barSpacing = 1
    for index in range(len(series)):
        chart.bars[index].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    if legend_width:
        _legend(drawing, [name for name, _ in series], WIDTH - legend_width + 5)
    return drawing


def _nice_step(top: float) -> int:
    scale = 1
    while True:
        for factor in (1, 2, 5):
            if factor * scale * 5 >= top:
                return factor * scale
        scale *= 10


def _hidden_note(counts: list[Count]) -> str:
    if any(count.hidden for count in counts):
        return f"Counts from 1 to {SMALL - 1} read “{FEWER}” and are not drawn, so that they cannot point at a reporter."
    return ""


def _quarter_names(board: Dashboard) -> list[str]:
    return [str(quarter) for quarter in board.period.quarters]


def open_cases(board: Dashboard) -> Chart:
    statuses = [status for status in STATUSES if status in board.open_by_status]
    bands = [label for label, _ in AGE_BANDS]
    series = [(band, [board.open_by_status[s][index].drawn for s in statuses]) for index, band in enumerate(bands)]
    counts = [count for s in statuses for count in board.open_by_status[s]]
    total = sum(count.value for count in counts)
    return Chart(
        "open",
        "Open cases by status and age",
        f"Stacked bar chart of the {total} cases not yet closed today, one bar per status, "
        "divided by how long ago each case was received. The table below gives the numbers.",
        _bars(statuses, series, stacked=True),
        ["Status", *bands],
        [[status, *[str(count) for count in board.open_by_status[status]]] for status in statuses],
        _hidden_note(counts),
    )


def durations(board: Dashboard) -> Chart:
    quarters = _quarter_names(board)
    series = [(label, [spread.median for spread in board.durations[name]]) for name, (label, _) in DURATIONS.items()]
    rows = []
    for index, quarter in enumerate(quarters):
        cells = []
        for name in DURATIONS:
            spread = board.durations[name][index]
            cells.append(
                f"{days_text(spread.median)} / {days_text(spread.p90)} ({spread.n})"
                if spread.median is not None
                else "not given"  # nor how many cases there were: under 5, that count could point at one
            )
        rows.append([quarter, *cells])
    return Chart(
        "durations",
        "Days from receipt to acknowledgement, assessment, feedback and closure",
        "Grouped bar chart of the median number of days from receipt to each step, for the cases "
        "received in each quarter that have taken it. The table gives the median, the 90th percentile "
        "and how many cases each is over.",
        _bars(quarters, series),
        ["Quarter of receipt", *[f"{label}: median / 90th percentile (cases)" for label, _ in DURATIONS.values()]],
        rows,
        f"A median or percentile over fewer than {SMALL} cases is not given.",
    )


def reports_by(board: Dashboard, kind: str) -> Chart:
    """Reports per quarter by ``kind``: "category", "channel" or "allegation"."""
    found, labels, title = {
        "category": (board.by_category, CATEGORIES, "Reports per quarter by category"),
        "channel": (board.by_channel, CHANNELS, "Reports per quarter by channel"),
        "allegation": (board.by_allegation, ALLEGATION_TYPES, "Allegations per quarter by type"),
    }[kind]
    codes = [code for code in labels if code in found]
    quarters = _quarter_names(board)
    series = [(labels[code], [count.drawn for count in found[code]]) for code in codes]
    counts = [count for code in codes for count in found[code]]
    rows = [[labels[code], *[str(count) for count in found[code]]] for code in codes]
    if kind != "allegation":
        rows.append(["All reports", *[str(count) for count in board.received]])
    return Chart(
        f"by-{kind}",
        title,
        f"Stacked bar chart: one bar per quarter of receipt, divided by {kind}"
        + (" (a report may allege several types)" if kind == "allegation" else "")
        + ". The table below gives the numbers.",
        _bars(quarters, series, stacked=True),
        ["", *quarters],
        rows,
        _hidden_note(counts + ([] if kind == "allegation" else board.received)),
    )


def substantiation(board: Dashboard) -> Chart:
    codes = [code for code in CATEGORIES if code in board.substantiation]
    shown = [code for code in codes if board.substantiation[code].shown]
    return Chart(
        "substantiation",
        "Substantiation rate by category",
        "Horizontal bar chart of the share of findings, decided in the period, that found the "
        "report substantiated in whole or in part, by category. The table gives the counts.",
        _bars(
            [_short(CATEGORIES[c], 30) for c in shown],
            [("Substantiated", [board.substantiation[c].percent for c in shown])],
            horizontal=True,
            percent=True,
        ),
        ["Category", "Findings", "Substantiated in whole or in part", "Rate"],
        [
            [
                CATEGORIES[code],
                # The parts of a rate that is not given are not given either.
                str(board.substantiation[code].of) if board.substantiation[code].shown else "",
                str(board.substantiation[code].part) if board.substantiation[code].shown else "",
                str(board.substantiation[code]),
            ]
            for code in codes
        ],
        f"A rate over fewer than {SMALL} findings is not given.",
    )


def root_causes(board: Dashboard) -> Chart:
    codes = [code for code in ROOT_CAUSES if board.root_causes.get(code)]
    return Chart(
        "root-causes",
        "Root causes of the findings",
        "Horizontal bar chart of how many findings decided in the period named each root cause.",
        _bars([ROOT_CAUSES[c] for c in codes], [("Findings", [board.root_causes[c] for c in codes])], horizontal=True),
        ["Root cause", "Findings"],
        [[ROOT_CAUSES[code], str(board.root_causes[code])] for code in codes],
    )


def flags(board: Dashboard) -> Chart:
    found = board.flags
    quarters = _quarter_names(board)
    return Chart(
        "flags",
        "Retaliation flags",
        f"Bar chart of the retaliation flags raised in each quarter: {found.raised} in the period, "
        f"{found.resolved} resolved and {found.open} still open. The tables give the response times.",
        _bars(quarters, [("Flags raised", [count.drawn for count in found.per_quarter])]),
        ["", *quarters],
        [["Flags raised", *[str(count) for count in found.per_quarter]]],
        _hidden_note(found.per_quarter),
    )


def discipline(board: Dashboard) -> Chart:
    """The consistency view: for like findings and subject types, the actions taken side by side."""
    pairs = sorted(board.discipline, key=lambda pair: ([*FINDINGS, "none"].index(pair[0]), list(SUBJECT_TYPES).index(pair[1])))
    actions = [code for code in DISCIPLINARY_ACTIONS if any(board.discipline[pair].get(code) for pair in pairs)]

    def name(pair: tuple[str, str]) -> str:
        return f"{FINDINGS.get(pair[0], NO_FINDING)}, {SUBJECT_TYPES[pair[1]].lower()}"

    series = [(DISCIPLINARY_ACTIONS[a], [board.discipline[pair].get(a, 0) for pair in pairs]) for a in actions]
    return Chart(
        "discipline",
        "Discipline by finding and subject type",
        "Stacked horizontal bar chart: for each finding and type of subject, the disciplinary actions "
        "effective in the period, so that like cases can be compared. The table gives the numbers.",
        _bars([_short(name(pair), 30) for pair in pairs], series, stacked=True, horizontal=True),
        ["Finding, subject type", *[DISCIPLINARY_ACTIONS[a] for a in actions]],
        [[name(pair), *[str(board.discipline[pair].get(a, 0)) for a in actions]] for pair in pairs],
    )


def all_charts(board: Dashboard) -> list[Chart]:
    """Every chart of the dashboard, in the page's order."""
    return [
        open_cases(board),
        durations(board),
        reports_by(board, "category"),
        reports_by(board, "channel"),
        reports_by(board, "allegation"),
        substantiation(board),
        root_causes(board),
        flags(board),
        discipline(board),
    ]
