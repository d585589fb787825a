"""The family portal (issue 5; SPEC §8 R-PUB-1…5; STORIES 3 and 4): the start page, the status
lookup, the city's homes and each home's queue board, and the receipt's QR code."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import segno
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from admissions.models import Offer
from admissions.public import mask_reference
from admissions.services import applications as app_services
from admissions.services.beds import bed_discharge
from admissions.services.lookup import LookupNotFound, public_lookup
from admissions.services.offers import offer_accept
from facilities.models import Bed
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, UserFactory, actor, add_beds, intake, queued_application
from tests.spec import LOOKUP_FAILURES_PER_ADDRESS, LOOKUP_FAILURES_PER_REFERENCE
from web.qr import qr_svg

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DIBAO = {"verify": ("dibao",), "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}]}
NOT_FOUND = "We could not find an application with this reference and lookup code."
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    return Client()


def status_url() -> str:
    return reverse("portal:status")


def submitted(**overrides):
    """A submitted application and the lookup code printed on its receipt."""
    FacilityFactory(code="YX01", name="越秀区老人院")
    overrides.setdefault("choices", ["YX01"])
    overrides.setdefault("name", "陈秀英")
    return app_services.application_create(data=intake(**overrides), submit=True, actor=actor("intake"))


def new_code(application) -> str:
    return app_services.lookup_code_issue(application=application, actor=actor("intake"))


def wrong(code: str) -> str:
    """Another well-formed code."""
    return "".join("Z" if c != "Z" else "Y" for c in code)


def lookup(client, reference, code, **extra):
    return client.post(status_url(), {"reference": reference, "code": code}, **extra)


def text_of(response) -> str:
    return response.content.decode()


def main_of(response) -> str:
    """The page's own content (the shared header carries the page's address for the language switch)."""
    return text_of(response).split('<main id="content"', 1)[1]


def without_csrf(response) -> bytes:
    return CSRF.sub(b"", response.content)


# --- the start page ------------------------------------------------------------------------------------
def test_the_start_page_offers_the_lookup_form_the_homes_and_the_staff_log_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    text = text_of(response)
    assert text.count("<h1") == 1
    assert f'action="{status_url()}"' in text and 'method="post"' in text
    assert 'name="reference"' in text and 'name="code"' in text
    assert reverse("portal:boards") in text
    assert reverse("login") in text
    assert "css/portal.css" in text


def test_the_start_page_is_in_chinese_at_the_site_root(client):
    response = client.get("/")
    assert response.status_code == 200
    text = text_of(response)
    assert '<html lang="zh-hans">' in text
    assert "工作人员登录" in text  # "Staff log in"
    assert 'action="/status/"' in text


def test_the_start_page_links_a_signed_in_staff_member_to_the_staff_pages(client):
    user = UserFactory(username="portal-intake")
    roles_assign(user=user, roles=["intake"])
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert f'href="{reverse("staff:dashboard")}"' in text_of(response)


# --- the lookup form ----------------------------------------------------------------------------------------
def test_the_status_page_fills_in_the_reference_from_the_receipts_qr_code(client):
    response = client.get(status_url(), {"reference": "2026-000023"})
    assert response.status_code == 200
    assert 'value="2026-000023"' in text_of(response)
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("reference", ['"><script>alert(1)</script>', "2026-000023' OR '1'='1", "x" * 500])
def test_a_link_with_a_strange_reference_gets_the_empty_form_and_echoes_nothing(client, reference):
    response = client.get(status_url(), {"reference": reference})
    assert response.status_code == 200
    assert "<script>alert" not in text_of(response)  # the header's copy of the address is escaped
    text = main_of(response)
    assert "<script>alert" not in text and "alert(1)" not in text and "OR '1'" not in text and "x" * 100 not in text


def test_a_code_in_the_link_is_never_used_for_a_lookup(client):
    """The code travels only in a POST body, never in a URL."""
    application, code = submitted()
    response = client.get(status_url(), {"reference": application.reference, "code": code})
    assert response.status_code == 200
    text = main_of(response)
    assert "State:" not in text and "陈*英" not in text and code not in text


def test_the_lookup_needs_the_csrf_token():
    application, code = submitted()
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(status_url(), {"reference": application.reference, "code": code})
    assert response.status_code == 403


def test_other_methods_on_the_status_page_are_refused(client):
    assert client.put(status_url()).status_code == 405
    assert client.delete(status_url()).status_code == 405


# --- the answer (R-PUB-1, R-PUB-3) -----------------------------------------------------------------------------
def test_the_right_reference_and_code_show_the_state_in_plain_words(client):
    application, code = submitted()
    response = lookup(client, application.reference, code)
    assert response.status_code == 200
    text = text_of(response)
    assert text.count("<h1") == 1
    assert application.reference in text
    assert "State: submitted" in text
    assert "The intake office checks it before the care-needs assessment." in text
    assert "The intake office is checking the application." in text  # what happens next
    assert "陈*英" in text
    assert "no-store" in response["Cache-Control"]


def test_the_page_shows_the_name_masked_and_never_the_id_number_the_phone_or_the_code(client):
    """R-PUB-3."""
    application, code = submitted()
    text = text_of(lookup(client, application.reference, code))
    applicant = application.applicant
    assert "陈秀英" not in text
    assert applicant.id_number not in text and applicant.masked_id_number not in text
    assert applicant.id_number[-4:] not in text
    assert applicant.phone not in text and "13900000000" not in text  # the applicant's and the contact's
    assert code not in text and code.lower() not in text


def test_the_code_is_read_without_regard_to_case_or_spaces(client):
    """R-PUB-1."""
    application, code = submitted()
    response = lookup(client, f"  {application.reference.lower()} ", f" {code[:3].lower()} {code[3:]} ")
    assert response.status_code == 200
    assert "State: submitted" in text_of(response)


def test_story_3_a_waiting_application_shows_position_ahead_score_parts_channel_and_estimate(client):
    """STORIES 3 (R-PUB-3, R-Q-4, R-Q-5): position 2, 1 ahead for a nursing bed, score 28 = care 20
    + age 5 + lives alone 3 + waiting 0, special channel for the verified 低保, no estimate yet."""
    with time_machine.travel(dt.datetime(2026, 6, 1, 19, 30, tzinfo=SHANGHAI), tick=False):
        home = FacilityFactory(code="YX01", name="越秀区老人院", phone="020-8888 0000")
        add_beds(home, nursing=5)  # full
        queued_application(choices=["YX01"], grade=3, name="王大明", **DIBAO)
        application = queued_application(choices=["YX01"], grade=2, lives_alone=True, **DIBAO)
        code = new_code(application)
        response = lookup(client, application.reference, code)
    assert response.status_code == 200
    text = text_of(response)
    assert "State: waiting in the queue" in text
    assert "越秀区老人院" in text
    assert "Position 2 in the queue" in text
    assert "1 ahead needs nursing care, like this application." in text
    assert "<strong>28</strong>" in text
    assert "care need 20" in text and "age 5" in text and "family situation 3" in text
    assert "waiting time 0: it rises by 1 every 30 days" in text
    assert "special safeguard" in text and "低保" in text
    assert "Not enough history yet to estimate the wait at this home." in text
    assert "not a promise" in text
    assert formats.date_format(application.current_assessment.valid_until, "DATE_FORMAT") in text
    assert "020-8888 0000" in text  # whom to call
    assert reverse("portal:board", args=["YX01"]) in text


def test_the_page_holds_no_other_persons_data(client):
    """R-PUB-3: not even someone in the same queue."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2)  # full: both wait
    other = queued_application(choices=["YX01"], name="王大明", grade=3)
    mine = queued_application(choices=["YX01"], name="陈秀英", **DIBAO)
    text = text_of(lookup(client, mine.reference, new_code(mine)))
    assert "Position 1 in the queue" in text
    for value in [other.reference, mask_reference(other.reference), "王大明", "王*明", other.applicant.id_number]:
        assert value not in text


