"""Staff pages: the dashboard (issue 4). Each role's figures: applications by state, offers with a
deadline in the next two working days (R-OFF-1), assessments about to expire (R-ASM-5), vacant beds
and quota headroom (R-NQ-1), the calendar warning for administrators (R-OFF-2); a facility officer
sees their own home only (SPEC §10)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from admissions.models import Offer
from facilities.models import Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, queued_application, submitted_application

pytestmark = pytest.mark.django_db


def client_as(*roles: str, facility: Facility | None = None, superuser: bool = False) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles) or 'none'}-{User.objects.count()}", is_superuser=superuser)
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def homes():
    return {
        "YX01": FacilityFactory(code="YX01", name="越秀区福利院"),
        "YX02": FacilityFactory(code="YX02", name="Second Home"),
    }


def test_the_dashboard_is_the_staff_start_page():
    assert reverse("staff:dashboard") == "/en/staff/"


def test_an_anonymous_visitor_is_sent_to_the_login_page():
    response = Client().get(reverse("staff:dashboard"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_user_without_a_staff_role_gets_403():
    assert client_as().get(reverse("staff:dashboard")).status_code == 403


def test_applications_are_counted_by_state_each_linking_to_the_filtered_list(homes):
    submitted_application(choices=["YX01"])
    response = client_as("intake").get(reverse("staff:dashboard"))
    assert response.status_code == 200
    rows = {row["state"]: row for row in response.context["by_state"]}
    assert rows["submitted"]["count"] == 1 and rows["draft"]["count"] == 0
    assert rows["submitted"]["url"] == reverse("staff:applications") + "?state=submitted"
    page = response.content.decode()
    assert 'href="/en/staff/applications/?state=submitted"' in page
    assert page.count("<h1") == 1


def test_each_role_sees_its_own_work(homes):
    submitted_application(choices=["YX01"])
    intake_work = client_as("intake").get(reverse("staff:dashboard")).context["work"]
    assert [(w["label"], w["count"]) for w in intake_work] == [
        ("drafts to complete and submit", 0),
        ("submitted: eligibility to check", 1),
    ]
    assessor_work = client_as("assessor").get(reverse("staff:dashboard")).context["work"]
    assert [w["label"] for w in assessor_work] == ["waiting for an assessment"]


def test_offers_with_a_deadline_in_the_next_two_working_days_are_listed(homes):
    add_beds(homes["YX01"], nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    offer = Offer.objects.get(application=application, state="pending")
    client = client_as("intake")
    assert client.get(reverse("staff:dashboard")).context["offers"] == []  # five working days away
    with time_machine.travel(offer.respond_by - dt.timedelta(hours=30), tick=False):
        response = client.get(reverse("staff:dashboard"))
    assert [o.pk for o in response.context["offers"]] == [offer.pk]
    assert application.reference in response.content.decode()


def test_assessments_expiring_within_thirty_days_are_listed(homes):
    soon = queued_application(choices=["YX01"], assessed_on=timezone.localdate() - dt.timedelta(days=350))
    later = queued_application(choices=["YX01"], name="李大明", date_of_birth=dt.date(1940, 5, 5))
    response = client_as("reviewer").get(reverse("staff:dashboard"))
    assert [a.reference for a in response.context["expiring"]] == [soon.reference]
    assert later.reference not in [a.reference for a in response.context["expiring"]]
    assert response.context["within_days"] == 30


def test_vacant_beds_and_quota_headroom_are_shown_per_home(homes):
    add_beds(homes["YX01"], nursing=70, general=20)
    add_beds(homes["YX01"], general=10, status="vacant")
    response = client_as("reviewer").get(reverse("staff:dashboard"))
    figures = {row["figures"].facility.code: row["figures"] for row in response.context["facility_rows"]}
    yx01 = figures["YX01"]
    assert (yx01.in_service, yx01.vacant, yx01.vacant_general) == (100, 10, 10)
    # R-NQ-1: ⌊100 × (1 − 0.78)⌋ = 22 self-care places, 20 held → 2 more.
    assert (yx01.quota.self_care_cap, yx01.quota.self_care_held, yx01.quota.headroom) == (22, 20, 2)
    assert "20 / 22" in response.content.decode()


def test_a_facility_officer_sees_only_their_own_homes_figures(homes):
    add_beds(homes["YX02"], nursing=3, status="vacant")
    mine = submitted_application(choices=["YX01"])
    theirs = submitted_application(choices=["YX02"], name="李大明", date_of_birth=dt.date(1940, 5, 5))
    response = client_as("facility", facility=homes["YX01"]).get(reverse("staff:dashboard"))
    assert [row["figures"].facility.code for row in response.context["facility_rows"]] == ["YX01"]
    assert response.context["total"] == 1
    assert response.context["vacant_total"] == 0
    page = response.content.decode()
    assert "Second Home" not in page
    assert mine.reference not in page and theirs.reference not in page  # counts only, no names here


def test_only_an_administrator_sees_the_calendar_warning(homes):
    with time_machine.travel(dt.datetime(2031, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        admin = client_as(superuser=True).get(reverse("staff:dashboard"))
        reviewer = client_as("reviewer").get(reverse("staff:dashboard"))
    assert admin.status_code == 200
    assert admin.context["calendar_warning"] and "2031" in admin.context["calendar_warning"]
    assert reviewer.context["calendar_warning"] is None


def test_the_dashboard_reads_in_chinese_without_a_language_prefix(homes):
    submitted_application(choices=["YX01"])
    with translation.override("zh-hans"):
        url = reverse("staff:dashboard")
    assert url == "/staff/"
    page = client_as("intake").get(url).content.decode()
    assert 'lang="zh-hans"' in page
    assert "已提交" in page  # the state "submitted"
