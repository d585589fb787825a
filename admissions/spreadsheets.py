"""The one CSV and XLSX writer of the report tables: the reports page's downloads
(web/views/reports.py) and the watchdog report's files (admissions/watchdog_tables.py, also the
API's `format=csv|xlsx`) write their tables here, so every file looks and guards alike.

A table is anything with `columns` (each with a `label` and a `kind`: "text", "int", "percent",
"days"), `rows` and an optional `total` row. A text cell a spreadsheet would run as a formula gets
a leading apostrophe. CSV files start with a byte-order mark so
that spreadsheet programs read the Chinese text as UTF-8. An XLSX file cannot hold the control
characters below the space but tab and line breaks (its XML forbids them); a stored name or reason
that has one is written with U+FFFD in its place, so the file is still written and shows where.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER_FORMATS = {"percent": "0.0%", "days": "0.0"}
# XML 1.0's forbidden characters, as openpyxl refuses them (IllegalCharacterError).
XLSX_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value


def xlsx_cell(value):
    """safe_cell for an XLSX file: also a replacement character for each control character XML forbids."""
    if isinstance(value, str):
        value = XLSX_FORBIDDEN.sub("\ufffd", value)
    return safe_cell(value)


def plain_number(value):
    """A whole float as a whole number (60, not 60.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _body_rows(table) -> list[list]:
    return table.rows + ([table.total] if table.total else [])


def csv_write_table(writer, table) -> None:
    """The table's header and rows (the total last) into a csv.writer."""
    writer.writerow([safe_cell(c.label) for c in table.columns])
    for row in _body_rows(table):
        writer.writerow(["" if v is None else safe_cell(plain_number(v)) for v in row])


def csv_bytes(write: Callable) -> bytes:
    """A CSV file whose content `write(writer)` puts into a csv.writer; UTF-8 with a byte-order mark."""
    out = io.StringIO()
    write(csv.writer(out))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_write_table(sheet, table) -> None:
    """The table into an empty worksheet: a bold header, the rows, a bold total, number formats by
    column kind, widths by header length, the header row and first column frozen."""
    from openpyxl.styles import Font

    sheet.append([xlsx_cell(c.label) for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in _body_rows(table):
        sheet.append([xlsx_cell(v) for v in row])
    for index, column in enumerate(table.columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(12, min(40, len(column.label) + 4))
        number_format = NUMBER_FORMATS.get(column.kind)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    if table.total:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"


def xlsx_bytes(workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