def test_a_pending_offer_shows_both_deadlines_the_homes_address_phone_and_what_to_bring(client):
    """R-PUB-3 (STORIES 4): the daughter sees where to call and by when."""
    home = FacilityFactory(code="YX01", name="越秀区老人院", phone="020-8888 0000", address="越秀区 2 号")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], grade=3)
    offer = Offer.objects.get(application=application, state="pending")
    response = lookup(client, application.reference, new_code(application))
    assert response.status_code == 200
    text = text_of(response)
    assert "A bed is offered at 越秀区老人院" in text
    with timezone.override(SHANGHAI):
        assert formats.date_format(timezone.localtime(offer.respond_by), "DATETIME_FORMAT") in text
    assert "This deadline is set when the offer is accepted." in text
    assert "越秀区 2 号" in text and 'href="tel:020-88880000"' in text
    assert "Bring the resident ID card, the receipt and recent medical records." in text


def test_an_accepted_offer_shows_the_admission_deadline(client):
    home = FacilityFactory(code="YX01", name="越秀区老人院", address="越秀区 2 号")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], grade=3)
    offer = offer_accept(offer=Offer.objects.get(application=application, state="pending"), actor=actor("facility"))
    text = text_of(lookup(client, application.reference, new_code(application)))
    assert "Offer accepted: a bed at 越秀区老人院" in text
    assert "Answered: accepted." in text
    assert formats.date_format(timezone.localtime(offer.admit_by), "DATETIME_FORMAT") in text


