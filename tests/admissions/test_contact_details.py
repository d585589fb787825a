"""Contact details where families need them (issue 15): the home's phone in every message about a bed
(R-OFF-6), the intake office of the applicant's district on the receipt, and both printed in the
family's language, with the home's English name where one is given."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.models import Notification
from admissions.services import applications as app_services
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, actor, add_beds, district, intake, queued_application

pytestmark = pytest.mark.django_db


def home_with_a_vacant_bed():
    home = FacilityFactory(
        code="YX01",
        name="越秀区老人院",
        name_en="Yuexiu Elderly Home",
        address="越秀区越华路 1 号",
        address_en="1 Yuehua Road, Yuexiu",
        phone="02083334444",
    )
    add_beds(home, nursing=1, status="vacant")
    return home


def offer_message(language: str) -> str:
    application = queued_application(grade=3, choices=["YX01"], language=language)
    return Notification.objects.filter(application=application, kind="offer_made").first().body


def test_the_offer_message_gives_the_homes_phone_to_answer_on_r_off_6():
    home_with_a_vacant_bed()
    body = offer_message("zh-hans")
    assert "02083334444" in body and "越秀区老人院" in body
    assert "Yuexiu Elderly Home" not in body


def test_an_english_speaking_family_reads_the_homes_english_name_and_address_with_its_phone():
    home_with_a_vacant_bed()
    with translation.override("zh-hans"):  # whatever language the staff member works in
        body = offer_message("en")
    assert "Yuexiu Elderly Home" in body and "1 Yuehua Road, Yuexiu" in body
    assert "call Yuexiu Elderly Home on 02083334444" in body
    assert "越秀区老人院" not in body


def test_a_home_without_an_english_name_keeps_its_chinese_one_in_english():
    home = home_with_a_vacant_bed()
    home.name_en = ""
    home.save()
    assert "越秀区老人院" in offer_message("en")


def receipt_of(language: str) -> str:
    FacilityFactory(code="YX01", name="越秀区老人院", name_en="Yuexiu Elderly Home")
    place = district("yuexiu")
    place.office_address, place.office_address_en = "越秀区政务服务中心", "Yuexiu Government Service Centre"
    place.office_phone, place.office_hours, place.office_hours_en = "02083001234", "周一至周五", "Weekdays"
    place.save()
    application, _code = app_services.application_create(
        data=intake(choices=["YX01"], language=language), submit=True, actor=actor("intake")
    )
    user = User.objects.create_user("intake-officer")
    roles_assign(user=user, roles=["intake"], facility=None)
    client = Client()
    client.force_login(user)
    with translation.override("zh-hans"):
        url = reverse("staff:receipt", args=[application.reference])
    return html.unescape(client.get(url).content.decode())


def test_the_receipt_names_the_intake_office_of_the_applicants_district_with_its_phone():
    page = receipt_of("zh-hans")
    assert "越秀区政务服务中心" in page and "02083001234" in page and "周一至周五" in page
    assert "越秀区老人院" in page


def test_the_receipt_of_an_english_speaking_family_prints_in_english():
    page = receipt_of("en")
    assert '<html lang="en">' in page
    assert "Receipt: application for a place in a public care home" in page
    assert "Yuexiu Government Service Centre" in page and "Weekdays" in page and "02083001234" in page
    assert "Yuexiu Elderly Home" in page
