"""Staff pages: the watchdog report (R-WATCH-1). Thin: parse the filter, call admissions.watchdog,
render.

The figures come from admissions/watchdog.py (one selector module, also read by the API and the
monthly task); their tables and the CSV/XLSX files from admissions/watchdog_tables.py (the API's
`format=csv|xlsx` writes the same). The page adds inline SVG charts drawn by the reports page's
helpers (web/views/reports.py), and links each count to the list of the records behind it
(`watchdog_records`), filtered the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions import watchdog
from admissions.watchdog import figure_labels, not_recorded_note
from admissions.watchdog_tables import (
    CONTENT_TYPES,
    Links,
    _group_label,
    _home_label,
    fail_reason_label,
    report_tables,
    skip_reason_labels,
    watchdog_file,
)
from facilities.models import BedType, Facility, Role
from web.access import staff_page

from .reports import (
    DAYS,
    INT,
    PLOT_LEFT,
    Chart,
    LegendItem,
    Segment,
    _axis,
    _row,
    _scale,
    _ticks,
    display,
)

PAGE_SIZE = 50


# --- the filter ------------------------------------------------------------------------------------
class WatchdogFilter(forms.Form):
    """?facility=&from=&to= as in API.md; without dates, the last full month."""

    facility = forms.ChoiceField(label=gettext_lazy("Home"), required=False)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["facility"].choices = [("", _("All homes"))] + [
            (code, f"{code} {name}") for code, name in Facility.objects.order_by("code").values_list("code", "name")
        ]
        period = watchdog.default_period()
        self.fields["from"] = forms.DateField(
            label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        )
        self.fields["to"] = forms.DateField(
            label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        )
        self.initial.setdefault("from", period.start)
        self.initial.setdefault("to", period.end)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        default = watchdog.default_period()
        start, end = data.get("from") or default.start, data.get("to") or default.end
        problem = watchdog.period_problem(start, end)
        if problem:
            self.add_error("to", problem)
        data["period"] = watchdog.Period(start=start, end=end)
        return data

    @property
    def period(self) -> watchdog.Period:
        return self.cleaned_data["period"]

    def facilities(self):
        facilities = Facility.objects.select_related("district").order_by("code")
        code = self.cleaned_data.get("facility")
        return facilities.filter(code=code) if code else facilities


def watchdog_filter(request) -> WatchdogFilter:
    """Bound always: a missing date is the default period's, shown in the form as such."""
    data = request.GET.copy()
    period = watchdog.default_period()
    data.setdefault("from", period.start.isoformat())
    data.setdefault("to", period.end.isoformat())
    return WatchdogFilter(data)


def _query(period: watchdog.Period, facility: str = "", **extra) -> str:
    params = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if facility:
        params["facility"] = facility
    params.update(extra)
    return "?" + urlencode(params)


# --- charts ----------------------------------------------------------------------------------------
FIGURE_COLOURS = {
    "long_vacant": "#b00020",
    "long_out_of_service": "#8a5a00",
    "failed_checks": "#0b5394",
    "out_of_order": "#6a1b9a",
    "overdue_admissions": "#4a4a4a",
}
ALERTS = tuple(FIGURE_COLOURS)


def city_chart(report: watchdog.WatchdogReport) -> Chart:
    labels = figure_labels()
    shown = [f for f in watchdog.FIGURES if f not in watchdog.NOT_RECORDED]
    maximum, step = _axis(max([report.city.count(f) for f in shown], default=0))
    scale = _scale(maximum)
    rows = []
    for index, figure in enumerate(shown):
        n = report.city.count(figure)
        colour = FIGURE_COLOURS.get(figure, "#1b1b1b")
        segments = [Segment(PLOT_LEFT, scale(n), colour, colour, f"{labels[figure]}: {n}")] if n else []
        rows.append(_row(index, labels[figure], segments, display(n, INT)))
    desc = _("The city's figures: %(figures)s.") % {
        "figures": "; ".join(f"{labels[f]} {report.city.count(f)}" for f in shown)
    }
    return Chart(
        id="chart-watchdog-city",
        title=_("The city at a glance"),
        desc=desc + " " + _("The table below gives every home's figures."),
        rows=rows,
        ticks=_ticks(maximum, step, INT),
        legend=[],
        hatches=[],
    )