def test_the_status_page_reads_in_chinese_at_the_site_root(client):
    """R-PUB-5: Simplified Chinese by default."""
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    add_beds(home, nursing=1)
    application = queued_application(choices=["YX01"], **DIBAO)
    response = client.post("/status/", {"reference": application.reference, "code": new_code(application)})
    assert response.status_code == 200
    text = text_of(response)
    assert '<html lang="zh-hans">' in text
    assert "轮候中" in text and "特殊保障" in text and "护理型" in text


# --- failed lookups: one calm page (R-PUB-1) ---------------------------------------------------------------------
def test_a_wrong_reference_and_a_wrong_code_get_the_same_calm_page(client):
    """R-PUB-1 (STORIES 3): nothing says whether the reference exists."""
    application, code = submitted()
    mistyped = lookup(client, application.reference, wrong(code))
    unknown = lookup(client, "2026-999999", code)
    assert mistyped.status_code == unknown.status_code == 404
    assert NOT_FOUND in text_of(mistyped)
    assert without_csrf(mistyped) == without_csrf(unknown)
    assert application.reference not in text_of(mistyped)
    assert code not in text_of(unknown)


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        ("", ""),
        ("   ", "ABCDEF"),
        ("2026-000001", ""),
        ("2026-000001", "12"),
        ("x" * 65, "ABCDEF"),
        ("2026-000001", "A" * 10_000),
        ("<script>alert('ref')</script>", "<img src=x onerror=alert(1)>"),
        ("2026-000001\x00", "ABCDEF"),
        ("2026-000001' OR '1'='1", "ABCDEF"),
        ("２０２６－０００００１", "ＡＢＣＤＥＦ"),
        ("{{ 7*7 }}", "${7*7}"),
    ],
)
def test_empty_malformed_overlong_or_script_laden_input_gets_the_same_calm_page(client, reference, code):
    """Issue 5 "Bad input": the same page as a wrong code, nothing echoed, never a 500."""
    submitted()
    expected = lookup(client, "2026-999999", "ABCDEF")
    response = lookup(client, reference, code)
    assert response.status_code == 404
    assert without_csrf(response) == without_csrf(expected)
    text = without_csrf(response).decode()  # a random token could hold any two digits
    assert "<script>alert" not in text and "onerror" not in text and "49" not in text


def test_a_lookup_with_missing_fields_gets_the_same_calm_page(client):
    expected = lookup(client, "2026-999999", "ABCDEF")
    response = client.post(status_url(), {})
    assert response.status_code == 404
    assert without_csrf(response) == without_csrf(expected)


def test_the_failed_lookup_page_marks_both_fields_and_ties_them_to_the_message(client):
    """WCAG: the error is announced and described on each field."""
    text = text_of(lookup(client, "2026-999999", "ABCDEF"))
    assert 'id="lookup-error" role="alert"' in text
    assert text.count('aria-invalid="true"') == 2
    assert 'aria-describedby="id_reference_help lookup-error"' in text
    assert 'aria-describedby="id_code_help lookup-error"' in text


def test_the_page_adds_no_database_work_to_a_failed_lookup(client):
    """Issue 5: never slower for a wrong code than for a right one. The service does the same work
    for every mismatch (admissions/services/lookup.py); the page adds none on the failing path."""
    application, code = submitted()
    with CaptureQueriesContext(connection) as service_only:
        with pytest.raises(LookupNotFound):
            public_lookup(reference=application.reference, code=wrong(code), client_address="192.0.2.1")
    cache.clear()
    with CaptureQueriesContext(connection) as wrong_code:
        assert lookup(client, application.reference, wrong(code), REMOTE_ADDR="192.0.2.1").status_code == 404
    cache.clear()
    with CaptureQueriesContext(connection) as unknown:
        assert lookup(client, "2026-999999", code, REMOTE_ADDR="192.0.2.1").status_code == 404
    assert len(wrong_code) == len(unknown) == len(service_only)


