"""Staff pages: reports. Thin: parse, call one service or selector, render.

The figures come from admissions/reports.py. Each report becomes one `ReportTable`, which the page
shows beside its chart and the download view writes as CSV or XLSX, so the page and the files say
the same thing. Charts are inline SVG drawn here from the same rows (no chart library, no outside
network), each with a title, a description and the table as its text alternative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions import reports as report_selectors
from admissions.models import Channel
from admissions.spreadsheets import CONTENT_TYPES, csv_bytes, csv_write_table, xlsx_bytes, xlsx_write_table
from facilities.models import CareLevel, District, Facility, Role
from web.access import staff_page

# --- tables ----------------------------------------------------------------------------------------
TEXT, INT, PERCENT, DAYS = "text", "int", "percent", "days"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT

    @property
    def numeric(self) -> bool:
        return self.kind != TEXT


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool


@dataclass
class ReportTable:
    """One report's figures: the first column names the row (a row header)."""

    name: str
    title: str
    caption: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None  # a totals row, shown as the table's footer

    def _cells(self, row: list) -> list[Cell]:
        return [
            Cell(display(value, column.kind), column.numeric) for value, column in zip(row, self.columns, strict=True)
        ]

    @property
    def display_rows(self) -> list[list[Cell]]:
        return [self._cells(row) for row in self.rows]

    @property
    def display_total(self) -> list[Cell] | None:
        return self._cells(self.total) if self.total is not None else None


def display(value, kind: str) -> str:
    if value is None or value == "":
        return "—"
    if kind == PERCENT:
        return number_format(value * 100, 1) + "%"
    if kind == DAYS:
        return number_format(value, 1 if value % 1 else 0)
    if kind == INT:
        return number_format(value, 0, force_grouping=True)
    return str(value)


def _facility_label(facility: Facility) -> str:
    return f"{facility.code} {facility.name}"


def _share_label(share) -> str:
    return display(float(share), PERCENT)


# --- charts ----------------------------------------------------------------------------------------
# Colours from site.css's palette (all at least 3:1 against white: WCAG 1.4.11). Self-care parts are
# hatched and every figure is written as text too, so nothing is told by colour alone.
CHANNEL_COLOURS = {"special": "#0b5394", "priority": "#8a5a00", "ordinary": "#4a4a4a"}
BELOW_TARGET_COLOUR = "#b00020"
WIDTH, LABEL_WIDTH, VALUE_ROOM, ROW_HEIGHT, BAR_HEIGHT, TOP, AXIS = 800, 250, 200, 28, 18, 8, 26
PLOT_LEFT, PLOT_RIGHT = LABEL_WIDTH, WIDTH - VALUE_ROOM


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    fill: str
    stroke: str
    title: str


@dataclass(frozen=True)
class ChartRow:
    y: float
    label: str
    full_label: str
    segments: list[Segment]
    value_text: str
    value_x: float
    marker_x: float | None = None

    @property
    def bar_y(self) -> float:
        return self.y + (ROW_HEIGHT - BAR_HEIGHT) / 2

    @property
    def text_y(self) -> float:
        return self.y + ROW_HEIGHT / 2 + 5

    @property
    def marker_top(self) -> float:
        return self.y + 1

    @property
    def marker_bottom(self) -> float:
        return self.y + ROW_HEIGHT - 1


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class LegendItem:
    fill: str
    stroke: str
    label: str


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    rows: list[ChartRow]
    ticks: list[Tick]
    legend: list[LegendItem]
    hatches: list[tuple[str, str]]  # (pattern id, colour)

    width: int = WIDTH
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    label_x: int = LABEL_WIDTH - 8

    @property
    def plot_top(self) -> int:
        return TOP

    @property
    def plot_bottom(self) -> int:
        return TOP + ROW_HEIGHT * len(self.rows)

    @property
    def tick_text_y(self) -> int:
        return self.plot_bottom + 18

    @property
    def height(self) -> int:
        return self.plot_bottom + AXIS


def _nice_step(value: float) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above `value` (at least 1): a readable tick step."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if value <= step * power)


