"""The watchdog report for the bureau (R-WATCH-1, SPEC §14; STORIES.md story 12): its figures per
home and for the city, the SPEC §9 thresholds (vacancy_alert_days 14, out_of_service_alert_days 30),
the median and 90th percentile of the days to a first offer, the page with its charts, the records
behind each figure, the CSV/XLSX downloads, who may see it, both languages, and the monthly email."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from admissions import watchdog
from admissions.models import Offer, Reconfirmation
from admissions.policy import PolicyError, PolicyParameters
from admissions.services.allocation import allocation_run
from admissions.services.applications import application_suspend
from admissions.services.beds import bed_return_to_service, bed_take_out_of_service
from admissions.services.offers import offer_accept, offer_admit, offer_fail_check
from admissions.services.review_requests import review_request_create
from admissions.services.watchdog import watchdog_monthly_send
from facilities.models import Bed, Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, actor, add_beds, queued_application
from tests.spec import OUT_OF_SERVICE_ALERT_DAYS, VACANCY_ALERT_DAYS

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
NOVEMBER = watchdog.Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
QUERY = "?from=2026-11-01&to=2026-11-30"


def staff(role: str, *, facility: Facility | None = None, username: str | None = None) -> User:
    user = UserFactory(username=username or f"{role}-watchdog")
    roles_assign(user=user, roles=[role], facility=facility)
    return user


@pytest.fixture
def reviewer_client(client):
    client.force_login(staff("reviewer"))
    return client


def report(now: dt.datetime = NOW, period: watchdog.Period = NOVEMBER) -> watchdog.WatchdogReport:
    return watchdog.watchdog_report(Facility.objects.order_by("code"), period, now=now)


def row_of(result: watchdog.WatchdogReport, code: str) -> watchdog.Row:
    return next(row for row in result.rows if row.facility.code == code)


def since(bed: Bed, moment: dt.datetime) -> None:
    Bed.objects.filter(pk=bed.pk).update(status_since=moment)


def offered(home: Facility, *, at: dt.datetime = NOW, grade: int = 3, **kwargs) -> Offer:
    """An application queued a day before `at`, offered a new vacant nursing bed of `home` at `at`."""
    with time_machine.travel(at - dt.timedelta(days=1), tick=False):
        application = queued_application(grade=grade, choices=[home.code], **kwargs)
    with time_machine.travel(at, tick=False):
        add_beds(home, nursing=1, status="vacant")
        allocation_run(facility=home, trigger="bed_added")
    return Offer.objects.get(application=application, state="pending")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- SPEC §9 defaults ---------------------------------------------------------------------------------
def test_the_policy_alerts_on_beds_vacant_over_14_days_and_out_of_service_over_30():
    params = PolicyParameters()
    assert (params.vacancy_alert_days, params.out_of_service_alert_days) == (
        VACANCY_ALERT_DAYS,
        OUT_OF_SERVICE_ALERT_DAYS,
    )
    with pytest.raises(PolicyError) as refused:
        PolicyParameters.from_json({"vacancy_alert_days": 0, "out_of_service_alert_days": "x"})
    assert set(refused.value.errors) == {"vacancy_alert_days", "out_of_service_alert_days"}


# --- beds vacant too long while the queue has candidates ----------------------------------------------
def test_a_bed_vacant_longer_than_14_days_with_a_candidate_waiting_is_named():
    home = FacilityFactory(code="YX01")
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        queued_application(grade=3, choices=["YX01"])  # no bed yet: waiting
    over, under = add_beds(home, nursing=2, status="vacant")
    since(over, NOW - dt.timedelta(days=VACANCY_ALERT_DAYS, minutes=1))
    since(under, NOW - dt.timedelta(days=VACANCY_ALERT_DAYS) + dt.timedelta(minutes=1))

    result = report()
    assert row_of(result, "YX01").count("long_vacant") == 1
    assert result.city.count("long_vacant") == 1
    assert list(watchdog.records("long_vacant", Facility.objects.all(), NOVEMBER, now=NOW)) == [over]


def test_a_long_vacancy_nobody_in_the_queue_could_take_is_not_named():
    """R-NQ-2: a general bed is for self-care applicants; a suspended applicant is no candidate."""
    home = FacilityFactory(code="YX01")
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        queued_application(grade=3, choices=["YX01"])  # nursing care
        self_care = queued_application(grade=1, choices=["YX01"])
        application_suspend(application=self_care, reason="in hospital", actor=actor("intake"))
    (general,) = add_beds(home, general=1, status="vacant")
    since(general, NOW - dt.timedelta(days=20))
    assert report().city.count("long_vacant") == 0

    with time_machine.travel(NOW - dt.timedelta(days=25), tick=False):
        queued_application(grade=1, choices=["YX01"])  # a self-care applicant waiting
    assert report().city.count("long_vacant") == 1


def test_a_bed_out_of_service_longer_than_30_days_is_named():
    home = FacilityFactory(code="YX01")
    over, under = add_beds(home, nursing=2, status="out_of_service")
    since(over, NOW - dt.timedelta(days=OUT_OF_SERVICE_ALERT_DAYS, minutes=1))
    since(under, NOW - dt.timedelta(days=OUT_OF_SERVICE_ALERT_DAYS) + dt.timedelta(minutes=1))
    assert row_of(report(), "YX01").count("long_out_of_service") == 1
    assert list(watchdog.records("long_out_of_service", Facility.objects.all(), NOVEMBER, now=NOW)) == [over]


def test_a_bed_records_when_its_status_last_changed():
    home = FacilityFactory(code="YX01")
    (bed,) = add_beds(home, nursing=1, status="vacant")
    taken_out, back = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=3)
    with time_machine.travel(taken_out, tick=False):
        bed_take_out_of_service(bed=bed, reason="repairs", actor=actor("facility"))
    bed.refresh_from_db()
    assert bed.status_since == taken_out
    with time_machine.travel(back, tick=False):
        bed_return_to_service(bed=bed, actor=actor("facility"))  # nobody waiting: stays vacant
    bed.refresh_from_db()
    assert (bed.status, bed.status_since) == ("vacant", back)


# --- time from approval to first offer: median and 90th percentile ---------------------------------------
def test_the_median_and_90th_percentile_interpolate_between_the_closest_values():
    assert watchdog.percentile(list(range(1, 11)), 0.5) == 5.5
    assert watchdog.percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert watchdog.percentile([7.0], 0.9) == 7.0
    assert watchdog.percentile([], 0.5) is None


def test_days_from_approval_to_first_offer_by_channel_and_care_level():
    home = FacilityFactory(code="YX01")
    for days in (2, 4, 6, 8, 100):
        with time_machine.travel(NOW - dt.timedelta(days=days), tick=False):
            queued_application(grade=3, choices=["YX01"])
    with time_machine.travel(NOW, tick=False):
        add_beds(home, nursing=5, status="vacant")
        allocation_run(facility=home, trigger="bed_added")

    result = report()
    spread = result.city.first_offer
    assert (spread.count, spread.median_days) == (5, 6.0)
    assert spread.p90_days == pytest.approx(63.2)  # 8 + 0.6 × (100 − 8)
    assert row_of(result, "YX01").first_offer == spread
    groups = {(g.channel, g.care_level): g.spread for g in result.first_offers}
    assert groups[("ordinary", "nursing")] == spread
    assert groups[("special", "nursing")].count == 0 and groups[("special", "nursing")].median_days is None


# --- failed admission checks, out-of-order admissions, manual allocations, overdue admissions ---------
def test_failed_admission_checks_are_counted_by_reason_and_by_the_officer_who_recorded_them():
    home = FacilityFactory(code="YX01")
    officer = actor("officer-wang")
    for reason in ("no_show", "no_show", "other"):
        offer = offered(home)
        with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
            offer_accept(offer=offer, actor=officer)
            offer_fail_check(offer=offer, reason=reason, actor=officer)
    result = report()
    assert row_of(result, "YX01").count("failed_checks") == 3
    assert result.failed_checks == [("no_show", "officer-wang", 2), ("other", "officer-wang", 1)]
    assert result.city.failed_by_reason == {"no_show": 2, "other": 1}
    october = watchdog.Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert report(period=october).city.count("failed_checks") == 0


def test_an_admission_of_someone_not_first_in_the_order_is_named_with_the_skip_reasons():
    home = FacilityFactory(code="YX01")
    with time_machine.travel(NOW - dt.timedelta(days=10), tick=False):
        first = queued_application(grade=4, choices=["YX01"])  # the highest score: rank 1
        application_suspend(application=first, reason="in hospital", actor=actor("intake"))
    offer = offered(home, grade=2)
    with time_machine.travel(NOW, tick=False):
        offer_accept(offer=offer, actor=actor("facility"))
        offer_admit(offer=offer, actor=actor("facility"))
    other = FacilityFactory(code="HZ01")
    in_order = offered(other, at=NOW + dt.timedelta(days=1), grade=2)  # rank 1 at its home
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        offer_accept(offer=in_order, actor=actor("facility"))
        offer_admit(offer=in_order, actor=actor("facility"))

    result = report(now=NOW + dt.timedelta(days=2))
    assert row_of(result, "YX01").count("out_of_order") == 1
    assert row_of(result, "HZ01").count("out_of_order") == 0
    assert result.city.skip_reasons == {"suspended": 1}
    (admission,) = watchdog.records("out_of_order", Facility.objects.all(), NOVEMBER)
    assert admission.application == offer.application


def test_allocate_now_is_counted_apart_from_automatic_allocations():
    home = FacilityFactory(code="YX01")
    first, second, third = add_beds(home, nursing=3, status="vacant")
    with time_machine.travel(NOW, tick=False):
        allocation_run(facility=home, bed=first, trigger="staff_request")
        allocation_run(facility=home, bed=second, trigger="bed_added")
        allocation_run(facility=home, bed=third, trigger="bed_returned_to_service")
    row = row_of(report(), "YX01")
    assert (row.count("manual_allocations"), row.count("automatic_allocations")) == (1, 2)


def test_an_accepted_offer_past_its_admission_deadline_is_overdue():
    """R-OFF-7: admit_by passed without an admission."""
    home = FacilityFactory(code="YX01")
    offer = offered(home)
    with time_machine.travel(NOW, tick=False):
        offer = offer_accept(offer=offer, actor=actor("facility"))
    assert report(now=offer.admit_by - dt.timedelta(minutes=1)).city.count("overdue_admissions") == 0
    assert report(now=offer.admit_by + dt.timedelta(minutes=1)).city.count("overdue_admissions") == 1


def test_unconfirmed_entries_are_counted_per_home_and_listed(reviewer_client, settings):
    """R-WATCH-1, R-CHG-3: open entries whose family was asked and has not answered, or whose
    application was suspended `not_reconfirmed`, per home and for the city, with the records."""
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-01-01"
    FacilityFactory(code="YX01")
    FacilityFactory(code="HZ01")
    asked_at = NOW - dt.timedelta(days=3)
    with time_machine.travel(asked_at - dt.timedelta(days=365), tick=False):
        asked = queued_application(choices=["YX01", "HZ01"])
        queued_application(choices=["YX01"], name="王芳", date_of_birth=dt.date(1938, 1, 1))
    Reconfirmation.objects.create(application=asked, due_at=asked_at, asked_at=asked_at, respond_by=NOW)
    result = report()
    assert row_of(result, "YX01").count("unconfirmed") == 1 and row_of(result, "HZ01").count("unconfirmed") == 1
    assert result.city.count("unconfirmed") == 2  # entries: one per home chosen
    assert [e.application for e in watchdog.records("unconfirmed", Facility.objects.filter(code="YX01"), NOVEMBER)] == [
        asked
    ]
    records = reviewer_client.get(reverse("staff:watchdog_records", args=["unconfirmed"]) + QUERY)
    assert records.status_code == 200 and asked.reference in records.content.decode()


def test_every_figure_is_recorded_now_that_re_confirmation_and_re_review_are():
    """R-WATCH-1: no figure is left at 0 for want of a data model (R-CHG-3, R-ASM-6 both recorded)."""
    assert watchdog.NOT_RECORDED == frozenset()


def test_re_reviews_past_their_due_date_are_counted_at_each_home_chosen_and_once_for_the_city(reviewer_client):
    """R-WATCH-1, R-ASM-6: overdue re-reviews (undecided 20 working days after the request)."""
    FacilityFactory(code="YX01")
    FacilityFactory(code="GZC01", level="city")
    with time_machine.travel(dt.datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI), tick=False):
        application = queued_application(choices=["YX01", "GZC01"])
    with time_machine.travel(dt.datetime(2026, 10, 19, 10, 0, tzinfo=SHANGHAI), tick=False):
        review = review_request_create(application=application, reason="too low", actor=actor("intake"))
    assert review.due_by == dt.datetime(2026, 11, 16, 23, 59, 59, tzinfo=SHANGHAI)
    on_time = report(now=dt.datetime(2026, 11, 16, 23, 0, tzinfo=SHANGHAI))
    assert on_time.city.count("re_reviews") == 0
    result = report()
    assert {row.facility.code: row.count("re_reviews") for row in result.rows} == {"YX01": 1, "GZC01": 1}
    assert result.city.count("re_reviews") == 1
    with time_machine.travel(NOW, tick=False):
        page = reviewer_client.get(reverse("staff:watchdog_records", args=["re_reviews"]) + QUERY).content.decode()
    assert application.reference in page


# --- the page, its links, its charts, its downloads ----------------------------------------------------
def test_each_figure_on_the_page_links_to_the_records_behind_it(reviewer_client):
    home = FacilityFactory(code="YX01")
    with time_machine.travel(NOW - dt.timedelta(days=30), tick=False):
        queued_application(grade=3, choices=["YX01"])
    (bed,) = add_beds(home, nursing=1, status="vacant")
    since(bed, dt.datetime.now(SHANGHAI) - dt.timedelta(days=20))

    page = reviewer_client.get(reverse("staff:watchdog") + QUERY).content.decode()
    link = (
        reverse("staff:watchdog_records", args=["long_vacant"]) + "?from=2026-11-01&amp;to=2026-11-30&amp;facility=YX01"
    )
    assert f'<a href="{link}">1</a>' in page
    records = reviewer_client.get(link.replace("&amp;", "&"))
    assert records.status_code == 200
    assert bed.code in records.content.decode()
    assert reviewer_client.get(reverse("staff:watchdog_records", args=["nothing"]) + QUERY).status_code == 404


def test_every_record_list_opens(reviewer_client):
    FacilityFactory(code="YX01")
    for kind in watchdog.RECORD_KINDS:
        response = reviewer_client.get(reverse("staff:watchdog_records", args=[kind]) + QUERY)
        assert response.status_code == 200, kind


def test_the_charts_are_inline_svg_with_a_title_and_a_description_and_nothing_inline(reviewer_client):
    FacilityFactory(code="YX01")
    page = reviewer_client.get(reverse("staff:watchdog") + QUERY).content.decode()
    assert page.count('<svg class="chart-svg" role="img"') == 3
    assert 'id="chart-watchdog-city-title"' in page and 'id="chart-watchdog-city-desc"' in page
    assert "<script" not in page.split("<main", 1)[-1] and " style=" not in page
    assert "http://" not in page.split("<main", 1)[-1].replace("http://www.w3.org", "")


def test_the_home_filter_narrows_the_report(reviewer_client):
    FacilityFactory(code="YX01")
    FacilityFactory(code="HZ01")
    rows = csv_rows(reviewer_client.get(reverse("staff:watchdog_download", args=["csv"]) + QUERY + "&facility=HZ01"))
    homes = [row[0] for row in rows if row and row[0].startswith(("HZ01", "YX01"))]
    assert homes == ["HZ01 Home HZ01"]


def test_the_report_downloads_as_csv_and_xlsx_with_formulas_written_as_text(reviewer_client):
    home = FacilityFactory(code="YX01")
    officer = actor("=1+1")  # a name a spreadsheet would run as a formula
    offer = offered(home)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        offer_accept(offer=offer, actor=officer)
        offer_fail_check(offer=offer, reason="no_show", actor=officer)

    response = reviewer_client.get(reverse("staff:watchdog_download", args=["csv"]) + QUERY)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0] == ["Watchdog report"]
    assert ["All homes", "did not come (no-show)", "'=1+1", "1"] in rows
    response = reviewer_client.get(reverse("staff:watchdog_download", args=["xlsx"]) + QUERY)
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["about", "homes", "failed_checks", "skip_reasons", "first_offers"]
    assert book["failed_checks"]["C2"].value == "'=1+1"
    assert book["homes"]["A2"].value == "YX01 Home YX01"
    assert reviewer_client.get(reverse("staff:watchdog_download", args=["pdf"]) + QUERY).status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=2026-11-30&to=2026-11-01", "The start of the period must not be after its end."),
        ("?from=2025-01-01&to=2026-11-30", "The period may be at most 366 days long."),
        ("?from=2026-13-01", "Enter a valid date."),
        ("?facility=NOPE", "Select a valid choice."),
    ],
)
def test_a_bad_filter_is_refused_with_the_reason_and_no_figures(reviewer_client, query, message):
    FacilityFactory(code="YX01")
    page = reviewer_client.get(reverse("staff:watchdog") + query)
    assert page.status_code == 400
    assert message in page.content.decode() and "chart-svg" not in page.content.decode()
    download = reviewer_client.get(reverse("staff:watchdog_download", args=["csv"]) + query)
    assert download.status_code == 400 and message in download.content.decode()


# --- who may see it, in which language -----------------------------------------------------------------
@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_and_administrators_open_the_report_its_records_and_downloads(client, role):
    client.force_login(staff(role))
    assert client.get(reverse("staff:watchdog")).status_code == 200
    assert client.get(reverse("staff:watchdog_records", args=["long_vacant"])).status_code == 200
    assert client.get(reverse("staff:watchdog_download", args=["xlsx"])).status_code == 200


@pytest.mark.parametrize("role", ["intake", "assessor", "facility"])
def test_other_roles_are_refused_the_report(client, role):
    home = FacilityFactory(code="YX01")
    client.force_login(staff(role, facility=home if role == "facility" else None))
    assert client.get(reverse("staff:watchdog")).status_code == 403
    assert client.get(reverse("staff:watchdog_records", args=["long_vacant"])).status_code == 403
    assert client.get(reverse("staff:watchdog_download", args=["csv"])).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("staff:watchdog"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_report_is_in_chinese_by_default_and_in_english_on_request(client):
    client.force_login(staff("reviewer"))
    chinese = client.get("/staff/reports/watchdog/").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert "监督报告" in chinese and "空置过久" in chinese
    english = client.get("/en/staff/reports/watchdog/").content.decode()
    assert "Watchdog report" in english and "Beds vacant too long while the queue has candidates" in english


# --- monthly --------------------------------------------------------------------------------------------
def test_the_monthly_report_is_emailed_to_the_administrators_once_a_month(settings):
    UserFactory(username="boss", email="boss@example.org", is_superuser=True)
    home = FacilityFactory(code="YX01")
    (bed,) = add_beds(home, nursing=1, status="out_of_service")
    since(bed, NOW - dt.timedelta(days=45))
    with time_machine.travel(dt.datetime(2026, 12, 1, 7, 0, tzinfo=SHANGHAI), tick=False):
        assert watchdog_monthly_send() == 1
        assert watchdog_monthly_send() == 0  # the task may run again: the month is sent once
    (message,) = mail.outbox
    assert message.to == ["boss@example.org"] and "2026-11" in message.subject
    assert "2026-11-01" in message.body and "YX01" in message.body
    assert "/staff/reports/watchdog/?from=2026-11-01&to=2026-11-30" in message.body


@pytest.mark.parametrize(
    ("role", "shown"), [("reviewer", True), ("admin", True), ("intake", False), ("assessor", False)]
)
def test_the_menu_offers_the_report_to_reviewers_and_administrators_only(client, role, shown):
    client.force_login(staff(role))
    page = client.get(reverse("staff:dashboard")).content.decode()
    assert (f'href="{reverse("staff:watchdog")}"' in page) is shown
