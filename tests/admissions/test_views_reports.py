"""The reports page (issue 4): queue lengths, nursing share against target, median wait and offer
outcomes, each drawn as an inline SVG chart beside its table and downloadable as CSV and XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from openpyxl import load_workbook

from admissions import reports
from admissions.models import Offer
from admissions.services.allocation import allocation_run
from admissions.services.offers import offer_accept, offer_admit, offer_decline
from facilities.models import District, Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def staff(role: str, *, facility: Facility | None = None) -> User:
    user = UserFactory(username=f"{role}-reports")
    roles_assign(user=user, roles=[role], facility=facility)
    return user


@pytest.fixture
def reviewer_client(client):
    client.force_login(staff("reviewer"))
    return client


def download(client, name: str, fmt: str, query: str = ""):
    return client.get(reverse("staff:report_download", args=[name, fmt]) + query)


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def admitted(home: Facility, *, queued: dt.datetime, admitted_on: dt.datetime, grade: int = 3, **kwargs):
    """An application queued at `queued`, offered a new vacant bed of `home` and admitted at `admitted_on`."""
    with time_machine.travel(queued):
        application = queued_application(grade=grade, choices=[home.code], **kwargs)
    with time_machine.travel(admitted_on):
        add_beds(home, nursing=1, status="vacant")
        allocation_run(facility=home, trigger="staff_request")
        offer = Offer.objects.get(application=application, state="pending")
        offer_accept(offer=offer, actor=actor("facility"))
        offer_admit(offer=offer, actor=actor("facility"))
    return application


# --- who may see it ---------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_reviewers_and_administrators_open_the_reports(client, role):
    client.force_login(staff(role))
    response = client.get(reverse("staff:reports"))
    assert response.status_code == 200
    assert response.content.count(b"<h1") == 1


@pytest.mark.parametrize("role", ["intake", "assessor", "facility"])
def test_other_roles_are_refused_the_reports_and_their_downloads(client, role):
    home = FacilityFactory(code="YX01")
    client.force_login(staff(role, facility=home if role == "facility" else None))
    assert client.get(reverse("staff:reports")).status_code == 403
    assert download(client, "queue_length", "csv").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("staff:reports"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert download(client, "offers", "xlsx").status_code == 302


# --- the figures --------------------------------------------------------------------------------------
def test_queue_length_is_counted_by_channel_and_care_level_per_home(reviewer_client):
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    FacilityFactory(code="HZ01", name="海珠区社会福利院", district_id=home.district_id)
    dibao = [{"code": "dibao", "evidence": "低保证 1"}]
    queued_application(grade=3, choices=["YX01"], categories=dibao, verify=("dibao",))  # special, nursing
    queued_application(grade=1, choices=["YX01"])  # ordinary, self-care
    queued_application(grade=2, choices=["YX01"])  # ordinary, nursing

    rows = {row.facility.code: row for row in reports.queue_lengths(Facility.objects.order_by("code"))}
    assert rows["YX01"].count("special", "nursing") == 1
    assert rows["YX01"].count("ordinary", "self_care") == 1
    assert rows["YX01"].count("ordinary", "nursing") == 1
    assert rows["YX01"].total == 3 and rows["HZ01"].total == 0

    table = csv_rows(download(reviewer_client, "queue_length", "csv"))
    assert table[0][0] == "Home" and table[0][-1] == "Total"
    assert table[1] == ["HZ01 海珠区社会福利院", "0", "0", "0", "0", "0", "0", "0"]
    assert table[2][0] == "YX01 越秀区老人院" and table[2][-1] == "3"
    assert table[-1][0] == "All homes" and table[-1][-1] == "3"


def test_the_nursing_share_is_compared_with_the_target_in_force(reviewer_client):
    """R-NQ-1: held beds by the holder's care level; a home's own target replaces the policy's."""
    strict = FacilityFactory(code="YX01", nursing_target="0.900")
    add_beds(strict, nursing=8, status="occupied", holder="nursing")
    add_beds(strict, general=2, status="occupied", holder="self_care")
    relaxed = FacilityFactory(code="HZ01")
    add_beds(relaxed, nursing=8, status="occupied", holder="nursing")
    add_beds(relaxed, general=2, status="occupied", holder="self_care")

    rows = {row.facility.code: row for row in reports.nursing_shares(Facility.objects.order_by("code"))}
    assert rows["YX01"].quota.nursing_share == 0.8
    assert rows["YX01"].own_target and rows["YX01"].below_target is True
    assert not rows["HZ01"].own_target and rows["HZ01"].below_target is False  # 0.8 ≥ 0.78

    page = reviewer_client.get(reverse("staff:reports")).content.decode()
    assert "80.0%, below the target 90.0%" in page  # said in words, not by colour alone
    assert "80.0%, target 78.0%" in page


def test_the_median_wait_counts_days_from_queueing_to_admission_in_the_last_twelve_months(reviewer_client):
    home = FacilityFactory(code="YX01")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    admitted(home, queued=now - dt.timedelta(days=100), admitted_on=now)
    admitted(home, queued=now - dt.timedelta(days=40), admitted_on=now - dt.timedelta(days=10))
    admitted(home, queued=now - dt.timedelta(days=80), admitted_on=now - dt.timedelta(days=20))
    # Admitted 400 days ago: outside the window.
    admitted(home, queued=now - dt.timedelta(days=500), admitted_on=now - dt.timedelta(days=400))

    with time_machine.travel(now):
        rows = reports.median_waits(Facility.objects.all())
        table = csv_rows(download(reviewer_client, "median_wait", "csv"))
    overall = rows[-1]
    assert overall.admitted == 3
    assert overall.median_days == 60  # waits 100, 30 and 60 days
    by_group = {(r.channel, r.care_level): r for r in rows[:-1]}
    assert by_group[("ordinary", "nursing")].admitted == 3
    assert by_group[("special", "nursing")].median_days is None
    assert table[-1] == ["All admissions", "3", "60"]