def _axis(largest: float) -> tuple[int, int]:
    """The axis end and the tick step for values up to `largest`: about five ticks, whole numbers."""
    step = _nice_step(largest / 5)
    return max(step, step * math.ceil(largest / step)), step


def _scale(maximum: float):
    span = PLOT_RIGHT - PLOT_LEFT
    return lambda value: span * (value / maximum) if maximum else 0


def _ticks(maximum: float, step: float, kind: str) -> list[Tick]:
    scale = _scale(maximum)
    count = round(maximum / step)
    return [Tick(x=PLOT_LEFT + scale(i * step), label=display(i * step, kind)) for i in range(count + 1)]


def _hatch_id(chart_id: str, colour: str) -> str:
    return f"{chart_id}-hatch-{colour.lstrip('#')}"


def _row(index: int, label: str, segments: list[Segment], value_text: str, marker_x: float | None = None) -> ChartRow:
    end = max([s.x + s.width for s in segments], default=PLOT_LEFT)
    return ChartRow(
        y=TOP + index * ROW_HEIGHT,
        label=Truncator(label).chars(34),
        full_label=label,
        segments=segments,
        value_text=value_text,
        value_x=max(end, marker_x or 0) + 6,
        marker_x=marker_x,
    )


def queue_chart(rows: list[report_selectors.QueueLengthRow]) -> Chart:
    chart_id = "chart-queue"
    maximum, step = _axis(max([r.total for r in rows], default=0))
    scale = _scale(maximum)
    hatches = [(_hatch_id(chart_id, colour), colour) for colour in CHANNEL_COLOURS.values()]
    parts = report_selectors.QUEUE_PARTS

    def paint(channel: str, care_level: str) -> tuple[str, str]:
        colour = CHANNEL_COLOURS[channel]
        fill = colour if care_level == CareLevel.NURSING else f"url(#{_hatch_id(chart_id, colour)})"
        return fill, colour

    chart_rows = []
    for index, row in enumerate(rows):
        x, segments = PLOT_LEFT, []
        for channel, care_level in parts:
            n = row.count(channel, care_level)
            if n:
                width = scale(n)
                fill, stroke = paint(channel, care_level)
                title = _("%(facility)s, %(channel)s, %(care_level)s: %(count)s") % {
                    "facility": row.facility.name,
                    "channel": Channel(channel).label,
                    "care_level": CareLevel(care_level).label,
                    "count": n,
                }
                segments.append(Segment(x=x, width=width, fill=fill, stroke=stroke, title=title))
                x += width
        chart_rows.append(_row(index, _facility_label(row.facility), segments, display(row.total, INT)))
    legend = [
        LegendItem(*paint(channel, care_level), f"{Channel(channel).label} · {CareLevel(care_level).label}")
        for channel, care_level in parts
    ]
    longest = max(rows, key=lambda r: r.total, default=None)
    desc = _("Open queue entries of %(homes)s homes, by channel and care level: %(total)s in all.") % {
        "homes": len(rows),
        "total": sum(r.total for r in rows),
    }
    if longest is not None and longest.total:
        desc += " " + _("The longest queue is at %(home)s (%(count)s).") % {
            "home": longest.facility.name,
            "count": longest.total,
        }
    desc += " " + _("The table below the chart gives every figure.")
    return Chart(
        id=chart_id,
        title=_("Queue length by channel and care level"),
        desc=desc,
        rows=chart_rows,
        ticks=_ticks(maximum, step, INT),
        legend=legend,
        hatches=hatches,
    )


