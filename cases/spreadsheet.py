"""CSV files that a spreadsheet opens safely: the one rule every export of ours follows.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return, which some
strip before looking) as a formula: a business unit named ``=HYPERLINK(...)`` would run in the
Committee's copy of the register (CSV injection). Such a cell is prefixed with an apostrophe,
which the spreadsheet shows as text and drops.
"""

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A cell's text, quoted when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def write_csv(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """The CSV text: every cell through ``cell``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
