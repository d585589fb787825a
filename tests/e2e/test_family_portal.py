"""STORIES 3 on a phone (issue 5): a family looks up an application holding a pending offer, at a
390×844 viewport, in Simplified Chinese (the default) and in English. The start page, the calm
answer to a wrong code, the status page, the list of homes and a home's board are screenshotted and
checked by axe (no serious or critical WCAG 2.1 AA violation)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from admissions.models import Offer
from admissions.services.applications import lookup_code_issue
from tests.e2e.conftest import check_page
from tests.factories import FacilityFactory, actor, add_beds, district, queued_application

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DIBAO = {"verify": ("dibao",), "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}]}
LANGUAGES = [("zh-hans", "zh-CN"), ("en", "en-US")]


@pytest.fixture
def offered():
    """Mrs Chen (STORIES 3/4) holding an offer of the district home's one vacant nursing bed, someone
    else waiting behind her, and the lookup code the family holds."""
    cache.clear()  # the lookup's failure counts (R-PUB-2) live in the cache, not in a flushed table
    home = FacilityFactory(
        code="YX01", name="越秀区老人院", district=district("yuexiu"), address="越秀区 2 号", phone="020-8000 0000"
    )
    add_beds(home, nursing=6, general=2)
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], grade=2, lives_alone=True, **DIBAO)
    queued_application(choices=["YX01"], grade=3, name="王大明", phone="13800000001")
    offer = Offer.objects.get(application=application, state="pending")
    code = lookup_code_issue(application=application, actor=actor("intake"))
    return application, offer, code


def no_sideways_scroll(page) -> None:
    """Phone-first: nothing wider than the screen."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def deadline(value, language: str) -> str:
    with translation.override(language):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def look_up(page, reference: str, code: str) -> None:
    page.fill("#id_reference", reference)
    page.fill("#id_code", code)
    page.click("form.lookup-form button[type=submit]")


@pytest.mark.parametrize(("language", "locale"), LANGUAGES)
def test_a_family_looks_up_an_application_with_a_pending_offer_on_a_phone(
    live_server, page_factory, offered, language, locale
):
    application, offer, code = offered
    with translation.override(language):
        start, status, boards = reverse("home"), reverse("portal:status"), reverse("portal:boards")
        board = reverse("portal:board", args=["YX01"])
    assert start == ("/" if language == "zh-hans" else "/en/")
    page = page_factory(viewport=PHONE, locale=locale)

    page.goto(live_server.url + start)
    expect(page.locator("html")).to_have_attribute("lang", language)
    no_sideways_scroll(page)
    check_page(page, f"portal-{language}-start")

    # A mistyped code: the calm message, which says nothing about whether the reference exists.
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    look_up(page, application.reference, wrong)
    expect(page.locator("#lookup-error")).to_be_visible()
    expect(page.locator("#lookup-error")).to_be_focused()
    expect(page.locator("main")).not_to_contain_text(application.applicant.masked_name)
    # The browser, not the server, puts the typed reference back (static/js/portal.js).
    expect(page.locator("#id_reference")).to_have_value(application.reference)
    no_sideways_scroll(page)
    check_page(page, f"portal-{language}-wrong-code")

    look_up(page, application.reference, code.lower())  # small letters work too
    expect(page.locator("h1[data-lookup-done]")).to_be_visible()
    expect(page).to_have_url(live_server.url + status)
    result = page.locator("main")
    expect(result.locator(".reference").first).to_have_text(application.reference)
    expect(result).not_to_contain_text(application.applicant.name)  # masked
    expect(result).not_to_contain_text(application.applicant.id_number)
    expect(result).not_to_contain_text("王大明")
    # The live offer with both deadlines: the answer's now, the admission's once accepted.
    card = page.locator("section.offer")
    expect(card).to_contain_text("越秀区老人院")
    expect(card).to_contain_text("越秀区 2 号")
    expect(card.locator("dt")).to_have_count(5)
    expect(card.locator("dd").first).to_have_text(deadline(offer.respond_by, language))
    expect(card.locator("dd").nth(1)).not_to_be_empty()
    expect(result.locator("article.home")).to_have_count(1)
    no_sideways_scroll(page)
    check_page(page, f"portal-{language}-status")

    page.click(f"article.home a[href='{board}']")
    expect(page).to_have_url(live_server.url + board)
    expect(page.locator("table.board tbody tr")).to_have_count(2)
    expect(page.locator("main")).not_to_contain_text(application.reference)  # masked on the board
    expect(page.locator("article.decision").first).to_be_visible()
    no_sideways_scroll(page)
    check_page(page, f"portal-{language}-board")

    page.click(f".breadcrumb a[href='{boards}']")
    expect(page).to_have_url(live_server.url + boards)
    expect(page.locator("ul.home-list li")).to_have_count(1)
    no_sideways_scroll(page)
    check_page(page, f"portal-{language}-homes")


def test_the_daughter_switches_the_status_page_to_english_without_typing_the_code_again(
    live_server, page_factory, offered
):
    """STORIES 3: 'She switches the page to English for her son abroad.'"""
    application, offer, code = offered
    page = page_factory(viewport=PHONE)
    with translation.override("zh-hans"):
        page.goto(live_server.url + reverse("portal:status") + f"?reference={application.reference}")
    expect(page.locator("#id_reference")).to_have_value(application.reference)  # as from the QR code
    page.fill("#id_code", code)
    page.click("form.lookup-form button[type=submit]")
    expect(page.locator("h1[data-lookup-done]")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.select_option("#language-select", "en")
    page.click("form.language button[type=submit]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1[data-lookup-done]")).to_be_visible()
    expect(page.locator("section.offer dd").first).to_have_text(deadline(offer.respond_by, "en"))
    check_page(page, "portal-en-status-after-switch")