def nursing_share_chart(rows: list[report_selectors.NursingShareRow]) -> Chart:
    chart_id = "chart-nursing-share"
    scale = _scale(1)
    hatches = [(_hatch_id(chart_id, BELOW_TARGET_COLOUR), BELOW_TARGET_COLOUR)]
    below_fill = f"url(#{_hatch_id(chart_id, BELOW_TARGET_COLOUR)})"
    chart_rows = []
    for index, row in enumerate(rows):
        share = row.quota.nursing_share
        target_x = PLOT_LEFT + scale(float(row.quota.nursing_target))
        target_text = _share_label(row.quota.nursing_target)
        if share is None:
            segments = []
            value = _("no bed held; target %(target)s") % {"target": target_text}
        else:
            below = row.below_target
            fill = below_fill if below else CHANNEL_COLOURS["special"]
            stroke = BELOW_TARGET_COLOUR if below else CHANNEL_COLOURS["special"]
            text = (_("%(share)s, below the target %(target)s") if below else _("%(share)s, target %(target)s")) % {
                "share": _share_label(share),
                "target": target_text,
            }
            segments = [
                Segment(
                    x=PLOT_LEFT,
                    width=scale(share),
                    fill=fill,
                    stroke=stroke,
                    title=f"{row.facility.name}: {text}",
                )
            ]
            value = text
        chart_rows.append(_row(index, _facility_label(row.facility), segments, value, marker_x=target_x))
    below = [r.facility.name for r in rows if r.below_target]
    desc = _("The share of held beds held by people in nursing care, per home, against its target.")
    if below:
        desc += " " + _("Below the target: %(homes)s.") % {"homes": ", ".join(below)}
    else:
        desc += " " + _("No home is below its target.")
    desc += " " + _("The table below the chart gives every figure.")
    return Chart(
        id=chart_id,
        title=_("Nursing share against target"),
        desc=desc,
        rows=chart_rows,
        ticks=_ticks(1, 0.25, PERCENT),
        legend=[
            LegendItem(CHANNEL_COLOURS["special"], CHANNEL_COLOURS["special"], _("at or above the target")),
            LegendItem(below_fill, BELOW_TARGET_COLOUR, _("below the target")),
            LegendItem("#1b1b1b", "#1b1b1b", _("vertical line: the target in force")),
        ],
        hatches=hatches,
    )


def _group_label(row: report_selectors.WaitRow) -> str:
    if row.channel is None:
        return _("All admissions")
    return f"{Channel(row.channel).label} · {CareLevel(row.care_level).label}"


def wait_chart(rows: list[report_selectors.WaitRow]) -> Chart:
    chart_id = "chart-wait"
    maximum, step = _axis(max([r.median_days or 0 for r in rows], default=0))
    scale = _scale(maximum)
    hatches = [(_hatch_id(chart_id, colour), colour) for colour in CHANNEL_COLOURS.values()]
    chart_rows = []
    for index, row in enumerate(rows):
        label = _group_label(row)
        if row.median_days is None:
            chart_rows.append(_row(index, label, [], _("nobody admitted")))
            continue
        colour = CHANNEL_COLOURS.get(row.channel or "", "#1b1b1b")
        fill = f"url(#{_hatch_id(chart_id, colour)})" if row.care_level == CareLevel.SELF_CARE else colour
        text = _("%(days)s days (%(admitted)s admitted)") % {
            "days": display(row.median_days, DAYS),
            "admitted": row.admitted,
        }
        segment = Segment(x=PLOT_LEFT, width=scale(row.median_days), fill=fill, stroke=colour, title=f"{label}: {text}")
        chart_rows.append(_row(index, label, [segment], text))
    overall = rows[-1] if rows else None
    if overall is not None and overall.median_days is not None:
        desc = _(
            "The median wait from joining the queue to admission of the %(admitted)s people admitted in the "
            "last 12 months is %(days)s days."
        ) % {
            "admitted": overall.admitted,
            "days": display(overall.median_days, DAYS),
        }
    else:
        desc = _("Nobody was admitted in the last 12 months.")
    desc += " " + _("The table below the chart gives the figure for each channel and care level.")
    return Chart(
        id=chart_id,
        title=_("Median wait of those admitted in the last 12 months (days)"),
        desc=desc,
        rows=chart_rows,
        ticks=_ticks(maximum, step, DAYS),
        legend=[LegendItem(colour, colour, Channel(channel).label) for channel, colour in CHANNEL_COLOURS.items()]
        + [LegendItem(f"url(#{_hatch_id(chart_id, '#4a4a4a')})", "#4a4a4a", _("hatched: self-care"))],
        hatches=hatches,
    )


