"""The public endpoints over HTTP (API.md "Public"; SPEC §8 R-PUB-1…4; STORIES 3)."""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from admissions.models import ApplicationState
from admissions.public import mask_reference
from admissions.services import applications as app_services
from admissions.services.beds import bed_discharge
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, intake, queued_application
from tests.spec import LOOKUP_FAILURES_PER_ADDRESS, LOOKUP_FAILURES_PER_REFERENCE

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"
LOOKUP = "/api/v1/public/lookup/"
DIBAO = {"verify": ("dibao",), "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}]}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    return APIClient()


def submitted():
    FacilityFactory(code="YX01")
    return app_services.application_create(
        data=intake(choices=["YX01"], name="陈秀英"), submit=True, actor=actor("intake")
    )


def wrong(code: str) -> str:
    return "".join("Z" if c != "Z" else "Y" for c in code)


def lookup(client, reference, code, **extra):
    return client.post(LOOKUP, {"reference": reference, "code": code}, format="json", **extra)


def problem_of(response) -> dict:
    assert response["Content-Type"].startswith(PROBLEM)
    return response.json()


# --- POST /public/lookup/ -----------------------------------------------------------------------------
def test_the_lookup_answers_with_the_fields_of_api_md(client):
    """R-PUB-1, R-PUB-3: the answer of API.md "Public", without credentials."""
    application, code = submitted()
    response = lookup(client, application.reference, code)
    assert response.status_code == 200
    body = response.json()
    assert {
        "reference",
        "state",
        "state_label",
        "applicant_name_masked",
        "channel",
        "assessment_valid_until",
        "offer",
        "positions",
        "next_steps",
    } <= set(body)
    assert body["reference"] == application.reference
    assert body["state"] == "submitted"
    assert body["applicant_name_masked"] == "陈*英"
    assert body["channel"] is None and body["offer"] is None and body["positions"] == []
    assert body["next_steps"] and all(isinstance(step, str) for step in body["next_steps"])
    text = response.content.decode()
    assert application.applicant.id_number not in text and "陈秀英" not in text


def full_width(text: str) -> str:
    """As a Chinese input method types it: digits, letters and '-' in their full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_full_width_digits_and_letters_find_the_application_like_half_width_ones(client):
    """Issue 15: "２０２６－０００１２３" is the reference the receipt shows; it is found, with a code typed
    full-width and in small letters, and a mistyped one counts as one failure like any other (R-PUB-2)."""
    application, code = submitted()
    response = lookup(client, full_width(application.reference), " " + full_width(code.lower()) + " ")
    assert response.status_code == 200
    assert response.json()["reference"] == application.reference


def test_a_stale_token_does_not_stop_a_public_lookup(client):
    """Public endpoints attempt no authentication."""
    application, code = submitted()
    response = lookup(client, application.reference, code, HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 200


def test_a_wrong_code_and_an_unknown_reference_get_the_same_404_problem(client):
    """R-PUB-1: wrong reference and wrong code give the same answer."""
    application, code = submitted()
    mistyped = lookup(client, application.reference, wrong(code))
    unknown = lookup(client, "2026-999999", code)
    malformed = lookup(client, application.reference, "12")
    assert mistyped.status_code == unknown.status_code == malformed.status_code == 404
    assert problem_of(mistyped) == problem_of(unknown) == problem_of(malformed)
    assert application.reference not in mistyped.content.decode()


def test_a_locked_lookup_gets_429_with_retry_after_even_with_the_right_code(client):
    """R-PUB-2: 5 failed lookups for one reference lock it for an hour."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        assert lookup(client, application.reference, wrong(code), REMOTE_ADDR=f"198.51.100.{n}").status_code == 404
    response = lookup(client, application.reference, code, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 429
    body = problem_of(response)
    assert body["status"] == 429
    assert 0 < int(response["Retry-After"]) <= 3600


def test_the_address_is_remote_addr_and_x_forwarded_for_is_not_trusted(client):
    """R-PUB-2: a client cannot escape the per-address limit by sending X-Forwarded-For."""
    application, code = submitted()
    for n in range(LOOKUP_FAILURES_PER_ADDRESS):
        response = lookup(client, f"2026-9{n:05d}", "ABCDEF", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        assert response.status_code == 404
    response = lookup(client, application.reference, code, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429
    assert "Retry-After" in response


@pytest.mark.parametrize(
    "raw",
    [
        "[]",
        "null",
        '"x"',
        "42",
        "{}",
        '{"reference": "2026-000001"}',
        '{"code": "ABCDEF"}',
        "not json",
        '{"reference": 2026000001, "code": "ABCDEF"}',
        '{"reference": "2026-000001", "code": true}',
        '{"reference": null, "code": "ABCDEF"}',
        '{"reference": "2026-000001", "code": ["ABCDEF"]}',
    ],
)
def test_a_body_that_is_not_a_lookup_is_a_400_problem(client, raw):
    """A body that is not an object, or lacks the fields, is 400 (never 500)."""
    response = client.post(LOOKUP, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert problem_of(response)["status"] == 400


def test_a_body_that_is_not_a_lookup_is_not_counted_as_a_failed_lookup(client):
    """R-PUB-2 counts failed lookups; a 400 is not a lookup at all."""
    application, code = submitted()
    for _ in range(LOOKUP_FAILURES_PER_ADDRESS + 1):
        response = client.post(LOOKUP, {"reference": application.reference, "code": 123456}, format="json")
        assert response.status_code == 400
    assert lookup(client, application.reference, code).status_code == 200


def test_a_missing_field_is_named_in_the_errors(client):
    response = client.post(LOOKUP, {"reference": "2026-000001"}, format="json")
    assert response.status_code == 400
    assert "code" in problem_of(response)["errors"]


@pytest.mark.parametrize("field", ["reference", "code"])
def test_a_ten_thousand_character_field_is_a_400_not_a_500(client, field):
    body = {"reference": "2026-000001", "code": "ABCDEF", field: "x" * 10_000}
    response = client.post(LOOKUP, body, format="json")
    assert response.status_code == 400
    assert field in problem_of(response)["errors"]


@pytest.mark.parametrize(
    ("reference", "code"), [("２０２６-000001", "ABCDEF"), ("2026-000001", "陈秀英一二三"), ("'; --", "\u202e")]
)
def test_odd_characters_are_a_plain_404_never_a_500(client, reference, code):
    """R-PUB-1: a malformed reference or code is just another mismatch."""
    response = lookup(client, reference, code)
    assert response.status_code == 404
    assert problem_of(response)["status"] == 404


def test_other_methods_on_the_lookup_are_405(client):
    response = client.get(LOOKUP)
    assert response.status_code == 405
    assert problem_of(response)["status"] == 405


# --- GET /public/facilities/ ------------------------------------------------------------------------
def test_the_facilities_list_shows_public_figures(client):
    """R-PUB-4 city page: vacancies, queue lengths and nursing share."""
    home = FacilityFactory(code="YX01", name="越秀区老人院", name_en="Yuexiu District Home", address_en="1 Example Rd")
    add_beds(home, nursing=3)  # occupied by nursing-level people
    add_beds(home, general=1, holder="self_care")
    add_beds(home, general=2, status="out_of_service")
    FacilityFactory(code="GZC01", level="city")
    queued_application(choices=["YX01"])
    response = client.get("/api/v1/public/facilities/")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    assert set(rows) == {"YX01", "GZC01"}
    yx = rows["YX01"]
    assert yx["name"] == "越秀区老人院"
    # Issue 15: the English name and address the English pages show, blank where none is given.
    assert (yx["name_en"], yx["address_en"]) == ("Yuexiu District Home", "1 Example Rd")
    assert (rows["GZC01"]["name_en"], rows["GZC01"]["address_en"]) == ("", "")
    assert yx["district"] == "yuexiu" and yx["level"] == "district"
    assert (yx["beds_in_service"], yx["vacant"], yx["queue_length"]) == (4, 0, 1)
    assert yx["nursing_share"] == 0.75
    assert rows["GZC01"]["nursing_share"] is None and rows["GZC01"]["queue_length"] == 0


# --- GET /public/facilities/{code}/board/ ---------------------------------------------------------
@pytest.fixture
def board_home():
    """STORIES 4: a nursing bed falls vacant; a self-care applicant above is skipped
    (reserved_for_nursing) and the nursing-level one below gets the offer."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, general=1)
    self_care = queued_application(grade=1, choices=["YX01"], name="王大明", **DIBAO)
    nursing = queued_application(grade=2, choices=["YX01"], name="陈秀英")
    waiting = queued_application(grade=3, choices=["YX01"], name="李小红")
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    return home, self_care, nursing, waiting


def test_the_board_lists_the_open_entries_in_order_with_references_masked(client, board_home):
    """R-PUB-4: rank, masked reference, channel, care level, score, month queued."""
    _, self_care, nursing, waiting = board_home
    response = client.get("/api/v1/public/facilities/YX01/board/")
    assert response.status_code == 200
    body = response.json()
    assert body["facility"] == "YX01"
    entries = body["entries"]
    assert [e["rank"] for e in entries] == [1, 2, 3]
    assert [e["reference_masked"] for e in entries] == [
        mask_reference(self_care.reference),
        mask_reference(waiting.reference),  # grade 3 (30) before grade 2 (20), both ordinary
        mask_reference(nursing.reference),
    ]
    assert entries[0]["channel"] == "special" and entries[0]["care_level"] == "self_care"
    assert entries[1]["score"] > entries[2]["score"]
    assert all(re.fullmatch(r"\d{4}-\d{2}", e["queued_month"]) for e in entries)
    assert all(re.fullmatch(r"\d{4}-\d\d\*\*\d\d", e["reference_masked"]) for e in entries)
    text = response.content.decode()
    for application in (self_care, nursing, waiting):
        assert application.reference not in text
        assert application.applicant.name not in text and application.applicant.id_number not in text


def test_the_board_shows_the_decision_with_its_skip_reasons(client, board_home):
    """R-PUB-4, R-ALLOC-1: anyone can see that the order was kept (STORIES 4)."""
    _, self_care, _, waiting = board_home
    body = client.get("/api/v1/public/facilities/YX01/board/").json()
    [decision] = body["recent_decisions"]
    assert decision["bed_type"] == "nursing"
    assert decision["chosen"]["reference_masked"] == mask_reference(waiting.reference)
    assert decision["skipped"] == [
        {
            "reference_masked": mask_reference(self_care.reference),
            "rank": 1,
            "score": 15,
            "reason": "reserved_for_nursing",
        }
    ]
    assert decision["quota_before"].keys() == {"self_care_cap", "self_care_held"}


def test_the_board_of_an_unknown_home_is_a_404_problem(client):
    response = client.get("/api/v1/public/facilities/NOPE/board/")
    assert response.status_code == 404
    assert problem_of(response)["status"] == 404


def test_mask_reference_keeps_the_first_seven_and_last_two_characters():
    assert mask_reference("2026-000023") == "2026-00**23"
    assert mask_reference("2026-1234567") == "2026-12***67"


# --- STORIES 3: where do I stand? --------------------------------------------------------------------
def test_story_3_the_daughter_sees_the_position_score_breakdown_and_special_channel(client):
    """STORIES 3 (R-PUB-1…3): score 28 = care 20 + age 5 + lives alone 3 + waiting 0; special
    channel for the verified 低保; three mistyped codes, then the right one still works."""
    with time_machine.travel(dt.datetime(2026, 6, 1, 19, 30, tzinfo=SHANGHAI), tick=False):
        home = FacilityFactory(code="YX01", name="越秀区老人院")
        add_beds(home, nursing=5)  # full
        ahead = queued_application(choices=["YX01"], grade=3, name="王大明", **DIBAO)
        application = queued_application(choices=["YX01"], grade=2, lives_alone=True, **DIBAO)
        code = app_services.lookup_code_issue(application=application, actor=actor("intake"))

        for _ in range(3):
            mistyped = lookup(client, application.reference, wrong(code))
            assert mistyped.status_code == 404
        unknown = lookup(client, "2026-999999", code, REMOTE_ADDR="192.0.2.50")
        assert problem_of(mistyped) == problem_of(unknown)  # nothing says whether the reference exists

        response = lookup(client, application.reference, code.lower())
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "waiting"
    with translation.override("zh-hans"):
        assert body["state_label"] == str(ApplicationState.WAITING.label)
    assert body["channel"] == "special"
    assert "低保" in body["channel_reason"]
    [position] = body["positions"]
    assert position["facility"] == "YX01" and position["facility_name"] == "越秀区老人院"
    assert (position["position"], position["ahead_same_care_level"]) == (2, 1)
    assert position["score"] == 28
    assert position["score_breakdown"] == {"care": 20, "age": 5, "family": 3, "waiting": 0}
    assert position["estimated_wait"] is None
    assert any("30" in step for step in body["next_steps"])  # the score rises every 30 days
    text = json.dumps(body, ensure_ascii=False)
    assert ahead.reference not in text and "王" not in text
