"""The watchdog report's tables and files (R-WATCH-1): what the staff page shows beside its charts,
and what its downloads and the API's `format=csv|xlsx` write, so they all say the same thing.

Built from admissions.watchdog's report. CSV: every table, one after another; XLSX: one sheet per
table. A text cell a spreadsheet would run as a formula gets a leading apostrophe, as the reports
page's downloads do. Links to the records behind each count are given by the caller (`Links`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from admissions import watchdog
from admissions.models import Channel
from admissions.spreadsheets import (
    CONTENT_TYPES,
    csv_bytes,
    csv_write_table,
    safe_cell,
    xlsx_bytes,
    xlsx_cell,
    xlsx_write_table,
)
from admissions.watchdog import figure_labels, not_recorded_note
from facilities.models import CareLevel, Facility

TEXT, INT, DAYS = "text", "int", "days"


def display(value, kind: str) -> str:
    if value is None or value == "":
        return "—"
    if kind == DAYS:
        return number_format(value, 1 if value % 1 else 0)
    if kind == INT:
        return number_format(value, 0, force_grouping=True)
    return str(value)


# --- labels ----------------------------------------------------------------------------------------
def skip_reason_labels() -> dict[str, str]:
    return {
        "bed_type_mismatch": _("bed type does not match"),
        "reserved_for_nursing": _("reserved for nursing care"),
        "nursing_quota_full": _("nursing quota full"),
        "assessment_expired": _("assessment expired"),
        "offer_pending": _("holds an offer"),
        "suspended": _("suspended"),
        "refused_this_bed": _("refused this bed"),
        "partner_bed_unavailable": _("no second bed for the spouse"),
        "couple_partner": _("bed went to a spouse (joint offer)"),
    }


def fail_reason_label(reason: str) -> str:
    return {
        "no_show": _("did not come (no-show)"),
        "care_need_changed": _("care need changed"),
        "other": _("other"),
    }.get(reason, reason or "—")


# --- tables ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT

    @property
    def numeric(self) -> bool:
        return self.kind != TEXT


@dataclass(frozen=True)
class LinkedCell:
    text: str
    numeric: bool
    url: str | None = None


@dataclass
class LinkedTable:
    """One table of the report: the first column names the row; cells may link to the records behind
    them (`row_links`, in the order of `rows`)."""

    name: str
    title: str
    caption: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None  # a totals row (the city), shown as the table's footer
    row_links: list[list[str | None]] = field(default_factory=list)
    total_links: list[str | None] | None = None

    def _linked(self, row: list, links: list[str | None] | None) -> list[LinkedCell]:
        links = links or [None] * len(row)
        return [
            LinkedCell(display(value, column.kind), column.numeric, url if value else None)
            for value, column, url in zip(row, self.columns, links, strict=True)
        ]

    @property
    def display_rows(self) -> list[list[LinkedCell]]:
        links = self.row_links or [None] * len(self.rows)
        return [self._linked(row, row_links) for row, row_links in zip(self.rows, links, strict=True)]

    @property
    def display_total(self) -> list[LinkedCell] | None:
        return self._linked(self.total, self.total_links) if self.total is not None else None


COUNTED = list(watchdog.FIGURES)


def _home_label(facility: Facility | None) -> str:
    return f"{facility.code} {facility.name}" if facility is not None else _("All homes")


@dataclass(frozen=True)
class Links:
    """Where a count and a home link to: `records(kind, code)` (code "" for every home) and
    `home(code)`. The page passes its URLs; the files have none."""

    records: Callable[[str, str], str | None] = lambda kind, code: None
    home: Callable[[str], str | None] = lambda code: None


NO_LINKS = Links()


def homes_table(report: watchdog.WatchdogReport, links: Links = NO_LINKS) -> LinkedTable:
    labels = figure_labels()
    table = LinkedTable(
        name="watchdog_homes",
        title=_("Figures per home"),
        caption=_(
            "Per home and for the city. Counts of beds and of overdue admissions are as they stand now; the others "
            "cover the period. Days from approval to the first offer: median and 90th percentile."
        ),
        columns=[Column(_("Home"))]
        + [Column(labels[f], INT) for f in COUNTED]
        + [Column(_("First offers"), INT), Column(_("Median days to first offer"), DAYS)]
        + [Column(_("90th percentile days to first offer"), DAYS)],
    )

    def values(row: watchdog.Row) -> list:
        return (
            [_home_label(row.facility)]
            + [row.count(f) for f in COUNTED]
            + [row.first_offer.count, row.first_offer.median_days, row.first_offer.p90_days]
        )

    def cell_links(row: watchdog.Row) -> list[str | None]:
        code = row.facility.code if row.facility is not None else ""
        figure_links = [None if f in watchdog.NOT_RECORDED else links.records(f, code) for f in COUNTED]
        home = links.home(code) if code else None
        return [home] + figure_links + [links.records("first_offers", code), None, None]

    for row in report.rows:
        table.rows.append(values(row))
        table.row_links.append(cell_links(row))
    table.total = values(report.city)
    table.total_links = cell_links(report.city)
    return table


def failed_checks_table(report: watchdog.WatchdogReport, links: Links = NO_LINKS) -> LinkedTable:
    table = LinkedTable(
        name="watchdog_failed_checks",
        title=_("Failed admission checks by reason and by who recorded them"),
        caption=_("Accepted offers that failed the admission check in the period."),
        columns=[Column(_("Home")), Column(_("Reason")), Column(_("Recorded by")), Column(_("Offers"), INT)],
    )
    codes = {row.facility.pk: row.facility for row in report.rows}
    groups = [(None, report.failed_checks)] + [
        (codes[fid], breakdown) for fid, breakdown in sorted(report.failed_checks_by_facility.items())
    ]
    for facility, breakdown in groups:
        code = facility.code if facility is not None else ""
        for reason, officer, n in breakdown:
            table.rows.append([_home_label(facility), fail_reason_label(reason), officer or "—", n])
            table.row_links.append([None, None, None, links.records("failed_checks", code)])
    return table


def skip_reasons_table(report: watchdog.WatchdogReport, links: Links = NO_LINKS) -> LinkedTable:
    reasons = skip_reason_labels()
    extra = sorted(set(report.city.skip_reasons) - set(reasons))
    table = LinkedTable(
        name="watchdog_skip_reasons",
        title=_("Admissions not first in the order, and why those above were passed over"),
        caption=_(
            "Admissions in the period whose decision chose someone below the first in the order; each "
            "reason counts the people ranked above who were skipped for it."
        ),
        columns=[Column(_("Home")), Column(_("Admissions not first in the order"), INT)]
        + [Column(label, INT) for label in reasons.values()]
        + [Column(reason or _("no reason recorded"), INT) for reason in extra],
    )

    def values(row: watchdog.Row) -> list:
        return (
            [_home_label(row.facility), row.count("out_of_order")]
            + [row.skip_reasons.get(r, 0) for r in reasons]
            + [row.skip_reasons.get(r, 0) for r in extra]
        )

    for row in report.rows:
        if row.count("out_of_order"):
            table.rows.append(values(row))
            table.row_links.append(
                [None, links.records("out_of_order", row.facility.code)] + [None] * (len(reasons) + len(extra))
            )
    table.total = values(report.city)
    table.total_links = [None, links.records("out_of_order", "")] + [None] * (len(reasons) + len(extra))
    return table


def _group_label(channel: str, care_level: str) -> str:
    channel_label = Channel(channel).label if channel in Channel.values else channel
    return f"{channel_label} · {CareLevel(care_level).label}"


def first_offers_table(report: watchdog.WatchdogReport, links: Links = NO_LINKS) -> LinkedTable:
    table = LinkedTable(
        name="watchdog_first_offers",
        title=_("Days from approval to the first offer"),
        caption=_(
            "Applications first offered a bed in the period, by channel and care level: days from approval (joining "
            "the queue) to the first offer. The median and the 90th percentile interpolate between the closest values."
        ),
        columns=[
            Column(_("Channel and care level")),
            Column(_("First offers"), INT),
            Column(_("Median (days)"), DAYS),
            Column(_("90th percentile (days)"), DAYS),
        ],
    )
    for group in report.first_offers:
        spread = group.spread
        table.rows.append(
            [_group_label(group.channel, group.care_level), spread.count, spread.median_days, spread.p90_days]
        )
        table.row_links.append([None, None, None, None])
    city = report.city.first_offer
    table.total = [_("All first offers"), city.count, city.median_days, city.p90_days]
    table.total_links = [None, links.records("first_offers", ""), None, None]
    return table


def report_tables(report: watchdog.WatchdogReport, links: Links = NO_LINKS) -> list[LinkedTable]:
    return [
        homes_table(report, links),
        failed_checks_table(report, links),
        skip_reasons_table(report, links),
        first_offers_table(report, links),
    ]


# --- files -----------------------------------------------------------------------------------------
def _heading(report: watchdog.WatchdogReport) -> list[str]:
    return [
        _("Watchdog report"),
        _("Period %(start)s to %(end)s; as of %(now)s")
        % {
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "now": timezone.localtime(report.as_of).strftime("%Y-%m-%d %H:%M"),
        },
    ]


def watchdog_csv(report: watchdog.WatchdogReport) -> bytes:
    """Every table, one after another: its title, its header, its rows, a blank line."""

    def write(writer) -> None:
        for line in _heading(report) + [not_recorded_note()]:
            writer.writerow([safe_cell(line)])
        writer.writerow([])
        for table in report_tables(report):
            writer.writerow([safe_cell(table.title)])
            csv_write_table(writer, table)
            writer.writerow([])

    return csv_bytes(write)


def watchdog_xlsx(report: watchdog.WatchdogReport) -> bytes:
    """One sheet per table, after a first sheet that says what the report covers."""
    from openpyxl import Workbook

    workbook = Workbook()
    about = workbook.active
    about.title = "about"
    for line in _heading(report) + [not_recorded_note()]:
        about.append([xlsx_cell(line)])
    for table in report_tables(report):
        xlsx_write_table(workbook.create_sheet(table.name.removeprefix("watchdog_")[:31]), table)
    return xlsx_bytes(workbook)


def watchdog_file(report: watchdog.WatchdogReport, fmt: str) -> tuple[bytes, str, str]:
    """The file in `fmt` (csv or xlsx): its bytes, content type and file name."""
    body = watchdog_csv(report) if fmt == "csv" else watchdog_xlsx(report)
    filename = f"watchdog-{report.period.start:%Y-%m-%d}-{report.period.end:%Y-%m-%d}.{fmt}"
    return body, CONTENT_TYPES[fmt], filename