OUTCOME_COLOURS = {"accepted": "#0b5394", "declined": "#8a5a00", "expired": "#b00020"}


def offers_chart(total: report_selectors.OfferOutcomeRow) -> Chart:
    chart_id = "chart-offers"
    labels = {"accepted": _("Accepted"), "declined": _("Declined"), "expired": _("Expired")}
    values = {name: getattr(total, name) for name in labels}
    maximum, step = _axis(max(values.values(), default=0))
    scale = _scale(maximum)
    chart_rows = []
    for index, (name, label) in enumerate(labels.items()):
        colour = OUTCOME_COLOURS[name]
        text = display(values[name], INT)
        segments = [Segment(PLOT_LEFT, scale(values[name]), colour, colour, f"{label}: {text}")] if values[name] else []
        chart_rows.append(_row(index, label, segments, text))
    desc = (
        _("Offers in the last 12 months, all homes: %(accepted)s accepted, %(declined)s declined, %(expired)s expired.")
        % values
    )
    desc += " " + _("The table below the chart gives the figures of each home.")
    return Chart(
        id=chart_id,
        title=_("Offers accepted, declined and expired in the last 12 months"),
        desc=desc,
        rows=chart_rows,
        ticks=_ticks(maximum, step, INT),
        legend=[],
        hatches=[],
    )


# --- the four reports ------------------------------------------------------------------------------
def queue_table(rows: list[report_selectors.QueueLengthRow]) -> ReportTable:
    parts = report_selectors.QUEUE_PARTS
    table = ReportTable(
        name="queue_length",
        title=_("Queue length by channel and care level"),
        caption=_("Open queue entries per home, today."),
        columns=[Column(_("Home"))]
        + [Column(f"{Channel(c).label} · {CareLevel(l).label}", INT) for c, l in parts]
        + [Column(_("Total"), INT)],
    )
    for row in rows:
        table.rows.append([_facility_label(row.facility)] + [row.count(c, l) for c, l in parts] + [row.total])
    table.total = [_("All homes")] + [sum(r.count(c, l) for r in rows) for c, l in parts] + [sum(r.total for r in rows)]
    return table


def nursing_share_table(rows: list[report_selectors.NursingShareRow]) -> ReportTable:
    table = ReportTable(
        name="nursing_share",
        title=_("Nursing share against target"),
        caption=_("Beds held (reserved or occupied) by the care level of whoever holds them, today."),
        columns=[
            Column(_("Home")),
            Column(_("Beds in service"), INT),
            Column(_("Held by nursing care"), INT),
            Column(_("Held by self-care"), INT),
            Column(_("Nursing share"), PERCENT),
            Column(_("Target in force"), PERCENT),
            Column(_("Target set by")),
            Column(_("Self-care cap"), INT),
            Column(_("Against the target")),
        ],
    )
    for row in rows:
        if row.below_target is None:
            against = _("no bed held")
        else:
            against = _("below the target") if row.below_target else _("at or above the target")
        table.rows.append(
            [
                _facility_label(row.facility),
                row.beds_in_service,
                row.quota.nursing_held,
                row.quota.self_care_held,
                row.quota.nursing_share,
                float(row.quota.nursing_target),
                _("the home") if row.own_target else _("the policy"),
                row.quota.self_care_cap,
                against,
            ]
        )
    return table


def wait_table(rows: list[report_selectors.WaitRow]) -> ReportTable:
    table = ReportTable(
        name="median_wait",
        title=_("Median wait of those admitted in the last 12 months"),
        caption=_("Days from joining the queue to the admission date, for admissions from %(start)s to %(end)s.")
        % {
            "start": date_format(report_selectors.window_start(), "DATE_FORMAT"),
            "end": date_format(timezone.localdate(), "DATE_FORMAT"),
        },
        columns=[
            Column(_("Channel and care level")),
            Column(_("Admitted"), INT),
            Column(_("Median wait (days)"), DAYS),
        ],
    )
    for row in rows[:-1]:
        table.rows.append([_group_label(row), row.admitted, row.median_days])
    overall = rows[-1]
    table.total = [_group_label(overall), overall.admitted, overall.median_days]
    return table


