"""The working-day calendar and response deadlines (R-OFF-1, R-OFF-2).

These tests run against the calendar seeded by migration 0003 from the `holidays` package. For 2026
it holds the State Council schedule: National Day 1–7 October off, with Sunday 20 September and
Saturday 10 October worked in exchange.
"""

import datetime as dt
import logging
from importlib import import_module
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps

from admissions import workdays
from admissions.models import CalendarDay, CalendarYear, DayKind
from admissions.services.calendar import calendar_day_delete, calendar_day_set, calendar_year_mark_covered
from admissions.workdays import (
    add_working_days,
    calendar_warning,
    covered_years,
    deadline_after,
    end_of_working_day,
    is_working_day,
    last_covered_year,
)
from core.errors import InvalidInput
from facilities.models import AuditEntry

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_warning_memory(monkeypatch):
    # The "once per process per year" memory must not leak between tests.
    monkeypatch.setattr(workdays, "_warned_years", set())


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# --- R-OFF-2: which days are working days ---------------------------------------------------------


def test_saturday_and_sunday_are_not_working_days_r_off_2():
    assert not is_working_day(dt.date(2026, 11, 7))  # Saturday
    assert not is_working_day(dt.date(2026, 11, 8))  # Sunday
    assert is_working_day(dt.date(2026, 11, 9))  # Monday


def test_a_seeded_public_holiday_on_a_weekday_is_not_a_working_day_r_off_2():
    assert dt.date(2026, 10, 1).weekday() == 3  # a Thursday
    assert not is_working_day(dt.date(2026, 10, 1))  # National Day
    assert not is_working_day(dt.date(2026, 10, 7))  # day off in exchange for Saturday 10 October


def test_an_adjusted_saturday_is_a_working_day_r_off_2():
    assert dt.date(2026, 10, 10).weekday() == 5  # a Saturday
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 10)).kind == DayKind.WORKDAY
    assert is_working_day(dt.date(2026, 10, 10))


def test_the_start_day_never_counts_r_off_1():
    assert add_working_days(dt.date(2026, 11, 9), 1) == dt.date(2026, 11, 10)


def test_fewer_than_one_working_day_is_refused():
    with pytest.raises(ValueError):
        add_working_days(dt.date(2026, 11, 9), 0)


def test_counting_working_days_reads_the_calendar_in_a_few_queries_not_one_per_day(django_assert_max_num_queries):
    # One query for the covered years, one for the calendar rows of the window.
    with django_assert_max_num_queries(2):
        assert add_working_days(dt.date(2026, 9, 30), 5) == dt.date(2026, 10, 13)
    # A long count needs at most one more window.
    with django_assert_max_num_queries(3):
        add_working_days(dt.date(2026, 1, 5), 60)


# --- R-OFF-1: response deadlines --------------------------------------------------------------------


def test_a_deadline_ends_at_23_59_59_beijing_time_r_off_1():
    end = end_of_working_day(dt.date(2026, 11, 9))
    assert end == at("2026-11-09T23:59:59")
    assert end.utcoffset() == dt.timedelta(hours=8)


