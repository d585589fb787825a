"""The bed board of a large home (issue 15): search by resident name, application reference or bed
code (full-width input read as half-width), filters by status and type in the query string, summary
figures at the top, occupants named for the home's own staff, the queue one click away. The
page stays the home's own: a facility officer of another home still gets 403 (SPEC §10)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.dashboard import bed_board
from admissions.models import Occupancy
from facilities.models import Bed, BedStatus, Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, queued_application
from web.views.facility_pages import BED_PAGE_SIZE

pytestmark = pytest.mark.django_db


def client_as(*roles: str, facility: Facility | None = None) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles)}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def home() -> Facility:
    return FacilityFactory(code="YX01", name="越秀区福利院")


@pytest.fixture
def officer(home) -> Client:
    return client_as("facility", facility=home)


@pytest.fixture
def resident(home):
    """A resident, 李桂兰, in bed B0002 of a home of five occupied nursing beds and two vacant general ones."""
    beds = add_beds(home, nursing=5, status=BedStatus.OCCUPIED)
    add_beds(home, general=2, status=BedStatus.VACANT)
    FacilityFactory(code="TH09")  # chosen home with no beds: no offer is made on approval
    application = queued_application(name="李桂兰", choices=["TH09"])
    Occupancy.objects.create(
        bed=beds[1], facility=home, application=application, care_level="nursing", admitted_on=dt.date(2026, 1, 5)
    )
    return application


def board(client: Client, home: Facility, **query) -> str:
    response = client.get(reverse("staff:facility", args=[home.code]), query)
    assert response.status_code == 200
    return response.content.decode()


def found(page: str) -> list[str]:
    """The bed codes in the table of beds found."""
    table = re.search(r'<table class="bed-table".*?</table>', page, re.S)
    return re.findall(r'<th scope="row">(B\d{4})</th>', table.group(0)) if table else []


def test_a_search_by_the_residents_name_finds_their_bed_and_names_them(home, officer, resident):
    page = board(officer, home, q="桂兰")
    assert found(page) == ["B0002"]
    assert "李桂兰" in page and resident.reference in page


def test_a_search_by_the_application_reference_finds_the_bed_in_any_case_and_full_width(home, officer, resident):
    assert found(board(officer, home, q=resident.reference.lower())) == ["B0002"]
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in resident.reference)
    assert found(board(officer, home, q=f"　{full_width} ")) == ["B0002"]


def test_a_search_by_bed_code_finds_the_bed(home, officer, resident):
    assert found(board(officer, home, q="ｂ０００６")) == ["B0006"]


def test_filters_by_status_and_type_narrow_the_beds_and_a_search_that_matches_nothing_says_so(home, officer, resident):
    assert found(board(officer, home, status="vacant")) == ["B0006", "B0007"]
    assert found(board(officer, home, bed_type="nursing")) == ["B0001", "B0002", "B0003", "B0004", "B0005"]
    assert found(board(officer, home, status="vacant", bed_type="nursing")) == []
    assert "No bed matches" in board(officer, home, status="vacant", bed_type="nursing")
    assert found(board(officer, home, q="B000", status="occupied", bed_type="nursing")) == [
        "B0001",
        "B0002",
        "B0003",
        "B0004",
        "B0005",
    ]


def test_the_search_is_done_in_the_database_query(home, resident):
    assert list(bed_board(home, search="李桂兰").values_list("code", flat=True)) == ["B0002"]
    assert bed_board(home, status="out_of_service").count() == 0


def test_an_unknown_filter_value_is_an_error_on_its_field_and_not_a_500(home, officer, resident):
    page = board(officer, home, status="sleeping")
    assert 'class="error-summary"' in page and "Bed status" in page
    assert "R-" not in re.sub(r"<[^>]+>", "", page).replace("R-Q", "")  # no rule codes for people


def test_results_are_paged_and_the_pages_keep_the_filters(home, officer):
    add_beds(home, general=60, status=BedStatus.VACANT)
    page = board(officer, home, status="vacant")
    assert len(found(page)) == 50
    assert "status=vacant&amp;bed_page=2#beds" in page
    assert len(found(board(officer, home, status="vacant", bed_page="2"))) == 10


def test_the_figures_and_a_link_to_the_queue_are_at_the_top(home, officer, resident):
    page = board(officer, home)
    top = page[: page.index('id="facility-live"')]
    assert 'href="#queue"' in top
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", top))
    assert figures["Beds"] == "7" and figures["Occupied"] == "5" and figures["Vacant"] == "2"


def test_a_reviewer_sees_the_residents_name_on_the_board(home, resident):
    page = board(client_as("reviewer"), home)
    assert "李桂兰" in page


def test_a_facility_officer_of_another_home_may_not_search_this_one(home, resident):
    stranger = client_as("facility", facility=FacilityFactory(code="GZ02"))
    response = stranger.get(reverse("staff:facility", args=[home.code]), {"q": "李桂兰"})
    assert response.status_code == 403
    assert "李桂兰" not in response.content.decode()


def test_the_search_and_the_figures_are_in_chinese(home, officer, resident):
    with translation.override("zh-hans"):
        url = reverse("staff:facility", args=[home.code])
    page = officer.get(url, {"q": "李"}).content.decode()
    assert '<html lang="zh-hans">' in page
    for words in ("查找床位", "床位状态", "找到 1 张床位", "轮候队列"):
        assert words in page, words
    assert found(page) == ["B0002"]


def test_a_bed_found_carries_its_act(home, officer, resident):
    page = board(officer, home, q="B0002")
    bed = Bed.objects.get(facility=home, code="B0002")
    assert reverse("staff:bed_action", args=[home.code, bed.pk, "discharge"]) in page


def test_the_table_and_the_cards_record_a_discharge_through_its_confirmation_page(home, officer, resident):
    """R-BED-2: the discharge form posts as a page (its confirmation), never by htmx, whether the bed is
    shown as a card or as a row of the table of beds found; the table and the cards share one form."""
    discharge = reverse("staff:bed_action", args=[home.code, resident.occupancy.bed_id, "discharge"])
    for page in (board(officer, home), board(officer, home, q="桂兰")):
        form = re.search(rf'<form method="post" action="{re.escape(discharge)}(\?[^"]*)?"[^>]*>', page)
        assert form is not None
        assert "hx-post" not in form.group(0)


# --- paging the board of a large home (issue 15) -------------------------------------------------
def cards(page: str) -> list[str]:
    """The bed codes on the board's cards, in the page's order."""
    return re.findall(r'<li class="bed bed-\w+" id="bed-\d+">\s*<p class="bed-head"><strong>(B\d{4})</strong>', page)


@pytest.fixture
def large_home(home):
    """More beds than one page holds: nursing beds occupied, then general vacant, then nursing
    vacant and general out of service, added in an order that is not the board's."""
    add_beds(home, general=10, status=BedStatus.OUT_OF_SERVICE)
    add_beds(home, nursing=BED_PAGE_SIZE + 30, status=BedStatus.OCCUPIED)
    add_beds(home, general=20, status=BedStatus.VACANT)
    add_beds(home, nursing=5, status=BedStatus.VACANT)
    return home