def homes_chart(report: watchdog.WatchdogReport, *, top: int = 10) -> Chart:
    """The homes with the most alerts, each bar split by kind of alert."""
    labels = figure_labels()
    ranked = sorted(
        (row for row in report.rows if sum(row.count(f) for f in ALERTS)),
        key=lambda row: (-sum(row.count(f) for f in ALERTS), row.facility.code),
    )[:top]
    maximum, step = _axis(max([sum(r.count(f) for f in ALERTS) for r in ranked], default=0))
    scale = _scale(maximum)
    rows = []
    for index, row in enumerate(ranked):
        x, segments = PLOT_LEFT, []
        for figure in ALERTS:
            n = row.count(figure)
            if n:
                colour = FIGURE_COLOURS[figure]
                segments.append(Segment(x, scale(n), colour, colour, f"{row.facility.name}, {labels[figure]}: {n}"))
                x += scale(n)
        rows.append(_row(index, _home_label(row.facility), segments, display(sum(row.count(f) for f in ALERTS), INT)))
    if ranked:
        desc = _("The %(count)s homes with the most alerts; the most at %(home)s (%(n)s).") % {
            "count": len(ranked),
            "home": ranked[0].facility.name,
            "n": sum(ranked[0].count(f) for f in ALERTS),
        }
    else:
        desc = _("No home has an alert.")
    return Chart(
        id="chart-watchdog-homes",
        title=_("Homes with the most alerts"),
        desc=desc + " " + _("The table below gives every home's figures."),
        rows=rows,
        ticks=_ticks(maximum, step, INT),
        legend=[LegendItem(FIGURE_COLOURS[f], FIGURE_COLOURS[f], labels[f]) for f in ALERTS],
        hatches=[],
    )


def first_offer_chart(report: watchdog.WatchdogReport) -> Chart:
    groups = report.first_offers
    maximum, step = _axis(max([g.spread.p90_days or 0 for g in groups], default=0))
    scale = _scale(maximum)
    rows = []
    for index, group in enumerate(groups):
        label = _group_label(group.channel, group.care_level)
        spread = group.spread
        if spread.median_days is None:
            rows.append(_row(index, label, [], _("no first offer")))
            continue
        text = _("median %(median)s, 90th percentile %(p90)s days (%(count)s)") % {
            "median": display(spread.median_days, DAYS),
            "p90": display(spread.p90_days, DAYS),
            "count": spread.count,
        }
        segment = Segment(PLOT_LEFT, scale(spread.median_days), "#0b5394", "#0b5394", f"{label}: {text}")
        rows.append(_row(index, label, [segment], text, marker_x=PLOT_LEFT + scale(spread.p90_days)))
    city = report.city.first_offer
    if city.count:
        desc = _(
            "%(count)s applications were first offered a bed in the period: median %(median)s days, 90th "
            "percentile %(p90)s days from approval."
        ) % {
            "count": city.count,
            "median": display(city.median_days, DAYS),
            "p90": display(city.p90_days, DAYS),
        }
    else:
        desc = _("No application was first offered a bed in the period.")
    return Chart(
        id="chart-watchdog-first-offer",
        title=_("Days from approval to the first offer"),
        desc=desc + " " + _("The table below gives each figure."),
        rows=rows,
        ticks=_ticks(maximum, step, DAYS),
        legend=[
            LegendItem("#0b5394", "#0b5394", _("bar: the median")),
            LegendItem("#1b1b1b", "#1b1b1b", _("vertical line: the 90th percentile")),
        ],
        hatches=[],
    )


# --- views -----------------------------------------------------------------------------------------
def _records_url(kind: str, period: watchdog.Period, code: str = "") -> str:
    return reverse("staff:watchdog_records", args=[kind]) + _query(period, code)


def _links(period: watchdog.Period) -> Links:
    return Links(
        records=lambda kind, code: _records_url(kind, period, code),
        home=lambda code: reverse("staff:facility", args=[code]),
    )


def _file_response(report: watchdog.WatchdogReport, fmt: str) -> HttpResponse:
    body, content_type, filename = watchdog_file(report, fmt)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _bad_filter(form: WatchdogFilter) -> HttpResponse:
    lines = [f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()]
    return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")