def test_an_offer_made_on_30_september_2026_skips_national_day_r_off_1_story_4():
    # Counted by hand against the seeded 2026 calendar: 1–7 October are off (1–3 and 5 National Day,
    # 4 a Sunday, 6 and 7 days off in exchange), then 8 Thu (1), 9 Fri (2), Saturday 10 is an adjusted
    # working day (3), 11 is a Sunday, 12 Mon (4), 13 Tue (5).
    deadline = deadline_after(at("2026-09-30T17:00"), 5)
    assert deadline == dt.datetime(2026, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert deadline.isoformat() == "2026-10-13T23:59:59+08:00"


def test_an_offer_made_on_a_friday_counts_from_the_next_monday_r_off_1():
    # Friday 6 November 2026 → Mon 9 … Fri 13 November.
    assert deadline_after(at("2026-11-06T16:30"), 5) == at("2026-11-13T23:59:59")


def test_a_deadline_counts_from_the_beijing_date_not_the_utc_date_r_off_1():
    # 17:00 UTC on Thursday 5 November is 01:00 on Friday 6 November in Beijing.
    made = dt.datetime(2026, 11, 5, 17, 0, tzinfo=dt.UTC)
    assert deadline_after(made, 5) == at("2026-11-13T23:59:59")


def test_past_the_last_covered_year_deadlines_count_weekends_only_and_a_warning_is_logged_r_off_2(caplog):
    assert 2029 not in covered_years()
    caplog.set_level(logging.WARNING, logger="admissions.workdays")
    # Friday 28 September 2029: National Day is not entered, so 1–5 October count as working days.
    assert deadline_after(at("2029-09-28T10:00"), 5) == at("2029-10-05T23:59:59")
    deadline_after(at("2029-10-08T10:00"), 5)  # the same year again: no second warning

    warnings = [r for r in caplog.records if r.name == "admissions.workdays" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2029" in warnings[0].getMessage()
    assert "weekends only" in warnings[0].getMessage()


def test_a_deadline_inside_the_covered_years_logs_no_warning(caplog):
    caplog.set_level(logging.WARNING, logger="admissions.workdays")
    deadline_after(at("2026-09-30T17:00"), 5)
    assert not [r for r in caplog.records if r.name == "admissions.workdays"]


# --- calendar_warning: telling administrators in time -----------------------------------------------


def test_calendar_warning_is_absent_while_next_year_is_covered_r_off_2():
    assert last_covered_year() == 2027
    assert calendar_warning(dt.date(2026, 11, 15)) is None
    assert calendar_warning(dt.date(2027, 10, 1)) is None  # 91 days before the end of 2027


def test_calendar_warning_appears_in_the_last_60_days_of_the_last_covered_year_r_off_2():
    message = calendar_warning(dt.date(2027, 11, 15))
    assert message is not None
    assert "weekends only" in message
    assert "2028" in message


def test_calendar_warning_appears_when_the_current_year_is_not_covered_r_off_2():
    message = calendar_warning(dt.date(2029, 3, 1))
    assert message is not None
    assert "weekends only" in message
    assert "2029" in message


def test_marking_the_coming_year_covered_removes_the_warning_and_is_audited_r_off_2():
    calendar_year_mark_covered(year=2028, source="State Council notice 2027-11", actor_name="admin")

    assert calendar_warning(dt.date(2027, 11, 15)) is None
    entry = AuditEntry.objects.get(action="calendar_year_mark_covered")
    assert (entry.object_type, entry.object_key) == ("CalendarYear", "2028")
    assert entry.changes == {"before": None, "after": {"source": "State Council notice 2027-11"}}


# --- Keeping the calendar: audited services ----------------------------------------------------------


def test_setting_a_holiday_moves_a_deadline_and_writes_an_audit_entry_r_off_1_r_off_2(django_user_model):
    admin = django_user_model.objects.create_user(username="admin")
    made = at("2026-11-13T09:00")  # a Friday
    assert deadline_after(made, 5) == at("2026-11-20T23:59:59")

    calendar_day_set(
        date=dt.date(2026, 11, 16), kind=DayKind.HOLIDAY, name="Typhoon closure", actor_user=admin, actor_name="admin"
    )

    assert deadline_after(made, 5) == at("2026-11-23T23:59:59")
    entry = AuditEntry.objects.get(action="calendar_day_set")
    assert entry.user == admin
    assert (entry.actor_name, entry.object_type, entry.object_key) == ("admin", "CalendarDay", "2026-11-16")
    assert entry.changes == {"before": None, "after": {"kind": "holiday", "name": "Typhoon closure"}}


def test_changing_an_existing_day_records_it_before_and_after_r_off_2():
    calendar_day_set(date=dt.date(2026, 10, 10), kind="holiday", name="Cancelled", actor_name="admin")

    assert not is_working_day(dt.date(2026, 10, 10))
    changes = AuditEntry.objects.get(action="calendar_day_set").changes
    assert changes["before"]["kind"] == "workday"
    assert changes["after"] == {"kind": "holiday", "name": "Cancelled"}


def test_an_invalid_kind_is_refused_and_nothing_changes_r_off_2():
    with pytest.raises(InvalidInput) as refused:
        calendar_day_set(date=dt.date(2026, 10, 10), kind="vacation", name="x", actor_name="admin")

    assert "kind" in refused.value.errors
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 10)).kind == DayKind.WORKDAY
    assert not AuditEntry.objects.exists()


def test_deleting_a_day_restores_the_weekday_rule_and_is_audited_r_off_2():
    calendar_day_delete(date=dt.date(2026, 10, 10), actor_name="admin")

    assert not is_working_day(dt.date(2026, 10, 10))  # an ordinary Saturday again
    entry = AuditEntry.objects.get(action="calendar_day_delete")
    assert entry.object_key == "2026-10-10"
    assert entry.changes["before"]["kind"] == "workday"
    assert entry.changes["after"] is None


# --- The shipped calendar (migration 0003) -------------------------------------------------------------


def test_the_migration_seeded_2026_and_2027_from_the_holidays_package_r_off_2():
    assert {2026, 2027} <= set(covered_years())
    for year in (2026, 2027):
        assert "holidays" in CalendarYear.objects.get(year=year).source
        assert CalendarDay.objects.filter(date__year=year, kind=DayKind.HOLIDAY).count() >= 7
    assert "as published in holidays" in CalendarYear.objects.get(year=2027).source
    assert CalendarDay.objects.get(date=dt.date(2027, 10, 1)).name == "National Day"
    # Adjusted working days of 2026 (the package lists other years' too; only 2026's are seeded for 2026).
    assert set(CalendarDay.objects.filter(date__year=2026, kind=DayKind.WORKDAY).values_list("date", flat=True)) == {
        dt.date(2026, 1, 4),
        dt.date(2026, 2, 14),
        dt.date(2026, 2, 28),
        dt.date(2026, 5, 9),
        dt.date(2026, 9, 20),
        dt.date(2026, 10, 10),
    }


def test_running_the_seed_again_changes_nothing_r_off_2():
    seed = import_module("admissions.migrations.0003_seed_calendar").seed
    before = sorted(CalendarDay.objects.values_list("date", "kind", "name"))

    seed(apps, schema_editor=None)

    assert sorted(CalendarDay.objects.values_list("date", "kind", "name")) == before
    assert CalendarYear.objects.filter(year__in=[2026, 2027]).count() == 2
