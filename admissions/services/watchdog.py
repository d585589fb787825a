"""The monthly watchdog report (R-WATCH-1): on the 1st of each month the administrators are
emailed the last full month's figures, with the address of the page that lists the records behind
them (the report code has no store of its own, and the emails already go to administrators).

Idempotent: an audit entry records each month's sending, and a month already sent is not sent
again, however often the task runs.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from admissions import watchdog
from facilities.models import AuditEntry, Facility

from .notifications import administrators_email

SENT_ACTION = "watchdog_report_sent"
HOMES_LISTED = 20
ALERTS = ("long_vacant", "long_out_of_service", "failed_checks", "out_of_order", "overdue_admissions")


def _body(report: watchdog.WatchdogReport) -> str:
    labels = watchdog.figure_labels()
    period = report.period
    query = f"?from={period.start.isoformat()}&to={period.end.isoformat()}"
    lines = [
        _("The watchdog report for %(start)s to %(end)s.")
        % {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "",
        _("The city:"),
    ]
    lines += [f"- {labels[f]}: {report.city.count(f)}" for f in watchdog.FIGURES]
    first = report.city.first_offer
    if first.count:
        lines.append(
            "- "
            + _("Days from approval to the first offer: median %(median).1f, 90th percentile %(p90).1f (%(count)s)")
            % {"median": first.median_days, "p90": first.p90_days, "count": first.count}
        )
    flagged = sorted(
        (row for row in report.rows if any(row.count(f) for f in ALERTS)),
        key=lambda row: (-sum(row.count(f) for f in ALERTS), row.facility.code),
    )
    if flagged:
        lines += ["", _("Homes with alerts:")]
        for row in flagged[:HOMES_LISTED]:
            parts = ", ".join(f"{labels[f]} {row.count(f)}" for f in ALERTS if row.count(f))
            lines.append(f"- {row.facility.code} {row.facility.name}: {parts}")
        if len(flagged) > HOMES_LISTED:
            lines.append(_("…and %(n)s more homes.") % {"n": len(flagged) - HOMES_LISTED})
    lines += [
        "",
        watchdog.not_recorded_note(),
        "",
        _("Every figure and the records behind it: %(path)s") % {"path": reverse("staff:watchdog") + query},
    ]
    return "\n".join(lines)


def watchdog_monthly_send(*, today: dt.date | None = None) -> int:
    """Email the last full month's report to the administrators, once; returns the emails sent."""
    period = watchdog.month_before(today or timezone.localdate())
    key = f"{period.start:%Y-%m}"
    with transaction.atomic():
        if AuditEntry.objects.filter(action=SENT_ACTION, object_key=key).exists():
            return 0
        report = watchdog.watchdog_report(Facility.objects.order_by("code"), period)
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("Watchdog report for %(month)s") % {"month": key}
            body = _body(report)
        sent = administrators_email(subject=subject, body=body)
        AuditEntry.objects.create(
            actor_name="system",
            action=SENT_ACTION,
            object_type="WatchdogReport",
            object_key=key,
            changes={"emails": sent, "city": {f: report.city.count(f) for f in watchdog.FIGURES}},
        )
    return sent
