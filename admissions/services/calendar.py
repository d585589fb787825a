"""Keeping the working-day calendar (R-OFF-2): an administrator's audited acts.

Each act runs in one transaction, writes one AuditEntry with the row before and after, and raises
InvalidInput (changing nothing) for bad input. Reads live in `admissions.workdays`.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext

from admissions.models import CalendarDay, CalendarYear, DayKind
from core.errors import InvalidInput, NotFound
from facilities.models import AuditEntry

NAME_MAX_LENGTH = CalendarDay._meta.get_field("name").max_length
SOURCE_MAX_LENGTH = CalendarYear._meta.get_field("source").max_length
# A sanity range, not a rule: a typo such as 226 or 20267 is refused.
YEAR_RANGE = range(2000, 2101)


def _day_state(day: CalendarDay | None) -> dict | None:
    return None if day is None else {"kind": day.kind, "name": day.name}


def _audit(
    *,
    actor_user: AbstractBaseUser | None,
    actor_name: str,
    action: str,
    object_type: str,
    key: str,
    before: dict | None,
    after: dict | None,
) -> None:
    AuditEntry.objects.create(
        user=actor_user,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_key=key,
        changes={"before": before, "after": after},
    )


# The calendar is for deadlines: a year far outside any offer's life is a typing error.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _date_errors(date) -> dict[str, list[str]]:
    # A datetime is a date too, but would store a time nobody meant.
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        return {"date": [gettext("Enter a date (YYYY-MM-DD).")]}
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        return {
            "date": [
                gettext("The calendar covers the years %(first)s to %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR}
            ]
        }
    return {}


def calendar_day_set(
    *,
    date: dt.date,
    kind: str,
    name: str = "",
    actor_user: AbstractBaseUser | None = None,
    actor_name: str,
) -> CalendarDay:
    """Make `date` a public holiday or an adjusted working day (R-OFF-2), creating or changing its row.

    Deadlines computed afterwards follow the new calendar; offers already made keep theirs.
    """
    errors = _date_errors(date)
    if kind not in DayKind.values:
        errors["kind"] = [
            gettext("Choose one of %(values)s, not %(kind)s.")
            % {"values": ", ".join(DayKind.values), "kind": repr(str(kind)[:20])}
        ]
    name = (name or "").strip()
    if len(name) > NAME_MAX_LENGTH:
        errors["name"] = [gettext("At most %(max)s characters.") % {"max": NAME_MAX_LENGTH}]
    if errors:
        raise InvalidInput(gettext("The calendar day was not saved."), errors=errors, rule="R-OFF-2")

    with transaction.atomic():
        existing = CalendarDay.objects.select_for_update().filter(date=date).first()
        before = _day_state(existing)
        day, _ = CalendarDay.objects.update_or_create(date=date, defaults={"kind": kind, "name": name})
        _audit(
            actor_user=actor_user,
            actor_name=actor_name,
            action="calendar_day_set",
            object_type="CalendarDay",
            key=str(date),
            before=before,
            after=_day_state(day),
        )
    return day


def calendar_day_delete(
    *,
    date: dt.date,
    actor_user: AbstractBaseUser | None = None,
    actor_name: str,
) -> None:
    """Remove `date` from the calendar, so the Monday–Friday rule decides it again (R-OFF-2)."""
    if errors := _date_errors(date):
        raise InvalidInput(gettext("The calendar day was not deleted."), errors=errors)
    with transaction.atomic():
        existing = CalendarDay.objects.select_for_update().filter(date=date).first()
        if existing is None:
            message = gettext("%(date)s is not in the calendar.") % {"date": date.isoformat()}
            raise NotFound(message, errors={"date": [message]})
        before = _day_state(existing)
        existing.delete()
        _audit(
            actor_user=actor_user,
            actor_name=actor_name,
            action="calendar_day_delete",
            object_type="CalendarDay",
            key=str(date),
            before=before,
            after=None,
        )


def calendar_year_mark_covered(
    *,
    year: int,
    source: str,
    actor_user: AbstractBaseUser | None = None,
    actor_name: str,
) -> CalendarYear:
    """Record that `year`'s holidays and adjusted working days are entered in full (R-OFF-2).

    `source` says where they came from (for example the State Council notice), shown in the admin.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(year, int) or isinstance(year, bool) or year not in YEAR_RANGE:
        errors["year"] = [
            gettext("Enter a year from %(first)s to %(last)s.")
            % {"first": YEAR_RANGE.start, "last": YEAR_RANGE.stop - 1}
        ]
    source = (source or "").strip()
    if not source:
        errors["source"] = [gettext("Say where the year's calendar comes from.")]
    elif len(source) > SOURCE_MAX_LENGTH:
        errors["source"] = [gettext("At most %(max)s characters.") % {"max": SOURCE_MAX_LENGTH}]
    if errors:
        raise InvalidInput(gettext("The year was not marked as covered."), errors=errors)

    with transaction.atomic():
        existing = CalendarYear.objects.select_for_update().filter(year=year).first()
        before = None if existing is None else {"source": existing.source}
        covered, _ = CalendarYear.objects.update_or_create(year=year, defaults={"source": source})
        _audit(
            actor_user=actor_user,
            actor_name=actor_name,
            action="calendar_year_mark_covered",
            object_type="CalendarYear",
            key=str(year),
            before=before,
            after={"source": covered.source},
        )
    return covered
