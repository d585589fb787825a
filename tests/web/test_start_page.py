"""The families' start page (issue 15): who can apply, how, what to bring, and each district's intake
office with its address, phone and hours, kept by administrators as data (SPEC §2: districts are
data), in the page's language."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests import spec
from tests.factories import district

pytestmark = pytest.mark.django_db


def office(code: str = "yuexiu", **values):
    place = district(code)
    defaults = {
        "office_address": "越秀区政务服务中心一楼",
        "office_address_en": "Ground floor, Yuexiu Government Service Centre",
        "office_phone": "02083001234",
        "office_hours": "周一至周五 9:00–17:30",
        "office_hours_en": "Monday to Friday, 9:00–17:30",
    }
    for name, value in {**defaults, **values}.items():
        setattr(place, name, value)
    place.save()
    return place


def start_page(language: str) -> str:
    with translation.override(language):
        url = reverse("portal:apply")
    response = Client().get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_start_page_lists_each_district_office_with_address_phone_and_hours_in_chinese():
    office("yuexiu")
    page = start_page("zh-hans")
    assert "越秀区" in page and "越秀区政务服务中心一楼" in page and "周一至周五 9:00–17:30" in page
    assert 'href="tel:02083001234"' in page
    assert "Ground floor" not in page
    # A district whose office nobody filled in is not listed.
    assert district("haizhu").name_zh not in page


def test_the_english_start_page_shows_the_offices_in_english_or_else_in_chinese():
    office("yuexiu")
    office("tianhe", office_address="天河区政务服务中心", office_address_en="", office_hours_en="")
    page = start_page("en")
    assert "Yuexiu" in page and "Ground floor, Yuexiu Government Service Centre" in page
    assert "天河区政务服务中心" in page  # no English address given: the Chinese one, not nothing
    assert "Monday to Friday, 9:00–17:30" in page


def test_the_start_page_says_who_can_apply_from_the_policy_in_force_r_app_2_r_app_7():
    page = start_page("en")
    assert f"People aged {spec.MIN_AGE} or over" in page
    assert f"Choose up to {spec.MAX_CHOICES} homes" in page
    assert f"At most {spec.MAX_CITY_LEVEL_CHOICES} of them may be a city-level home" in page
    assert reverse("portal:status") in page


def test_the_families_home_page_links_to_the_start_page():
    with translation.override("en"):
        home, apply = reverse("home"), reverse("portal:apply")
    assert f'href="{apply}"' in Client().get(home).content.decode()


def test_an_administrator_cannot_save_an_office_phone_that_is_not_a_phone_r_sec_9():
    admin = User.objects.create_superuser("root", password="x" * 12)
    client = Client()
    client.force_login(admin)
    place = district("yuexiu")
    with translation.override("en"):
        url = reverse("admin:facilities_district_change", args=[place.pk])
    data = {"code": place.code, "name_zh": place.name_zh, "name_en": place.name_en, "office_phone": "=1+1"}
    response = client.post(url, data)
    assert response.status_code == 200 and "must be a phone number" in response.content.decode()
    place.refresh_from_db()
    assert place.office_phone == ""
    client.post(url, {**data, "office_phone": "020-8300 1234"})
    place.refresh_from_db()
    assert place.office_phone == "02083001234"


# --- English home names (issue 15) ----------------------------------------------------------------------
def test_english_pages_show_a_homes_english_name_and_address_and_chinese_pages_the_chinese_ones():
    from tests.factories import FacilityFactory

    FacilityFactory(
        code="YX01",
        name="越秀区老人院",
        name_en="Yuexiu Elderly Home",
        address="越华路 1 号",
        address_en="1 Yuehua Road",
    )
    FacilityFactory(code="YX02", name="越秀区颐养院", name_en="")
    for page_name, args in (("portal:boards", []), ("portal:board", ["YX01"])):
        with translation.override("en"):
            english = html.unescape(Client().get(reverse(page_name, args=args)).content.decode())
        with translation.override("zh-hans"):
            chinese = html.unescape(Client().get(reverse(page_name, args=args)).content.decode())
        assert "Yuexiu Elderly Home" in english and "1 Yuehua Road" in english, page_name
        assert "越秀区老人院" not in english.split("<main")[1], page_name
        assert "越秀区老人院" in chinese and "Yuexiu Elderly Home" not in chinese, page_name
    with translation.override("en"):
        boards = Client().get(reverse("portal:boards")).content.decode()
    assert "越秀区颐养院" in boards  # no English name given: the Chinese one


def test_the_demo_homes_have_english_names_and_the_districts_intake_offices(settings):
    from io import StringIO

    from django.core.management import call_command

    from facilities.models import District, Facility

    settings.DEBUG = True  # seed_demo refuses to run without it
    call_command("seed_demo", applications=0, stdout=StringIO())
    homes = Facility.objects.all()
    assert homes.exists() and not homes.filter(name_en="").exists() and not homes.filter(address_en="").exists()
    assert not District.objects.filter(office_phone="").exists()
