"""Staff pages for couples (R-CPL-1, R-CPL-3): the couple on the application page, linking from it
(search the spouse by reference or name, then check your answers) and unlinking."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from admissions.models import Couple, Offer
from admissions.services.allocation import allocation_run
from admissions.services.couples import couple_link, couple_of
from facilities.models import Bed, Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db


def client_as(*roles: str) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=None)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def spouses():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=4, holder="nursing")
    wife = queued_application(grade=2, choices=["YX01"], name="王秀兰", date_of_birth=dt.date(1940, 1, 1))
    husband = queued_application(grade=0, choices=["YX01"], name="李建国", date_of_birth=dt.date(1939, 1, 1), sex="M")
    return wife, husband


def test_intake_finds_the_spouse_by_name_checks_the_answers_and_links_the_couple(spouses):
    """R-CPL-1 on the staff pages: nothing is linked until the answers are confirmed."""
    wife, husband = spouses
    client = client_as("intake")
    page = f"/staff/applications/{wife.reference}/couple/link/"
    found = client.get(page, {"q": "建国"})
    assert found.status_code == 200 and husband.reference in found.content.decode()
    headers = re.findall(r"<th[^>]*>(.*?)</th>", found.content.decode(), flags=re.S)
    assert headers and all(re.sub(r"<[^>]+>", "", h).strip() for h in headers)  # a screen reader names every column
    form = client.get(page, {"partner": husband.reference})
    assert form.status_code == 200
    answers = {"partner": husband.reference, "mode": "together", "reason": "married 1962"}
    check = client.post(page, answers)
    assert check.status_code == 200 and "李建国" in check.content.decode()
    assert not Couple.objects.exists()  # only shown, not done
    done = client.post(page, {**answers, "confirm": "yes", "form_token": "t1"})
    assert done.status_code == 302
    assert couple_of(wife).partner == husband
    shown = client.get(f"/staff/applications/{husband.reference}/").content.decode()
    assert "王秀兰" in shown and wife.reference in shown  # R-CPL-3: the couple together, with its mode


def test_a_refused_link_shows_the_reason_on_the_page_and_links_nothing(spouses):
    """R-CPL-1: linking to itself is refused, in plain words, without a rule code."""
    wife, _husband = spouses
    client = client_as("intake")
    page = f"/staff/applications/{wife.reference}/couple/link/"
    answers = {"partner": wife.reference, "mode": "together", "reason": "x", "confirm": "yes", "form_token": "t2"}
    response = client.post(page, answers)
    assert response.status_code == 200
    body = response.content.decode()
    assert "R-CPL" not in body and not Couple.objects.exists()


def test_intake_unlinks_after_checking_the_answers(spouses):
    """R-CPL-1: unlinking from the application page."""
    wife, husband = spouses
    client = client_as("intake")
    client.post(
        f"/staff/applications/{wife.reference}/couple/link/",
        {"partner": husband.reference, "mode": "either_first", "reason": "x", "confirm": "yes", "form_token": "t3"},
    )
    page = f"/staff/applications/{husband.reference}/couple/unlink/"
    assert client.get(page).status_code == 200
    assert client.post(page, {"reason": "separated"}).status_code == 200
    assert couple_of(wife) is not None
    assert client.post(page, {"reason": "separated", "confirm": "yes", "form_token": "t4"}).status_code == 302
    assert couple_of(wife) is None


def test_a_reviewer_may_not_open_the_link_page(spouses):
    wife, _husband = spouses
    assert client_as("reviewer").get(f"/staff/applications/{wife.reference}/couple/link/").status_code in (403, 302)


def test_the_queue_and_the_bed_board_show_the_couple_together(spouses):
    """R-CPL-3: on the home's page the queue names each member's spouse, and the bed board the joint offer."""
    wife, husband = spouses

    def mentions() -> int:
        return client_as("reviewer").get("/staff/facilities/YX01/").content.decode().count(husband.reference)

    alone = mentions()
    couple_link(applications=[wife.reference, husband.reference], mode="together", reason="x", actor=actor("intake"))
    assert mentions() == alone + 1  # her queue row names him
    home = Facility.objects.get(code="YX01")
    add_beds(home, general=6, holder="nursing")  # ten beds: room for self-care under the quota
    Bed.objects.filter(facility=home).update(status="vacant", holder_care_level=None)
    allocation_run(facility=home, trigger="test")
    assert Offer.objects.get(application=husband).partner_offer == Offer.objects.get(application=wife)
    assert mentions() >= alone + 1 + 4  # his bed offered to him, and her bed's joint offer naming him (links)
