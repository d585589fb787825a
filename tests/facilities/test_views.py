"""Staff pages for homes and beds (issue 4): the list of homes, one home's bed board, quota gauge,
queue and decisions, and the acts on its beds. The rules are the services'; these tests check the
pages: who may see and act, that each act calls its service once, and that a refusal changes
nothing and shows the field's error."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from admissions.models import AllocationDecision, Offer
from facilities.models import Bed, BedStatus, Facility
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, queued_application
from web.views import facility_pages as facility_views

pytestmark = pytest.mark.django_db


def client_as(*roles: str, facility: Facility | None = None) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles) or 'none'}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


def page_url(facility: Facility) -> str:
    return reverse("staff:facility", args=[facility.code])


def bed_url(bed: Bed, action: str) -> str:
    return reverse("staff:bed_action", args=[bed.facility.code, bed.pk, action])


def discharge(
    client: Client, bed: Bed, *, reason: str = "deceased", date: str = "", token: str = "t-1", confirm="yes", **extra
):
    """The discharge's POST; `confirm` is the confirmation page's hidden field (issue 15)."""
    return client.post(
        bed_url(bed, "discharge"),
        {f"bed{bed.pk}-reason": reason, f"bed{bed.pk}-date": date, "form_token": token, "confirm": confirm},
        **extra,
    )


@pytest.fixture
def home() -> Facility:
    return FacilityFactory(code="YX01", name="越秀区福利院", phone="020-1234")


@pytest.fixture
def officer(home) -> Client:
    return client_as("facility", facility=home)


# --- the list of homes -----------------------------------------------------------------------------
def test_a_reviewer_sees_every_home_with_its_beds_vacancies_queue_and_quota_headroom(home):
    add_beds(home, nursing=6, general=3, status="occupied")
    add_beds(home, general=1, status="vacant")
    other = FacilityFactory(code="GZ02", name="Home GZ02")
    queued_application(choices=["YX01"])
    response = client_as("reviewer").get(reverse("staff:facilities"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "越秀区福利院" in page and other.name in page
    row = re.search(r"越秀区福利院.*?</tr>", page, re.S).group(0)
    # 10 in service, 1 vacant, 1 in the queue, cap ⌊10 × 0.22⌋ = 2 with 3 taken → 0 free.
    cells = re.findall(r'<td class="num">\s*([^<\s]+)', row)
    assert cells[:3] == ["10", "1", "1"]
    assert "0 (3 of 2 taken)" in row


def test_a_facility_officer_is_sent_straight_to_their_own_home(home, officer):
    response = officer.get(reverse("staff:facilities"))
    assert response.status_code == 302
    assert response["Location"] == page_url(home)


def test_the_homes_are_not_for_an_intake_officer_and_ask_a_stranger_to_log_in(home):
    assert client_as("intake").get(reverse("staff:facilities")).status_code == 403
    assert client_as("intake").get(page_url(home)).status_code == 403
    for url in (reverse("staff:facilities"), page_url(home)):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- one home's page -------------------------------------------------------------------------------
def test_the_home_page_shows_the_bed_board_quota_gauges_queue_and_decisions(home, officer):
    """STORIES.md story 4: the quota gauge and the decision are on the facility page."""
    add_beds(home, nursing=9, status="occupied")
    add_beds(home, nursing=1, status="vacant")
    first_in = queued_application(grade=3, choices=["YX01"])  # approved first: takes the bed at once
    waiting = queued_application(grade=2, choices=["YX01"])
    offer = Offer.objects.get(application=first_in)
    response = officer.get(page_url(home))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<h1") == 1
    bed = offer.bed
    assert f'id="bed-{bed.pk}"' in page
    assert "Offered to:" in page and first_in.reference in page
    assert reverse("staff:offer", args=[offer.pk]) in page
    # the gauges: text, and meters with a name: cap ⌊10 × 0.22⌋ = 2, none taken; all held beds nursing
    assert "0 of 2 taken" in page and 'aria-labelledby="gauge-self-care"' in page
    assert "100.0 % (target 78.0 %)" in page and 'aria-labelledby="gauge-share"' in page
    assert page.count("<meter") == 2
    # the queue: both entries, positions 1 and 2, with the score's parts
    assert waiting.reference in page and "care need 20, age" in page
    # the decision for the bed, newest first, with the trigger in words
    assert "an application approved into the queue" in page


def test_a_skip_reason_is_written_in_plain_words(home, officer):
    add_beds(home, general=1, status="occupied")
    nursing = queued_application(grade=2, choices=["YX01"])  # nursing care: cannot take a general bed
    Bed.objects.filter(facility=home).update(status=BedStatus.VACANT, holder_care_level=None)
    officer.post(reverse("staff:facility_allocate", args=["YX01"]), {"form_token": "a-1"})
    page = officer.get(page_url(home)).content.decode()
    assert nursing.reference in page
    assert "needs nursing care, and this is a general bed" in page
    assert "bed_type_mismatch" not in page


def test_a_vacant_general_bed_is_shown_blocked_by_the_quota_when_no_self_care_place_is_free(home, officer):
    """R-NQ-1: a home with 4 beds has a cap of 0, so its general beds stay empty."""
    add_beds(home, general=4, status="vacant")
    page = officer.get(page_url(home)).content.decode()
    assert page.count("Blocked by the quota") == 4
    assert "No place for self-care is free." in page


def test_a_general_bed_is_not_blocked_while_self_care_places_are_free(home, officer):
    add_beds(home, nursing=8, status="occupied")
    add_beds(home, general=2, status="vacant")  # cap ⌊10 × 0.22⌋ = 2, none taken
    assert "Blocked by the quota" not in officer.get(page_url(home)).content.decode()


def test_a_reviewer_sees_the_home_but_not_its_bed_actions_and_may_not_post_them(home):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    reviewer = client_as("reviewer")
    page = reviewer.get(page_url(home)).content.decode()
    assert "Record a discharge" not in page and "Allocate vacant beds now" not in page
    assert discharge(reviewer, bed).status_code == 403
    assert reviewer.post(reverse("staff:facility_allocate", args=["YX01"])).status_code == 403
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED


def test_a_facility_officer_may_not_see_or_act_on_another_home(home):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    stranger = client_as("facility", facility=FacilityFactory(code="GZ02"))
    assert stranger.get(page_url(home)).status_code == 403
    assert discharge(stranger, bed).status_code == 403
    assert stranger.post(reverse("staff:facility_allocate", args=["YX01"])).status_code == 403
    assert stranger.get(reverse("staff:facility_queue", args=["YX01"]), HTTP_HX_REQUEST="true").status_code == 403
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED


def test_an_unknown_home_or_bed_or_act_is_a_404(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    assert officer.get("/en/staff/facilities/NOPE/").status_code == 404
    assert officer.post(f"/en/staff/facilities/YX01/beds/{bed.pk + 99}/discharge/").status_code == 404
    assert officer.post(f"/en/staff/facilities/YX01/beds/{bed.pk}/paint/").status_code == 404


# --- bed acts --------------------------------------------------------------------------------------
def test_a_discharge_frees_the_bed_and_offers_it_to_the_next_in_the_queue(home, officer):
    """R-BED-2 and STORIES.md story 4."""
    (bed,) = add_beds(home, nursing=1, status="occupied")
    mrs_chen = queued_application(grade=2, choices=["YX01"])
    response = discharge(officer, bed, reason="deceased", date=timezone.localdate().isoformat())
    assert response.status_code == 302
    assert response["Location"] == f"{page_url(home)}#bed-{bed.pk}"
    bed.refresh_from_db()
    assert bed.status == BedStatus.RESERVED
    decision = AllocationDecision.objects.get(facility=home)
    assert decision.trigger == "discharge:deceased" and decision.chosen["reference"] == mrs_chen.reference
    offer = Offer.objects.get(application=mrs_chen)
    assert offer.bed == bed
    event = mrs_chen.events.get(transition="make_offer")
    assert event.data["started_by"] == User.objects.get(groups__name="facility").username
    followed = officer.get(response["Location"]).content.decode()
    assert f"Bed {bed.code}: the discharge is recorded. It was offered to {mrs_chen.reference}." in followed


def test_a_discharge_dated_tomorrow_is_refused_with_the_field_error_and_changes_nothing(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = discharge(officer, bed, reason="discharged", date=tomorrow)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="id_bed{bed.pk}-date_error"' in page and "must not be in the future" in page
    assert f'value="{tomorrow}"' in page  # what was typed is kept
    assert '<option value="discharged" selected>' in page
    assert f'aria-describedby="id_bed{bed.pk}-date_helptext id_bed{bed.pk}-date_error"' in page
    assert "nothing was changed" in page
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED and not AllocationDecision.objects.exists()


def test_a_discharge_without_a_reason_is_refused_on_the_reason_field(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    response = discharge(officer, bed, reason="")
    assert response.status_code == 200
    assert f'id="id_bed{bed.pk}-reason_error"' in response.content.decode()
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED


def test_the_same_discharge_sent_twice_is_done_once(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    first = discharge(officer, bed, token="double-1")
    second = discharge(officer, bed, token="double-1")
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert AllocationDecision.objects.filter(facility=home).count() == 1


def test_a_vacant_bed_goes_out_of_service_and_comes_back_to_be_offered(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    add_beds(home, nursing=1, status="vacant")
    spare = Bed.objects.get(facility=home, status=BedStatus.VACANT)
    response = officer.post(
        bed_url(spare, "out-of-service"), {f"bed{spare.pk}-reason": "new floor", "form_token": "o-1"}
    )
    assert response.status_code == 302
    spare.refresh_from_db()
    assert spare.status == BedStatus.OUT_OF_SERVICE and spare.out_of_service_reason == "new floor"
    applicant = queued_application(grade=2, choices=["YX01"])  # no vacant bed: waits
    assert not Offer.objects.filter(application=applicant).exists()
    response = officer.post(bed_url(spare, "return-to-service"), {"form_token": "r-1"})
    assert response.status_code == 302
    spare.refresh_from_db()
    assert spare.status == BedStatus.RESERVED
    assert Offer.objects.get(application=applicant).bed == spare
    assert AllocationDecision.objects.get(facility=home).trigger == "bed_returned_to_service"


def test_an_occupied_bed_cannot_go_out_of_service_and_the_page_says_why(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    response = officer.post(bed_url(bed, "out-of-service"), {f"bed{bed.pk}-reason": "", "form_token": "o-2"})
    assert response.status_code == 200
    assert "Only a vacant bed can be taken out of service" in response.content.decode()
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED


def test_with_htmx_a_bed_act_answers_with_the_page_to_swap_in_place(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    response = discharge(officer, bed, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="facility-live"' in page and 'id="facility-status"' in page
    assert f"Bed {bed.code}: the discharge is recorded." in page
    bed.refresh_from_db()
    assert bed.status == BedStatus.VACANT


# --- allocate now ----------------------------------------------------------------------------------
def test_allocate_now_offers_each_vacant_bed_and_records_the_decisions_once(home, officer):
    """R-ALLOC-3 (a staff member's request) and STORIES.md story 7: sent twice, done once."""
    applicant = queued_application(grade=2, choices=["YX01"])
    add_beds(home, nursing=2, status="vacant")  # straight into the table: nobody allocated them yet
    url = reverse("staff:facility_allocate", args=["YX01"])
    first = officer.post(url, {"form_token": "alloc-1"})
    second = officer.post(url, {"form_token": "alloc-1"})
    assert first.status_code == second.status_code == 302
    decisions = AllocationDecision.objects.filter(facility=home)
    assert decisions.count() == 2 and {d.trigger for d in decisions} == {"staff_request"}
    assert Offer.objects.filter(application=applicant).count() == 1
    page = officer.get(first["Location"]).content.decode()
    assert "Vacant beds allocated: 2. Offers made: 1. Still vacant: 1." in page


def test_allocate_now_with_no_vacant_bed_says_so(home, officer):
    add_beds(home, nursing=1, status="occupied")
    response = officer.post(reverse("staff:facility_allocate", args=["YX01"]), {"form_token": "alloc-2"}, follow=True)
    assert "There is no vacant bed to allocate." in response.content.decode()


# --- queue and decision pages ----------------------------------------------------------------------
def test_the_queue_is_paged_in_place_with_htmx_and_positions_count_the_whole_queue(home, monkeypatch):
    monkeypatch.setattr(facility_views, "QUEUE_PAGE_SIZE", 2)
    entries = [queued_application(grade=grade, choices=["YX01"]) for grade in (3, 2, 1)]
    reviewer = client_as("reviewer")
    url = reverse("staff:facility_queue", args=["YX01"])
    fragment = reviewer.get(url, {"page": "2"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "<html" not in text and text.lstrip().startswith('<section id="queue"')
    assert entries[2].reference in text and entries[0].reference not in text
    assert re.search(r'<td class="num">3</td>\s*<th scope="row">', text)  # position 3 on page 2
    assert 'hx-get="' + url + '?page=1"' in text and 'aria-label="Pages of the queue"' in text
    # Without htmx, the browser is sent to the whole page at that page of the queue.
    plain = reviewer.get(url, {"page": "2"})
    assert plain.status_code == 302 and plain["Location"] == f"{page_url(home)}?queue_page=2#queue"
    whole = reviewer.get(page_url(home), {"queue_page": "2"}).content.decode()
    assert entries[2].reference in whole


def test_the_queue_shows_50_a_page_and_the_second_page_runs_on_in_queue_order_r_q_2(home, monkeypatch):
    """Issue 18: paged as the queue API is (50 a page); the positions of a later page are the real
    R-Q-4 positions, in R-Q-2 order (higher care grade first here), and the counts stay at the top.
    The page size is made 2 so a handful of applications fill three pages."""
    assert facility_views.QUEUE_PAGE_SIZE == 50
    monkeypatch.setattr(facility_views, "QUEUE_PAGE_SIZE", 2)
    by_grade = {grade: queued_application(grade=grade, choices=["YX01"]) for grade in (1, 4, 2, 3, 0)}
    page = client_as("reviewer").get(page_url(home), {"queue_page": "2"}).content.decode()
    rows = re.findall(r'<td class="num">(\d+)</td>\s*<th scope="row"><a href="[^"]*">([^<]+)</a>', page)
    assert rows == [("3", by_grade[2].reference), ("4", by_grade[1].reference)]
    assert "5 open entries, in the order beds are offered" in page
    assert "Queue, page 2 of 3" in page


def test_a_reference_found_in_the_queue_opens_its_page_with_its_row_marked(home, monkeypatch):
    """Issue 18: jump to a reference: the page holding its R-Q-4 position; typed as a family or an
    officer might (lower case, full-width digits) it is still found."""
    monkeypatch.setattr(facility_views, "QUEUE_PAGE_SIZE", 2)
    by_grade = {grade: queued_application(grade=grade, choices=["YX01"]) for grade in (4, 3, 2, 1, 0)}
    wanted = by_grade[1].reference  # the fourth: the last row of page 2
    typed = wanted.translate(str.maketrans("0123456789", "０１２３４５６７８９")).lower()
    page = client_as("reviewer").get(page_url(home), {"queue_ref": typed}).content.decode()
    assert "Queue, page 2 of 3" in page
    found = re.search(
        r'<tr class="found" aria-current="true">\s*<td class="num">(\d+)</td>\s*<th scope="row"><a[^>]*>([^<]+)<', page
    )
    assert found and found.groups() == ("4", wanted)
    assert page.count('class="found"') == 1


def test_a_reference_not_in_this_queue_says_so_by_the_field_and_shows_the_first_page(home):
    """Issue 18: an unknown reference, or one queued at another home, is an error naming the field,
    never a 500; the queue's first page is still shown."""
    FacilityFactory(code="YX02")
    here = queued_application(grade=2, choices=["YX01"])
    elsewhere = queued_application(grade=2, choices=["YX02"])
    for reference in (elsewhere.reference, "2099-999999"):
        response = client_as("reviewer").get(page_url(home), {"queue_ref": reference})
        page = response.content.decode()
        assert response.status_code == 200
        assert f"Application reference: No application with the reference {reference} is in this home" in page
        assert 'id="id_queue_ref_error"' in page and here.reference in page


def test_a_nonsense_page_number_shows_a_page_rather_than_an_error(home, officer):
    for value in ("x", "-1", "99999999999999999999", "<script>"):
        response = officer.get(page_url(home), {"queue_page": value, "decisions_page": value})
        assert response.status_code == 200


def test_the_decisions_are_paged_with_htmx_newest_first(home, officer, monkeypatch):
    monkeypatch.setattr(facility_views, "DECISIONS_PAGE_SIZE", 1)
    add_beds(home, nursing=2, status="vacant")
    officer.post(reverse("staff:facility_allocate", args=["YX01"]), {"form_token": "alloc-3"})
    url = reverse("staff:facility_decisions", args=["YX01"])
    first = officer.get(url, {"page": "1"}, HTTP_HX_REQUEST="true").content.decode()
    second = officer.get(url, {"page": "2"}, HTTP_HX_REQUEST="true").content.decode()
    assert "No. 2: bed" in first and "No. 1: bed" in second
    assert officer.get(url).status_code == 302


# --- language --------------------------------------------------------------------------------------
def test_the_home_page_is_in_chinese_by_default_and_a_refusal_too(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    add_beds(home, nursing=1, status="vacant")
    with translation.override("zh-hans"):
        url = page_url(home)
        action = bed_url(bed, "discharge")
    assert not url.startswith("/en/")
    page = officer.get(url).content.decode()
    assert '<html lang="zh-hans">' in page and "空置" in page
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    refused = officer.post(
        action, {f"bed{bed.pk}-reason": "deceased", f"bed{bed.pk}-date": tomorrow, "confirm": "yes"}
    ).content
    assert "不得晚于今天" in refused.decode()


# --- confirmation before a discharge (issue 15, R-BED-2) ------------------------------------------
def test_the_first_discharge_post_changes_nothing_and_says_the_bed_is_offered_at_once_r_bed_2(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    response = discharge(officer, bed, reason="deceased", token="first", confirm="")
    assert response.status_code == 200
    page = response.content.decode()
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED
    assert "The bed becomes vacant and is offered at once to the next person in the queue." in page
    assert 'name="confirm" value="yes"' in page and 'value="first"' in page and 'value="deceased"' in page
    confirmed = discharge(officer, bed, reason="deceased", token="first")
    assert confirmed.status_code == 302
    bed.refresh_from_db()
    assert bed.status == BedStatus.VACANT


def test_the_discharge_confirmation_names_the_resident_and_the_day(home, officer):
    """Issue 15: who leaves, on which day, in the page's date format (shared confirmation page)."""
    from admissions.services.offers import offer_accept, offer_admit
    from tests.factories import actor

    (bed,) = add_beds(home, nursing=1, status="vacant")
    resident = queued_application(choices=[home.code], name="陈秀英")
    offer = offer_accept(offer=resident.offers.get(state="pending"), actor=actor("intake"))
    offer_admit(offer=offer, actor=actor("facility"))
    with translation.override("en"):
        page = discharge(officer, bed, reason="discharged", date="2026-03-04", confirm="").content.decode()
    assert "<dd>陈秀英 · " + resident.reference + "</dd>" in page
    assert "<dd>4 March 2026</dd>" in page and f'name="bed{bed.pk}-date" value="2026-03-04"' in page


def test_a_first_discharge_post_without_a_reason_shows_the_field_error_and_changes_nothing(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    response = discharge(officer, bed, reason="", confirm="")
    assert response.status_code == 200
    assert "Check before recording the discharge" not in response.content.decode()
    bed.refresh_from_db()
    assert bed.status == BedStatus.OCCUPIED


def test_the_discharge_confirmation_page_is_in_chinese(home, officer):
    (bed,) = add_beds(home, nursing=1, status="occupied")
    with translation.override("zh-hans"):
        action = bed_url(bed, "discharge")
    page = officer.post(action, {f"bed{bed.pk}-reason": "deceased", "form_token": "zh"}).content.decode()
    assert "登记离院前请核对" in page and "立即分配给轮候队列中的下一位" in page
