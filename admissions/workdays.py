"""Working days and response deadlines (R-OFF-1, R-OFF-2).

A working day is Monday to Friday unless the calendar (CalendarDay) says otherwise: a `holiday` row
makes a weekday a day off, a `workday` row makes a weekend day an adjusted working day (调休). The
calendar is data kept by an administrator; CalendarYear lists the years entered in full. Past the
last covered year the calendar has no rows, so deadlines count weekends only: we log that once per
process per year and `calendar_warning` tells administrators before it happens.

Reads only; changing the calendar is `admissions.services.calendar`.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from admissions.models import CalendarDay, CalendarYear, DayKind

logger = logging.getLogger(__name__)

# Warn administrators this many days before the last covered year ends.
WARNING_DAYS_BEFORE_YEAR_END = 60

# Years already reported as uncovered by this process, so a busy allocation run logs once, not per offer.
_warned_years: set[int] = set()


def _is_weekday(day: dt.date) -> bool:
    return day.weekday() < 5


def is_working_day(day: dt.date) -> bool:
    """R-OFF-2: a CalendarDay row decides (holiday → off, workday → on); otherwise Monday–Friday are on."""
    kind = CalendarDay.objects.filter(date=day).values_list("kind", flat=True).first()
    if kind is not None:
        return kind == DayKind.WORKDAY
    return _is_weekday(day)


def covered_years() -> list[int]:
    """The years whose holidays and adjusted working days have been entered in full (R-OFF-2), ascending."""
    return list(CalendarYear.objects.order_by("year").values_list("year", flat=True))


def last_covered_year() -> int | None:
    """The latest covered year, or None when no year has been entered (R-OFF-2)."""
    return CalendarYear.objects.order_by("-year").values_list("year", flat=True).first()


def _warn_uncovered(year: int, last: int | None) -> None:
    if year in _warned_years:
        return
    _warned_years.add(year)
    logger.warning(
        "Working-day calendar does not cover %s (last covered year: %s): deadlines in %s count weekends only "
        "(R-OFF-2). An administrator should enter that year's holidays and adjusted working days.",
        year,
        last if last is not None else "none",
        year,
    )


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start` (R-OFF-1, R-OFF-2); `start` itself never counts, n ≥ 1.

    Reads the calendar rows for a window that covers a week-long holiday in one query, and reads the
    next window only in the rare case that the first did not reach far enough.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    covered = set(covered_years())
    last = max(covered) if covered else None

    # Two calendar days per working day, plus a fortnight for Spring Festival or National Day.
    window = dt.timedelta(days=2 * n + 14)
    day = start
    counted = 0
    while True:
        window_start, window_end = day + dt.timedelta(days=1), day + window
        kinds = dict(CalendarDay.objects.filter(date__range=(window_start, window_end)).values_list("date", "kind"))
        while day < window_end:
            day += dt.timedelta(days=1)
            if day.year not in covered and (last is None or day.year > last):
                _warn_uncovered(day.year, last)
            kind = kinds.get(day)
            working = kind == DayKind.WORKDAY if kind is not None else _is_weekday(day)
            if working:
                counted += 1
                if counted == n:
                    return day


def end_of_working_day(day: dt.date) -> dt.datetime:
    """The end of `day`, 23:59:59 local time (settings.TIME_ZONE), timezone-aware (R-OFF-1)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=ZoneInfo(settings.TIME_ZONE))


def deadline_after(moment: dt.datetime, working_days: int) -> dt.datetime:
    """R-OFF-1: the end of the `working_days`-th working day after the local date of `moment`.

    `moment` must be timezone-aware; its date is taken in settings.TIME_ZONE, so an offer made at
    01:00 Beijing time counts from that Beijing date whatever the server's clock says.
    """
    local_date = timezone.localtime(moment, ZoneInfo(settings.TIME_ZONE)).date()
    return end_of_working_day(add_working_days(local_date, working_days))


def calendar_warning(today: dt.date | None = None) -> str | None:
    """A message for administrators when a deadline computed today could fall past the calendar (R-OFF-2).

    Warns when the current year is not covered, or when it is the last covered year and fewer than
    WARNING_DAYS_BEFORE_YEAR_END days remain; None otherwise.
    """
    today = today or timezone.localdate()
    covered = covered_years()
    last = max(covered) if covered else None
    if today.year in covered:
        if today.year != last:
            return None
        days_left = (dt.date(today.year, 12, 31) - today).days
        if days_left > WARNING_DAYS_BEFORE_YEAR_END:
            return None
        coming = today.year + 1
    else:
        coming = today.year
    if last is None:
        covered_text = gettext("The working-day calendar covers no year yet.")
    else:
        covered_text = gettext("The working-day calendar is filled in up to %(last)s.") % {"last": last}
    return " ".join(
        [
            covered_text,
            gettext(
                "Deadlines that fall in a year not yet entered count weekends only, not public holidays. "
                "An administrator should enter the holidays and adjusted working days of %(year)s."
            )
            % {"year": coming},
        ]
    )
