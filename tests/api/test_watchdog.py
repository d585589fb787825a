"""REST API: the watchdog report (R-WATCH-1; API.md `GET /reports/watchdog/`, reviewer and admin):
the same figures as the staff page, as JSON or as its CSV/XLSX files, filtered by home and period."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from rest_framework.test import APIClient

from admissions.models import Offer
from admissions.services.allocation import allocation_run
from admissions.services.offers import offer_accept, offer_fail_check
from facilities.models import Bed
from tests.api.helpers import assert_problem, client_as
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
URL = "/api/v1/reports/watchdog/"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def city():
    """YX01: a bed vacant 20 days with a nursing applicant waiting, and a failed admission check in
    November recorded by officer-li; HZ01: nothing."""
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    FacilityFactory(code="HZ01")
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        application = queued_application(grade=3, choices=["YX01"])
        queued_application(grade=3, choices=["YX01"])  # offered the bed after the failed check
        queued_application(grade=3, choices=["YX01"])  # still waiting: a candidate
    with time_machine.travel(NOW, tick=False):
        add_beds(home, nursing=1, status="vacant")
        allocation_run(facility=home, trigger="staff_request")
        offer = Offer.objects.get(application=application)
        offer_accept(offer=offer, actor=actor("officer-li"))
        offer_fail_check(offer=offer, reason="care_need_changed", actor=actor("officer-li"))
    (bed,) = add_beds(home, nursing=1, status="vacant")
    Bed.objects.filter(pk=bed.pk).update(status_since=dt.datetime.now(SHANGHAI) - dt.timedelta(days=20))
    return home


def test_a_reviewer_reads_the_figures_per_home_and_for_the_city(city):
    response = client_as("reviewer").get(URL, NOVEMBER)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == NOVEMBER
    assert (body["vacancy_alert_days"], body["out_of_service_alert_days"]) == (14, 30)
    assert body["not_recorded"] == []
    homes = {row["facility"]: row for row in body["facilities"]}
    assert set(homes) == {"HZ01", "YX01"} and homes["YX01"]["name"] == "越秀区老人院"
    yx = homes["YX01"]
    assert yx["long_vacant"] == 1
    assert yx["failed_checks"] == 1
    assert yx["failed_checks_by"] == [{"reason": "care_need_changed", "officer": "officer-li", "count": 1}]
    assert yx["manual_allocations"] == 1
    assert yx["first_offer"] == {"count": 2, "median_days": 3.0, "p90_days": 3.0}  # both offered at NOW
    assert homes["HZ01"]["failed_checks"] == 0 and homes["HZ01"]["first_offer"]["median_days"] is None
    assert body["city"]["failed_checks"] == 1 and body["city"]["unconfirmed"] == 0
    groups = {(g["channel"], g["care_level"]): g for g in body["first_offers"]}
    assert groups[("ordinary", "nursing")]["count"] == 2


def test_the_facility_filter_keeps_one_home(city):
    body = client_as("admin").get(URL, {**NOVEMBER, "facility": "HZ01"}).json()
    assert [row["facility"] for row in body["facilities"]] == ["HZ01"]
    assert body["city"]["failed_checks"] == 0


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")],
)
def test_format_csv_or_xlsx_returns_the_staff_download(city, fmt, content_type):
    response = client_as("reviewer").get(URL, {**NOVEMBER, "format": fmt})
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == f'attachment; filename="watchdog-2026-11-01-2026-11-30.{fmt}"'
    if fmt == "xlsx":
        assert "homes" in load_workbook(io.BytesIO(response.content)).sheetnames
    else:
        assert "officer-li" in response.content.decode("utf-8-sig")


def test_a_stored_control_character_is_replaced_in_the_xlsx_file_not_a_server_error(city):
    # Fuzzing found it (issue 16): a home's name with U+0001, which XLSX's XML cannot hold, made
    # format=xlsx answer 500. The file is written, the character shown as U+FFFD; CSV keeps it.
    city.name = "越秀区\x01老人院"
    city.save(update_fields=["name"])
    response = client_as("reviewer").get(URL, {**NOVEMBER, "format": "xlsx"})
    assert response.status_code == 200
    cells = [c.value for row in load_workbook(io.BytesIO(response.content))["homes"].iter_rows() for c in row]
    assert "YX01 越秀区\ufffd老人院" in cells
    as_csv = client_as("reviewer").get(URL, {**NOVEMBER, "format": "csv"}).content.decode("utf-8-sig")
    assert "越秀区\x01老人院" in as_csv


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2024-01-01", "to": "2026-11-30"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"facility": "NOPE"}, "facility"),
        ({"facility": "not a code!"}, "facility"),
        ({"format": "pdf"}, "format"),
        # Given empty, a parameter is refused, not read as the default (found by schemathesis).
        ({"from": ""}, "from"),
        ({"to": ""}, "to"),
        ({"facility": ""}, "facility"),
        ({"format": ""}, "format"),
    ],
)
def test_a_bad_query_is_a_400_problem_naming_the_parameter(query, field):
    FacilityFactory(code="YX01")
    assert_problem(client_as("reviewer").get(URL, query), 400, field)


def test_a_bad_query_is_explained_in_chinese_too():
    client = client_as("reviewer")
    response = client.get(URL, {"from": "2026-11-30", "to": "2026-11-01"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "开始日期不能晚于结束日期" in str(response.json()["errors"]["to"])


@pytest.mark.parametrize("role", ["intake", "assessor", "facility"])
def test_other_roles_are_refused(role):
    home = FacilityFactory(code="YX01")
    assert_problem(client_as(role, facility=home if role == "facility" else None).get(URL), 403)


def test_no_credentials_is_a_401():
    assert_problem(APIClient().get(URL), 401)
