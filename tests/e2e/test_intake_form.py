"""The intake form on a 390×844 phone, in both languages (issue 15): the homes offered follow the
district (R-APP-7, swapped in by htmx, no inline script), a chosen home the new district does not
allow is taken off and named, each category's evidence appears once its box is ticked, and a draft
is saved with only a name and an ID number, without the eligibility checks (R-CHG-1). Every state
of the page is checked by axe."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from admissions.models import Application
from tests.e2e.conftest import check_page, staff_page_on_a_phone
from tests.e2e.test_staff_story import PASSWORD, staff_user
from tests.factories import FacilityFactory, district, id_number

pytestmark = pytest.mark.django_db(transaction=True)


def options(page, select: str) -> set[str]:
    return set(page.eval_on_selector_all(f"{select} option", "els => els.map(e => e.value).filter(Boolean)"))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_intake_form_offers_the_district_s_homes_and_evidence_on_demand(live_server, page_factory, language):
    FacilityFactory(code="GZC01", name="广州市老人院", name_en="Guangzhou Home for the Aged", level="city")
    FacilityFactory(code="YX01", name="越秀区老人院", name_en="Yuexiu District Home", district=district("yuexiu"))
    FacilityFactory(code="HZ01", name="海珠区老人院", name_en="Haizhu District Home", district=district("haizhu"))
    staff_user("e2e-intake", ["intake"])
    with translation.override(language):
        new = reverse("staff:application_new")
    page = staff_page_on_a_phone(page_factory, live_server, "e2e-intake", PASSWORD, language=language)
    page.goto(live_server.url + new)
    expect(page.locator("main h1")).to_be_visible()

    # No district yet: the city-level homes only; the evidence blocks folded.
    assert options(page, "#id_choice_1") == {"GZC01"}
    expect(page.locator("#id_evidence_dibao")).to_be_hidden()
    expect(page.locator("#id_evidence_file_tekun")).to_be_hidden()
    check_page(page, f"intake-phone-{language}")

    page.select_option("#id_hukou_district", "yuexiu")
    expect(page.locator("#id_choice_2 option[value=YX01]")).to_be_attached()
    assert options(page, "#id_choice_2") == {"GZC01", "YX01"}
    page.select_option("#id_choice_1", "GZC01")
    page.select_option("#id_choice_2", "YX01")

    # Another district: its own home appears; the 越秀 home is taken off, and said to be.
    page.select_option("#id_hukou_district", "haizhu")
    expect(page.locator("#id_choice_2 option[value=HZ01]")).to_be_attached()
    assert options(page, "#id_choice_2") == {"GZC01", "HZ01"}
    home = "Yuexiu District Home" if language == "en" else "越秀区老人院"
    expect(page.locator("#homes-chosen .message")).to_contain_text(home)
    expect(page.locator("#id_choice_1")).to_have_value("GZC01")  # the city-level choice stays
    expect(page.locator("#id_choice_2")).to_have_value("")
    page.select_option("#id_choice_2", "HZ01")

    # Ticking a category shows its evidence, and only its own.
    page.check("#id_category_dibao")
    expect(page.locator("#id_evidence_dibao")).to_be_visible()
    expect(page.locator("#id_evidence_file_dibao")).to_be_visible()
    expect(page.locator("#id_evidence_tekun")).to_be_hidden()
    page.fill("#id_evidence_dibao", "低保证 2024-001")
    check_page(page, f"intake-phone-{language}-filled")

    # A draft: a name and an ID number of someone aged 50, no declarations; saved all the same.
    born = dt.date(dt.date.today().year - 50, 5, 1)
    page.fill("#id_name", "陈秀英")
    page.fill("#id_id_number", id_number(born, sex="F"))
    expect(page.locator("#id-check p").first).to_be_visible()
    page.click("button[name=action][value=draft]")
    expect(page.locator("article.receipt")).to_be_visible()
    application = Application.objects.get()
    assert application.state == "draft"
    assert [c.facility.code for c in application.choices.order_by("rank")] == ["GZC01", "HZ01"]
    check_page(page, f"intake-phone-{language}-draft-receipt")