def offers_table(rows: list[report_selectors.OfferOutcomeRow]) -> ReportTable:
    table = ReportTable(
        name="offers",
        title=_("Offers accepted, declined and expired in the last 12 months"),
        caption=_("Counted by the day of the answer, from %(start)s to %(end)s. Declines and expiries are refusals.")
        % {
            "start": date_format(report_selectors.window_start(), "DATE_FORMAT"),
            "end": date_format(timezone.localdate(), "DATE_FORMAT"),
        },
        columns=[Column(_("Home")), Column(_("Accepted"), INT), Column(_("Declined"), INT), Column(_("Expired"), INT)],
    )
    for row in rows[:-1]:
        table.rows.append([_facility_label(row.facility), row.accepted, row.declined, row.expired])
    total = rows[-1]
    table.total = [_("All homes"), total.accepted, total.declined, total.expired]
    return table


REPORT_NAMES = ("queue_length", "nursing_share", "median_wait", "offers")


def _report(name: str, facilities) -> tuple[ReportTable, Chart]:
    if name == "queue_length":
        rows = report_selectors.queue_lengths(facilities)
        return queue_table(rows), queue_chart(rows)
    if name == "nursing_share":
        rows = report_selectors.nursing_shares(facilities)
        return nursing_share_table(rows), nursing_share_chart(rows)
    if name == "median_wait":
        rows = report_selectors.median_waits(facilities)
        return wait_table(rows), wait_chart(rows)
    if name == "offers":
        rows = report_selectors.offer_outcomes(facilities)
        return offers_table(rows), offers_chart(rows[-1])
    raise Http404("No such report.")


# --- the filter ------------------------------------------------------------------------------------
class ReportFilter(forms.Form):
    district = forms.ChoiceField(label=gettext_lazy("District"), required=False)

    def __init__(self, *args, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = [("", _("All districts"))] + [
            (d.code, d.name(language)) for d in District.objects.order_by("code")
        ]

    def facilities(self):
        facilities = Facility.objects.select_related("district").order_by("code")
        district = self.cleaned_data.get("district") if self.is_valid() else ""
        return facilities.filter(district__code=district) if district else facilities


def _filter(request) -> ReportFilter:
    data = request.GET if "district" in request.GET else None
    return ReportFilter(data, language=request.LANGUAGE_CODE)


# --- views -----------------------------------------------------------------------------------------
@staff_page(Role.REVIEWER)
def reports(request):
    report_filter = _filter(request)
    facilities = report_filter.facilities()
    sections = []
    for name in REPORT_NAMES:
        table, chart = _report(name, facilities)
        sections.append({"table": table, "chart": chart})
    query = request.GET.urlencode()
    return render(
        request,
        "staff/reports/index.html",
        {
            "filter": report_filter,
            "sections": sections,
            "query": f"?{query}" if report_filter.is_bound and report_filter.is_valid() and query else "",
            "window_start": report_selectors.window_start(),
        },
    )


def _csv(table: ReportTable) -> bytes:
    return csv_bytes(lambda writer: csv_write_table(writer, table))


def _xlsx(table: ReportTable) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = table.name[:31]
    xlsx_write_table(sheet, table)
    return xlsx_bytes(workbook)


@staff_page(Role.REVIEWER)
def report_download(request, name: str, fmt: str):
    if name not in REPORT_NAMES or fmt not in CONTENT_TYPES:
        raise Http404("No such report or format.")
    table, _chart = _report(name, _filter(request).facilities())
    body = _csv(table) if fmt == "csv" else _xlsx(table)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    filename = f"{name.replace('_', '-')}-{timezone.localdate():%Y-%m-%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


urlpatterns = [
    path("reports/", reports, name="reports"),
    path("reports/<str:name>.<str:fmt>/", report_download, name="report_download"),
]
