"""The bed board of a large home in a real browser (issue 15): one page of cards, the summary
figures at the top, the queue one click away, the pager to the next page, and a search that pages
too. Every page is checked by axe."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from facilities.models import Bed, BedStatus
from tests.e2e.conftest import check_page, staff_page_on_a_phone
from tests.e2e.test_staff_story import PASSWORD, staff_user
from tests.factories import FacilityFactory, add_beds
from web.views.facility_pages import BED_PAGE_SIZE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_facility_officer_pages_through_the_board_of_a_large_home(live_server, page_factory, language):
    home = FacilityFactory(code="GZC01", name="广州市老人院", name_en="Guangzhou Home for the Aged", level="city")
    add_beds(home, nursing=2 * BED_PAGE_SIZE + 20, status=BedStatus.OCCUPIED)
    add_beds(home, general=30, status=BedStatus.VACANT)
    total = Bed.objects.filter(facility=home).count()
    staff_user("e2e-facility", ["facility"], facility=home)
    with translation.override(language):
        board = reverse("staff:facility", args=[home.code])
    page = staff_page_on_a_phone(page_factory, live_server, "e2e-facility", PASSWORD, language=language)

    page.goto(live_server.url + board)
    expect(page.locator("dl.facility-figures")).to_be_visible()
    expect(page.locator("ul.bed-grid li.bed")).to_have_count(BED_PAGE_SIZE)
    expect(page.locator("#board-range")).to_contain_text(str(total))
    check_page(page, f"bed-board-page-1-{language}")

    page.click("#beds-next")
    expect(page).to_have_url(re.compile(r"bed_page=2#beds$"))
    expect(page.locator("ul.bed-grid li.bed")).to_have_count(BED_PAGE_SIZE)
    expect(page.locator("dl.facility-figures")).to_be_visible()  # the figures stay at the top
    check_page(page, f"bed-board-page-2-{language}")

    # The queue is one click away.
    page.click("nav.facility-jump a[href='#queue']")
    expect(page).to_have_url(re.compile(r"#queue$"))
    expect(page.locator("#queue")).to_be_in_viewport()

    # A search pages too, and its pager keeps it.
    page.fill("#id_q", "B0")
    page.select_option("#id_status", "occupied")
    page.click("form.bed-search button[type=submit]")
    expect(page.locator("#bed-results tbody tr")).to_have_count(BED_PAGE_SIZE)
    page.click("#beds-next")
    expect(page).to_have_url(re.compile(r"q=B0.*status=occupied.*bed_page=2"))
    expect(page.locator("#bed-results tbody tr")).to_have_count(BED_PAGE_SIZE)
    check_page(page, f"bed-board-search-page-2-{language}")