def test_the_unfiltered_board_of_a_large_home_shows_one_page_of_cards_and_pages_through_all(large_home, officer):
    total = Bed.objects.filter(facility=large_home).count()
    assert total > 2 * BED_PAGE_SIZE
    pages, seen = -(-total // BED_PAGE_SIZE), []
    for number in range(1, pages + 1):
        page = board(officer, large_home, bed_page=number)
        on_page = cards(page)
        assert len(on_page) == (BED_PAGE_SIZE if number < pages else total - BED_PAGE_SIZE * (pages - 1))
        seen += on_page
        assert f"Page {number} of {pages}" in page
        assert (f"bed_page={number + 1}#beds" in page) == (number < pages)
        # The summary figures at the top and the queue one click away, on every page.
        assert '<dl class="facility-figures">' in page and '<a href="#queue">' in page
    assert sorted(seen) == sorted(Bed.objects.filter(facility=large_home).values_list("code", flat=True))
    # By type (nursing first), then status in the order of the board, then code: groups run on.
    expected = list(bed_board(large_home, grouped=True).values_list("code", flat=True))
    assert seen == expected
    assert seen[:5] == sorted(
        Bed.objects.filter(facility=large_home, bed_type="nursing", status="vacant").values_list("code", flat=True)
    )


def test_a_group_heading_counts_the_home_s_beds_of_its_kind_not_the_page_s(large_home, officer):
    page = board(officer, large_home)
    occupied = Bed.objects.filter(facility=large_home, bed_type="nursing", status=BedStatus.OCCUPIED).count()
    assert f'<h4 id="beds-nursing-occupied">occupied ({occupied})</h4>' in page
    assert len(cards(page)) == BED_PAGE_SIZE < 5 + occupied


def test_a_small_home_s_board_has_no_pager(home, officer, resident):
    page = board(officer, home)
    assert len(cards(page)) == 7 and "Pages of the bed board" not in page


def test_a_search_pages_and_its_pager_keeps_the_search(large_home, officer):
    page = board(officer, large_home, q="B0", status="occupied")
    occupied = Bed.objects.filter(facility=large_home, status=BedStatus.OCCUPIED).count()
    assert len(found(page)) == BED_PAGE_SIZE and cards(page) == []
    assert "q=B0&amp;status=occupied&amp;bed_page=2#beds" in page
    second = board(officer, large_home, q="B0", status="occupied", bed_page=2)
    assert len(found(second)) == occupied - BED_PAGE_SIZE


def test_an_act_on_a_bed_of_the_second_page_comes_back_to_that_page(large_home, officer):
    second = board(officer, large_home, bed_page=2)
    vacant = Bed.objects.get(
        facility=large_home,
        code=[c for c in cards(second) if Bed.objects.get(facility=large_home, code=c).status == BedStatus.VACANT][0],
    )
    action = reverse("staff:bed_action", args=[large_home.code, vacant.pk, "out-of-service"])
    assert f'action="{action}?bed_page=2"' in second
    response = officer.post(
        f"{action}?bed_page=2", {f"bed{vacant.pk}-reason": "repairs", "form_token": "p2"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert cards(response.content.decode()) == cards(board(officer, large_home, bed_page=2))
    vacant.refresh_from_db()
    assert vacant.status == BedStatus.OUT_OF_SERVICE


def test_the_paged_board_reads_in_chinese(large_home, officer):
    with translation.override("zh-hans"):
        page = officer.get(reverse("staff:facility", args=[large_home.code])).content.decode()
    total = Bed.objects.filter(facility=large_home).count()
    assert f"第1至{BED_PAGE_SIZE}张床位，共{total}张" in page and 'aria-label="床位一览分页"' in page