def test_empty_input_is_not_counted_as_a_failed_lookup(client):
    """Not a lookup at all (like the API's 400): a slip of the thumb costs no attempt."""
    application, code = submitted()
    for _ in range(LOOKUP_FAILURES_PER_ADDRESS + 1):
        assert lookup(client, "", "").status_code == 404
    assert lookup(client, application.reference, code).status_code == 200


# --- rate limits (R-PUB-2) ----------------------------------------------------------------------------------
def test_an_address_is_locked_after_ten_failures_even_for_the_right_code(client):
    """R-PUB-2: a friendly page with 429 and Retry-After."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_ADDRESS):
        assert lookup(client, f"2026-9{n:05d}", "ABCDEF", REMOTE_ADDR="203.0.113.7").status_code == 404
    response = lookup(client, application.reference, code, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    text = text_of(response)
    assert "Please try again later" in text and "Too many failed lookups" in text
    assert "You can look the application up again after" in text
    assert "陈*英" not in text and "State:" not in text
    # Another address is not locked.
    assert lookup(client, application.reference, code, REMOTE_ADDR="203.0.113.8").status_code == 200


def test_a_reference_is_locked_after_five_failures_from_any_addresses(client):
    """R-PUB-2: per reference, known or not."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        response = lookup(client, application.reference, wrong(code), REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 404
    response = lookup(client, application.reference, code, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 429
    assert "Retry-After" in response


def test_the_page_and_the_api_share_the_lockout(client):
    """R-PUB-2: one service, one set of counters."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        api = client.post(
            "/api/v1/public/lookup/",
            {"reference": application.reference, "code": wrong(code)},
            content_type="application/json",
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        assert api.status_code == 404
    assert lookup(client, application.reference, code, REMOTE_ADDR="192.0.2.1").status_code == 429


# --- remembering the lookup in this browser ------------------------------------------------------------------------
def test_after_a_lookup_the_page_can_switch_to_english_without_the_code_again(client):
    """STORIES 3: she switches the page to English for her son abroad."""
    application, code = submitted()
    assert client.post("/status/", {"reference": application.reference, "code": code}).status_code == 200
    response = client.get("/en/status/")  # where the language switch leads
    assert response.status_code == 200
    text = text_of(response)
    assert '<html lang="en">' in text and "State: submitted" in text
    assert code not in text


def test_closing_the_page_forgets_the_lookup(client):
    application, code = submitted()
    lookup(client, application.reference, code)
    response = client.post(reverse("portal:status_close"))
    assert response.status_code == 302 and response["Location"] == status_url()
    assert "State: submitted" not in text_of(client.get(status_url()))


def test_a_new_lookup_code_ends_the_remembered_lookup(client):
    """R-PUB-1: staff issuing a new code ends the old one, here too."""
    application, code = submitted()
    lookup(client, application.reference, code)
    new_code(application)
    assert "State: submitted" not in text_of(client.get(status_url()))


def test_the_remembered_lookup_ends_after_half_an_hour(client):
    application, code = submitted()
    lookup(client, application.reference, code)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        assert "State: submitted" not in text_of(client.get(status_url()))


def test_a_qr_link_for_another_reference_shows_the_form_not_the_remembered_lookup(client):
    application, code = submitted()
    lookup(client, application.reference, code)
    response = client.get(status_url(), {"reference": "2026-000099"})
    text = text_of(response)
    assert "State: submitted" not in text and 'value="2026-000099"' in text


def test_another_browser_does_not_see_the_remembered_lookup(client):
    application, code = submitted()
    lookup(client, application.reference, code)
    assert "State: submitted" not in text_of(Client().get(status_url()))


# --- the city's homes and each home's board (R-PUB-4) ------------------------------------------------------------
def test_the_city_page_lists_homes_with_vacancies_queue_lengths_and_nursing_share(client):
    home = FacilityFactory(code="YX01", name="越秀区老人院", phone="020-8888 0000")
    add_beds(home, nursing=3)  # occupied by nursing-level people
    add_beds(home, general=1, holder="self_care")
    add_beds(home, general=2, status="vacant")
    FacilityFactory(code="GZC01", name="广州市老人院", level="city")
    queued_application(choices=["YX01"], grade=1)  # self-care: no nursing bed offered; general beds vacant
    response = client.get(reverse("portal:boards"))
    assert response.status_code == 200
    text = text_of(response)
    assert text.count("<h1") == 1
    assert "越秀区老人院" in text and "广州市老人院" in text
    assert reverse("portal:board", args=["YX01"]) in text and reverse("portal:board", args=["GZC01"]) in text
    assert "Vacant beds" in text and "Waiting in the queue" in text and "Nursing share" in text
    assert "no beds held yet" in text  # GZC01 holds none
    assert "%</dd>" in text


def test_the_city_page_reads_in_chinese(client):
    FacilityFactory(code="GZC01", name="广州市老人院", level="city")
    text = text_of(client.get("/homes/"))
    assert '<html lang="zh-hans">' in text and "市级" in text


@pytest.fixture
def board_home():
    """STORIES 4: a nursing bed falls vacant; a self-care applicant above is skipped
    (reserved_for_nursing) and the nursing-level one below gets the offer."""
    home = FacilityFactory(code="YX01", name="越秀区老人院")
    add_beds(home, nursing=9, general=1)
    self_care = queued_application(grade=1, choices=["YX01"], name="王大明", **DIBAO)
    nursing = queued_application(grade=2, choices=["YX01"], name="陈秀英")
    waiting = queued_application(grade=3, choices=["YX01"], name="李小红")
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    return home, self_care, nursing, waiting


def test_a_homes_board_lists_the_queue_in_order_with_references_masked(client, board_home):
    """R-PUB-4: rank, masked reference, channel, care level, score and month queued; no names."""
    _, self_care, nursing, waiting = board_home
    response = client.get(reverse("portal:board", args=["YX01"]))
    assert response.status_code == 200
    text = text_of(response)
    assert text.count("<h1") == 1 and "越秀区老人院" in text
    ranks = [text.index(mask_reference(a.reference)) for a in (self_care, waiting, nursing)]
    assert ranks == sorted(ranks)  # in queue order
    assert "special safeguard" in text and "self-care" in text and "nursing care" in text
    assert formats.date_format(timezone.localdate().replace(day=1), "YEAR_MONTH_FORMAT") in text
    for application in (self_care, nursing, waiting):
        assert application.reference not in text
        assert application.applicant.name not in text and application.applicant.masked_name not in text
        assert application.applicant.id_number not in text


def test_a_homes_board_shows_its_decisions_with_skip_reasons_in_plain_words(client, board_home):
    """R-PUB-4, R-ALLOC-1 (STORIES 4): anyone can see that the order was kept."""
    _, self_care, _, waiting = board_home
    text = text_of(client.get(reverse("portal:board", args=["YX01"])))
    assert "because a resident passed away" in text
    assert f'Offered to <strong class="reference">{mask_reference(waiting.reference)}</strong> (rank 2' in text
    assert "Passed over: 1 application ranked higher" in text
    assert "this nursing bed was kept for someone further down who needs nursing care" in text
    assert "reserved_for_nursing" not in text


def test_a_homes_board_survives_a_strange_page_number(client, board_home):
    for page in ("abc", "-1", "999999", "<script>"):
        response = client.get(reverse("portal:board", args=["YX01"]), {"page": page})
        assert response.status_code == 200
        assert "<script>" not in text_of(response).split("</head>", 1)[1].replace("<script src=", "")


def test_the_board_of_an_unknown_home_is_a_404_page(client):
    assert client.get(reverse("portal:board", args=["NOPE"])).status_code == 404
    assert client.get("/en/homes/%3Cscript%3E/").status_code == 404


def test_the_public_pages_need_no_account_and_show_no_staff_menu(client):
    FacilityFactory(code="YX01")
    for url in (reverse("home"), status_url(), reverse("portal:boards"), reverse("portal:board", args=["YX01"])):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "staff-nav" not in text_of(response)


# --- the receipt's QR code -------------------------------------------------------------------------------------------
def test_the_qr_code_is_an_inline_svg_with_an_accessible_name():
    svg = qr_svg("https://care.example/status/?reference=2026-000023")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert 'role="img"' in svg and "aria-label=" in svg
    assert "<?xml" not in svg and "http" not in svg  # the URL is in the modules, not in the markup


def test_the_qr_code_encodes_the_url_it_was_given():
    url = "https://care.example/status/?reference=2026-000023"
    expected = segno.make(url, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    assert qr_svg(url).split(">", 1)[1] == expected.split(">", 1)[1]
    assert qr_svg(url) != qr_svg(url.replace("23", "24"))


def test_the_qr_codes_label_is_escaped():
    svg = qr_svg("https://care.example/", label='<b onmouseover="x">')
    assert "<b " not in svg and "&lt;b onmouseover=&quot;x&quot;&gt;" in svg


def test_the_qr_codes_label_is_in_the_page_language():
    with translation.override("en"):
        assert "status page" in qr_svg("https://care.example/")