@staff_page(Role.REVIEWER)
def watchdog_page(request):
    form = watchdog_filter(request)
    context = {"filter": form, "sections": [], "charts": []}
    if form.is_valid():
        report = watchdog.watchdog_report(form.facilities(), form.period)
        tables = report_tables(report, _links(report.period))
        context.update(
            report=report,
            charts=[city_chart(report), homes_chart(report), first_offer_chart(report)],
            tables=tables,
            query=_query(report.period, form.cleaned_data.get("facility") or ""),
            not_recorded=not_recorded_note(),
            period_start=report.period.start,
            period_end=report.period.end,
        )
    return render(request, "staff/reports/watchdog.html", context, status=200 if form.is_valid() else 400)


@staff_page(Role.REVIEWER)
def watchdog_download(request, fmt: str):
    if fmt not in CONTENT_TYPES:
        raise Http404("No such format.")
    form = watchdog_filter(request)
    if not form.is_valid():
        return _bad_filter(form)
    return _file_response(watchdog.watchdog_report(form.facilities(), form.period), fmt)


@dataclass(frozen=True)
class RecordCell:
    text: str
    url: str | None = None


def _application_cell(application) -> RecordCell:
    if application is None:
        return RecordCell("—")
    return RecordCell(application.reference, reverse("staff:application", args=[application.reference]))


def _home_cell(facility: Facility) -> RecordCell:
    return RecordCell(f"{facility.code} {facility.name}", reverse("staff:facility", args=[facility.code]))


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    return date_format(value, "DATE_FORMAT")


def _days_since(moment: dt.datetime, now: dt.datetime) -> str:
    return display((now - moment).total_seconds() / 86400, DAYS)


def _decision_cell(decision) -> RecordCell:
    url = reverse("staff:facility_decisions", args=[decision.facility.code])
    return RecordCell(f"{decision.facility.code} #{decision.sequence}", url)


