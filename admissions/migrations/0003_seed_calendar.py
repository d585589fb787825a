"""Ship the working-day calendar filled for 2026 and 2027 (R-OFF-2), from the `holidays` package.

`holidays.China(years=year)` gives the days off, including the weekdays taken off in exchange for an
adjusted working day; `.weekend_workdays` gives those adjusted working days (调休) for every year it
knows, so we keep only the ones in the year. The package holds the State Council's schedule only once
it has been published and released; for a year it does not yet have, it gives the statutory holidays
alone, and the CalendarYear source says so ("as published in holidays <version>"). Administrators
correct or complete the calendar in the admin; each change there is audited.

Safe to re-run (update_or_create). Reversing deletes only the rows of those years that this seed
would have written, and the CalendarYear rows of those years whose source names the package.
"""

from django.db import migrations

YEARS = (2026, 2027)
# The years whose official schedule was released when this migration was written.
OFFICIAL_AT_WRITING = {2026}
SOURCE_MARK = "holidays "


def _year_calendar(year):
    """{date: (kind, name)} for `year`, and the package version."""
    import holidays

    days_off = holidays.China(years=year, language="en_US")
    calendar = {day: ("holiday", str(name)[:120]) for day, name in days_off.items() if day.year == year}
    for day in sorted(days_off.weekend_workdays):
        if day.year != year:
            continue
        # The day off it pays for is named "Day off (substituted from MM/DD/YYYY)".
        paid_for = [off for off, name in days_off.items() if day.strftime("%m/%d/%Y") in str(name)]
        name = f"Working day (for day off on {paid_for[0].isoformat()})" if paid_for else "Adjusted working day"
        calendar[day] = ("workday", name)
    return calendar, holidays.__version__


def _source(year, version, calendar):
    workdays = sum(1 for kind, _ in calendar.values() if kind == "workday")
    if year in OFFICIAL_AT_WRITING:
        return f"{SOURCE_MARK}{version} (State Council schedule, {workdays} adjusted working days)"
    if workdays == 0:
        return (
            f"as published in {SOURCE_MARK}{version}: statutory holidays only, no adjusted working days yet; "
            "check against the State Council notice"
        )
    return f"as published in {SOURCE_MARK}{version} ({workdays} adjusted working days)"


def seed(apps, schema_editor):
    CalendarDay = apps.get_model("admissions", "CalendarDay")
    CalendarYear = apps.get_model("admissions", "CalendarYear")
    for year in YEARS:
        calendar, version = _year_calendar(year)
        for day, (kind, name) in calendar.items():
            CalendarDay.objects.update_or_create(date=day, defaults={"kind": kind, "name": name})
        CalendarYear.objects.update_or_create(year=year, defaults={"source": _source(year, version, calendar)})


def unseed(apps, schema_editor):
    CalendarDay = apps.get_model("admissions", "CalendarDay")
    CalendarYear = apps.get_model("admissions", "CalendarYear")
    for year in YEARS:
        calendar, _ = _year_calendar(year)
        CalendarDay.objects.filter(date__in=list(calendar)).delete()
        CalendarYear.objects.filter(year=year, source__contains=SOURCE_MARK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("admissions", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