def test_an_even_number_of_admissions_has_the_mean_of_the_middle_two_as_median():
    home = FacilityFactory(code="YX01")
    now = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    admitted(home, queued=now - dt.timedelta(days=10), admitted_on=now)
    admitted(home, queued=now - dt.timedelta(days=25), admitted_on=now)
    with time_machine.travel(now):
        assert reports.median_waits(Facility.objects.all())[-1].median_days == 17.5


def test_offers_accepted_declined_and_expired_are_counted_per_home_for_the_last_twelve_months(reviewer_client):
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2, status="vacant")
    first = queued_application(grade=4, choices=["YX01"])
    second = queued_application(grade=3, choices=["YX01"])
    offer_accept(offer=Offer.objects.get(application=first, state="pending"), actor=actor("facility"))
    offer_decline(offer=Offer.objects.get(application=second, state="pending"), reason="far", actor=actor("facility"))

    rows = reports.offer_outcomes(Facility.objects.all())
    assert (rows[0].accepted, rows[0].declined, rows[0].expired) == (1, 1, 0)
    book = load_workbook(io.BytesIO(download(reviewer_client, "offers", "xlsx").content))
    sheet = book.active
    assert [c.value for c in sheet[1]] == ["Home", "Accepted", "Declined", "Expired"]
    assert [c.value for c in sheet[2]][1:] == [1, 1, 0]  # numbers, not text
    assert [c.value for c in sheet[sheet.max_row]] == ["All homes", 1, 1, 0]


def test_the_district_filter_narrows_the_homes_in_the_page_and_the_download(reviewer_client):
    FacilityFactory(code="YX01", name="越秀区老人院")
    FacilityFactory(code="HZ01", name="海珠区社会福利院", district=District.objects.get(code="haizhu"))
    page = reviewer_client.get(reverse("staff:reports"), {"district": "haizhu"}).content.decode()
    assert "海珠区社会福利院" in page and "越秀区老人院" not in page
    assert "queue_length.csv/?district=haizhu" in page
    rows = csv_rows(download(reviewer_client, "queue_length", "csv", "?district=haizhu"))
    assert [r[0] for r in rows[1:]] == ["HZ01 海珠区社会福利院", "All homes"]
    # A district that does not exist shows every home rather than an error.
    assert reviewer_client.get(reverse("staff:reports"), {"district": "<script>"}).status_code == 200


# --- the charts and downloads ---------------------------------------------------------------------------
def test_every_chart_is_an_inline_svg_image_with_a_title_a_description_and_no_outside_resource(reviewer_client):
    FacilityFactory(code="YX01")
    queued_application(grade=3, choices=["YX01"])
    page = reviewer_client.get(reverse("staff:reports")).content.decode()
    assert page.count('<svg class="chart-svg" role="img"') == 4
    for chart_id in ("chart-queue", "chart-nursing-share", "chart-wait", "chart-offers"):
        assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in page
        assert f'<title id="{chart_id}-title">' in page and f'<desc id="{chart_id}-desc">' in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert "<script>" not in page  # no inline script, no chart library
    assert page.count('scope="col"') >= 4 and 'scope="row"' in page


def test_each_report_downloads_as_csv_and_xlsx(reviewer_client):
    FacilityFactory(code="YX01")
    for name in ("queue_length", "nursing_share", "median_wait", "offers"):
        as_csv = download(reviewer_client, name, "csv")
        assert as_csv.status_code == 200
        assert as_csv["Content-Type"].startswith("text/csv")
        assert f'filename="{name.replace("_", "-")}-' in as_csv["Content-Disposition"]
        assert as_csv.content.startswith("\ufeff".encode())  # spreadsheets read it as UTF-8
        as_xlsx = download(reviewer_client, name, "xlsx")
        assert as_xlsx.status_code == 200
        assert load_workbook(io.BytesIO(as_xlsx.content)).active.max_row >= 2


@pytest.mark.parametrize("name, fmt", [("queue_length", "pdf"), ("secrets", "csv"), ("offers.csv", "xlsx")])
def test_an_unknown_report_or_format_is_not_found(reviewer_client, name, fmt):
    assert download(reviewer_client, name, fmt).status_code == 404


def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_written_as_text(reviewer_client):
    FacilityFactory(code="-X1", name="x")  # the row's name "-X1 x" starts like a formula
    assert csv_rows(download(reviewer_client, "queue_length", "csv"))[1][0] == "'-X1 x"
    sheet = load_workbook(io.BytesIO(download(reviewer_client, "queue_length", "xlsx").content)).active
    assert sheet["A2"].value == "'-X1 x"


def test_a_control_character_an_xlsx_file_cannot_hold_is_written_as_a_replacement_character(reviewer_client):
    # Tab is allowed in XML, the rest are not (NUL is left out: PostgreSQL cannot store it in text).
    FacilityFactory(code="TB1", name="a\x01b\x08c\x0bd\x1fe\tf")
    response = download(reviewer_client, "queue_length", "xlsx")
    assert response.status_code == 200
    names = [row[0] for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True)]
    assert "TB1 a\ufffdb\ufffdc\ufffdd\ufffde\tf" in names


def test_the_reports_page_is_in_chinese_by_default(client):
    client.force_login(staff("admin"))
    response = client.get("/staff/reports/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "管理后台" in page  # the menu, in Chinese