def record_rows(kind: str, page, *, now: dt.datetime) -> tuple[list[str], list[list[RecordCell]]]:
    """The columns and the rows of one page of records behind a figure."""
    skip_labels = skip_reason_labels()
    if kind in ("long_vacant", "long_out_of_service"):
        headers = [_("Home"), _("Bed"), _("Bed type"), _("Since"), _("Days")]
        if kind == "long_out_of_service":
            headers.append(_("Reason"))
        rows = []
        for bed in page:
            row = [
                _home_cell(bed.facility),
                RecordCell(bed.code),
                RecordCell(str(BedType(bed.bed_type).label)),
                RecordCell(_when(bed.status_since)),
                RecordCell(_days_since(bed.status_since, now)),
            ]
            if kind == "long_out_of_service":
                row.append(RecordCell(bed.out_of_service_reason or "—"))
            rows.append(row)
        return headers, rows
    if kind == "failed_checks":
        officers = _officers(page)
        headers = [_("Home"), _("Bed"), _("Application"), _("Accepted"), _("Failed"), _("Reason"), _("Recorded by")]
        rows = [
            [
                _home_cell(offer.facility),
                RecordCell(offer.bed.code),
                _application_cell(offer.application),
                RecordCell(_when(offer.accepted_at)),
                RecordCell(_when(offer.closed_at)),
                RecordCell(fail_reason_label(offer.reason)),
                RecordCell(officers.get(offer.pk) or "—"),
            ]
            for offer in page
        ]
        return headers, rows
    if kind == "out_of_order":
        headers = [_("Home"), _("Bed"), _("Application"), _("Admitted"), _("Rank chosen"), _("Decision")]
        headers.append(_("Passed over (rank: reason)"))
        rows = []
        for occupancy in page:
            decision = occupancy.offer.decision
            chosen = decision.chosen or {}
            passed = "; ".join(
                f"{row.get('rank', '?')}: {skip_labels.get(row.get('reason', ''), row.get('reason', ''))}"
                for row in (decision.skipped or [])
                if isinstance(row, dict)
            )
            rows.append(
                [
                    _home_cell(occupancy.facility),
                    RecordCell(occupancy.bed.code),
                    _application_cell(occupancy.application),
                    RecordCell(_when(occupancy.admitted_on)),
                    RecordCell(str(chosen.get("rank", "—"))),
                    _decision_cell(decision),
                    RecordCell(passed or "—"),
                ]
            )
        return headers, rows
    if kind in ("manual_allocations", "automatic_allocations"):
        headers = [_("Decision"), _("Bed"), _("Made"), _("Started by"), _("Chosen rank"), _("Skipped")]
        rows = [
            [
                _decision_cell(decision),
                RecordCell(decision.bed.code),
                RecordCell(_when(decision.made_at)),
                RecordCell(decision.trigger),
                RecordCell(str((decision.chosen or {}).get("rank", _("nobody")))),
                RecordCell(str(len(decision.skipped or []))),
            ]
            for decision in page
        ]
        return headers, rows
    if kind == "overdue_admissions":
        headers = [_("Home"), _("Bed"), _("Application"), _("Accepted"), _("Admit by"), _("Days overdue")]
        rows = [
            [
                _home_cell(offer.facility),
                RecordCell(offer.bed.code),
                _application_cell(offer.application),
                RecordCell(_when(offer.accepted_at)),
                RecordCell(_when(offer.admit_by)),
                RecordCell(_days_since(offer.admit_by, now)),
            ]
            for offer in page
        ]
        return headers, rows
    if kind == "unconfirmed":
        headers = [_("Home"), _("Application"), _("State"), _("Queued on")]
        rows = [
            [
                _home_cell(entry.facility),
                _application_cell(entry.application),
                RecordCell(str(entry.application.get_state_display())),
                RecordCell(_when(entry.queued_at)),
            ]
            for entry in page
        ]
        return headers, rows
    if kind == "re_reviews":
        headers = [_("Application"), _("Asked for"), _("Decision due by"), _("Days overdue"), _("Assessor")]
        rows = [
            [
                _application_cell(review.application),
                RecordCell(_when(review.requested_at)),
                RecordCell(_when(review.due_by)),
                RecordCell(_days_since(review.due_by, now)),
                RecordCell(review.assessor.get_username() if review.assessor else "—"),
            ]
            for review in page
        ]
        return headers, rows
    if kind == "first_offers":
        headers = [_("Home"), _("Application"), _("Channel and care level"), _("Approved"), _("First offer"), _("Days")]
        rows = [
            [
                _home_cell(offer.facility),
                _application_cell(offer.application),
                RecordCell(_group_label(offer.application.channel_code or "", offer.care_level)),
                RecordCell(_when(offer.queued_at)),
                RecordCell(_when(offer.made_at)),
                RecordCell(_days_since(offer.queued_at, offer.made_at)),
            ]
            for offer in page
        ]
        return headers, rows
    raise Http404("No such figure.")


def _officers(page) -> dict[int, str]:
    from admissions.models import Offer

    return watchdog.officers_of_failed_checks(Offer.objects.filter(pk__in=[offer.pk for offer in page]))


@staff_page(Role.REVIEWER)
def watchdog_records(request, kind: str):
    if kind not in watchdog.RECORD_KINDS:
        raise Http404("No such figure.")
    form = watchdog_filter(request)
    if not form.is_valid():
        return render(
            request,
            "staff/reports/watchdog_records.html",
            {"filter": form, "title": figure_labels()[kind], "kind": kind},
            status=400,
        )
    now = timezone.now()
    records = watchdog.records(kind, form.facilities(), form.period, now=now)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    headers, rows = record_rows(kind, page, now=now)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "staff/reports/watchdog_records.html",
        {
            "filter": form,
            "kind": kind,
            "title": figure_labels()[kind],
            "as_of_today": kind in watchdog.AS_OF_TODAY,
            "period": form.period,
            "headers": headers,
            "rows": rows,
            "page": page,
            "query": params.urlencode(),
            "back": reverse("staff:watchdog") + _query(form.period, form.cleaned_data.get("facility") or ""),
        },
    )


urlpatterns = [
    path("reports/watchdog/", watchdog_page, name="watchdog"),
    path("reports/watchdog/download/<str:fmt>/", watchdog_download, name="watchdog_download"),
    path("reports/watchdog/records/<str:kind>/", watchdog_records, name="watchdog_records"),
]
