"""REST API: applications (API.md "Applications"), through HTTP only, over the real services.

Assertions are on statuses and field paths, never on message text (messages are translated).
"""

import datetime as dt
import io
import json
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import Applicant, Application, ApplicationEvent, CategoryClaim
from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import (
    GRADE_TOTALS,
    FacilityFactory,
    actor,
    district,
    id_number,
    items_with_total,
    queued_application,
    reviewed_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
GARBAGE = [[], None, "x", 12345678901234567890, True]


# --- helpers ----------------------------------------------------------------------------------------
def new_body(**overrides) -> dict:
    born = overrides.pop("date_of_birth", dt.date(1941, 3, 2))
    body = {
        "applicant": {
            "name": "陈秀英",
            "id_number": id_number(born, sex="F"),
            "date_of_birth": born.isoformat(),
            "sex": "F",
            "phone": "13800000000",
            "hukou_district": "yuexiu",
            "residence_district": "yuexiu",
            "address": "越秀区 1 号",
            "lives_alone": True,
            "no_spouse_no_children": False,
            "language": "zh-hans",
        },
        "contact": {"name": "女儿", "relation": "daughter", "phone": "13900000000"},
        "declarations": {"no_infectious_disease": True, "no_serious_mental_disorder": True},
        "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}],
        "choices": ["YX01", "GZC01"],
        "spouse_resident_in": [],
        "submit": True,
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def homes():
    return {
        "YX01": FacilityFactory(code="YX01", level="district", district=district("yuexiu")),
        "GZC01": FacilityFactory(code="GZC01", level="city", district=district("tianhe")),
        "HZ01": FacilityFactory(code="HZ01", level="district", district=district("haizhu")),
    }


@pytest.fixture
def intake_officer():
    return client_as("intake")


@pytest.fixture
def reviewer():
    return client_as("reviewer")


@pytest.fixture
def assessor():
    return client_as("assessor")


@pytest.fixture
def admin():
    return client_as("admin")


# --- POST /applications/ ------------------------------------------------------------------------------
def test_intake_registers_a_submitted_application_and_gets_the_lookup_code_once(intake_officer):
    body = new_body()
    response = intake_officer.post(url("applications/"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "submitted"
    assert len(data["lookup_code"]) == 6
    assert data["applicant"]["id_number"] == body["applicant"]["id_number"]  # intake checks identity
    assert data["applicant"]["hukou_district"] == "yuexiu"
    assert data["applicant"]["lives_alone"] is True
    assert data["contact"] == {"name": "女儿", "relation": "daughter", "phone": "13900000000", "email": ""}
    assert data["categories"][0]["code"] == "dibao" and data["categories"][0]["status"] == "claimed"
    assert data["choices"] == ["YX01", "GZC01"]
    assert data["channel"] is None and data["care_level"] is None and data["grade"] is None
    assert data["refusals"] == {"count": 0, "window_days": 365}
    assert data["barred_until"] is None and data["queued_at"] is None
    assert "accept-for-assessment" in data["available_transitions"]
    # API.md: creating records `create`, and with submit `submit`; the API client is the actor.
    events = ApplicationEvent.objects.filter(application__reference=data["reference"]).order_by("id")
    assert [e.transition for e in events] == ["create", "submit"]
    assert {e.actor_kind for e in events} == {"client"}
    detail = intake_officer.get(url(f"applications/{data['reference']}/")).json()
    assert "lookup_code" not in detail


def test_submit_false_keeps_the_application_a_draft(intake_officer):
    response = intake_officer.post(url("applications/"), new_body(submit=False), format="json")
    assert response.status_code == 201
    assert response.json()["state"] == "draft"
    assert ApplicationEvent.objects.filter(application__reference=response.json()["reference"]).count() == 1


def test_an_outside_hukou_shows_as_other(intake_officer):
    body = new_body(choices=["YX01"], categories=[])
    body["applicant"].update(hukou_district="other", contributor_exemption_requested=True)
    response = intake_officer.post(url("applications/"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["applicant"]["hukou_district"] == "other"
    assert response.json()["applicant"]["contributor_exemption_requested"] is True


def test_creating_needs_credentials():
    response = APIClient().post(url("applications/"), new_body(), format="json")
    assert_problem(response, 401)


@pytest.mark.parametrize("role", ["assessor", "reviewer"])
def test_only_intake_and_admin_register_applications(role):
    assert_problem(client_as(role).post(url("applications/"), new_body(), format="json"), 403)
    assert client_as("admin").post(url("applications/"), new_body(), format="json").status_code == 201


def test_a_wrong_check_character_is_a_field_error_on_the_id_number(intake_officer):
    """R-APP-1."""
    body = new_body()
    number = body["applicant"]["id_number"]
    body["applicant"]["id_number"] = number[:17] + ("0" if number[17] != "0" else "1")
    assert_problem(intake_officer.post(url("applications/"), body, format="json"), 400, "applicant.id_number")
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("applicant"), "applicant"),
        (lambda b: b["applicant"].update(date_of_birth="1941-02-30"), "applicant.date_of_birth"),
        (lambda b: b["applicant"].update(sex="X"), "applicant.sex"),
        (lambda b: b["applicant"].update(name="名" * 10_000), "applicant.name"),
        (lambda b: b["applicant"].update(name=""), "applicant.name"),
        (lambda b: b["applicant"].update(hukou_district="atlantis"), "applicant.hukou_district"),
        (lambda b: b.update(choices=["YX01", "NOPE1"]), "choices.1"),
        (lambda b: b.update(choices=12345678901234567890), "choices"),
        (lambda b: b.update(categories=[{"code": "royalty", "evidence": "x"}]), "categories.0.code"),
        (lambda b: b.update(categories=[{"code": "dibao"}]), "categories.0.evidence"),
        (lambda b: b.update(contact=None), "contact"),
        (lambda b: b.update(submit="maybe"), "submit"),
        (lambda b: b.update(submit=1), "submit"),
        (lambda b: b["applicant"].update(lives_alone="yes"), "applicant.lives_alone"),
        (lambda b: b["applicant"].update(name=12345), "applicant.name"),
        (lambda b: b.update(choices=[1]), "choices.0"),
        (lambda b: b["contact"].update(email="family.example.com"), "contact.email"),
        (lambda b: b["contact"].update(email="family@"), "contact.email"),
        (lambda b: b["contact"].update(email="a" * 250 + "@example.com"), "contact.email"),
        (lambda b: b["contact"].update(email=["family@example.com"]), "contact.email"),
    ],
)
def test_malformed_fields_get_400_naming_the_field(intake_officer, change, field):
    body = new_body()
    change(body)
    assert_problem(intake_officer.post(url("applications/"), body, format="json"), 400, field)
    assert not Application.objects.exists()


@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_body_that_is_not_an_object_gets_400_not_500(intake_officer, garbage):
    response = intake_officer.post(url("applications/"), json.dumps(garbage), content_type="application/json")
    assert_problem(response, 400)


def test_a_body_that_is_not_json_gets_400(intake_officer):
    response = intake_officer.post(url("applications/"), "{not json", content_type="application/json")
    assert_problem(response, 400)


def test_an_applicant_under_60_is_refused_with_422(intake_officer):
    """R-APP-2."""
    young = timezone.localdate().replace(year=timezone.localdate().year - 50, day=1)
    body = new_body(date_of_birth=young)
    assert_problem(intake_officer.post(url("applications/"), body, format="json"), 422, "applicant.date_of_birth")


def test_both_health_declarations_are_needed_to_submit(intake_officer):
    """R-APP-4."""
    body = new_body(declarations={"no_infectious_disease": False})
    assert_problem(
        intake_officer.post(url("applications/"), body, format="json"),
        422,
        "declarations.no_infectious_disease",
        "declarations.no_serious_mental_disorder",
    )


def test_two_district_homes_outside_the_district_break_the_choice_rule(intake_officer):
    """R-APP-7."""
    body = new_body(choices=["HZ01"])
    assert_problem(intake_officer.post(url("applications/"), body, format="json"), 422, "choices.0")


def test_a_second_open_application_gets_409_with_the_open_reference(intake_officer):
    """R-APP-5."""
    first = intake_officer.post(url("applications/"), new_body(), format="json").json()
    body = new_body()
    body["applicant"]["id_number"] = first["applicant"]["id_number"]
    problem = assert_problem(intake_officer.post(url("applications/"), body, format="json"), 409)
    assert problem["open_application"] == first["reference"]
    assert Application.objects.count() == 1


def test_a_barred_person_gets_422_with_the_date_the_bar_ends(intake_officer):
    """R-APP-6 after R-OFF-5: the refusal limit removes the application and bars the person."""
    application = submitted_application(choices=["YX01"])
    app_services.application_remove_for_refusals(application=application)
    barred_until = Applicant.objects.get(pk=application.applicant_id).barred_until
    body = new_body()
    body["applicant"]["id_number"] = application.applicant.id_number
    problem = assert_problem(intake_officer.post(url("applications/"), body, format="json"), 422)
    assert problem["barred_until"] == barred_until.isoformat()


def test_replaying_a_post_with_the_same_idempotency_key_gives_the_same_application(intake_officer):
    """STORIES 8: a retried request is answered from the first one; a changed body under the key is 422."""
    body = new_body()
    first = intake_officer.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="intake-42")
    again = intake_officer.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="intake-42")
    assert first.status_code == again.status_code == 201
    assert again.json()["reference"] == first.json()["reference"]
    assert again["Idempotent-Replayed"] == "true"
    assert Application.objects.count() == 1
    other = new_body()
    changed = intake_officer.post(url("applications/"), other, format="json", HTTP_IDEMPOTENCY_KEY="intake-42")
    assert_problem(changed, 422)
    assert Application.objects.count() == 1


# --- GET /applications/ -----------------------------------------------------------------------------
def test_lists_always_mask_id_numbers(intake_officer):
    """SPEC §10."""
    application = submitted_application(choices=["YX01"])
    results = intake_officer.get(url("applications/")).json()["results"]
    assert [r["reference"] for r in results] == [application.reference]
    assert results[0]["applicant"]["id_number"] == application.applicant.masked_id_number
    assert "*" in results[0]["applicant"]["id_number"]


def test_the_list_filters_by_state_facility_channel_district_and_name_or_reference(intake_officer):
    waiting = queued_application(choices=["YX01"], name="王建国")
    submitted = submitted_application(choices=["GZC01"], name="李秀兰")
    hz = submitted_application(choices=["HZ01"], name="张伟", hukou_district="haizhu", residence_district="haizhu")

    def refs(**params):
        response = intake_officer.get(url("applications/"), params)
        assert response.status_code == 200, response.content
        return {r["reference"] for r in response.json()["results"]}

    assert refs() == {waiting.reference, submitted.reference, hz.reference}
    assert refs(state="waiting") == {waiting.reference}
    assert refs(facility="GZC01") == {submitted.reference}
    assert refs(channel="ordinary") == {waiting.reference}
    assert refs(district="haizhu") == {hz.reference}
    assert refs(q="秀兰") == {submitted.reference}
    assert refs(q=waiting.reference) == {waiting.reference}
    assert refs(q=waiting.reference[:6]) == set()  # a reference matches whole only


def test_an_unknown_state_filter_is_400_naming_the_parameter(intake_officer):
    assert_problem(intake_officer.get(url("applications/"), {"state": "sleeping"}), 400, "state")


def test_a_facility_officer_lists_only_applications_that_chose_their_home(homes):
    """SPEC §10."""
    mine = submitted_application(choices=["YX01"])
    submitted_application(choices=["GZC01"])
    officer = client_as("facility", facility=homes["YX01"])
    results = officer.get(url("applications/")).json()["results"]
    assert [r["reference"] for r in results] == [mine.reference]


def test_a_list_page_costs_the_same_queries_for_two_applications_as_for_six(intake_officer):
    """The refusal counts (R-OFF-5) and the rest come in the page's own queries, not one per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_the_list() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = intake_officer.get(url("applications/"))
        assert response.status_code == 200, response.content
        return len(captured.captured_queries), len(response.json()["results"])

    queries_for_the_list()  # the first request also reads the caller's roles
    queued_application(choices=["YX01"], name="王建国")
    submitted_application(choices=["GZC01"], name="李秀兰")
    two, rows = queries_for_the_list()
    assert rows == 2
    for n in range(4):
        queued_application(choices=["YX01"], name=f"张伟{n}")
    six, rows = queries_for_the_list()
    assert (rows, six) == (6, two)


def test_the_list_and_the_application_count_refusals_within_the_window_r_off_5(intake_officer):
    from admissions.models import Offer
    from admissions.services.offers import offer_decline
    from tests.factories import add_beds

    add_beds(FacilityFactory(code="YX01"), nursing=1, status="vacant")
    application = queued_application(grade=3, choices=["YX01"])
    offer_decline(offer=Offer.objects.get(application=application, state="pending"), actor=actor("facility"))
    queued_application(choices=["YX01"], name="李秀兰")

    listed = {
        r["reference"]: r["refusals"]["count"] for r in intake_officer.get(url("applications/")).json()["results"]
    }
    assert listed[application.reference] == 1
    assert sorted(listed.values()) == [0, 1]
    detail = intake_officer.get(url(f"applications/{application.reference}/")).json()
    assert detail["refusals"] == {"count": 1, "window_days": 365}


def test_listing_needs_credentials():
    assert_problem(APIClient().get(url("applications/")), 401)


# --- GET /applications/{reference}/ -------------------------------------------------------------------
def test_one_record_shows_the_full_id_number_only_to_roles_that_check_identity(intake_officer, assessor):
    """SPEC §10."""
    application = submitted_application(choices=["YX01"])
    full = application.applicant.id_number
    response = intake_officer.get(url(f"applications/{application.reference}/"))
    assert response.json()["applicant"]["id_number"] == full
    assert response["ETag"] == f'"{application.version}"'
    assert assessor.get(url(f"applications/{application.reference}/")).json()["applicant"]["id_number"] != full


def test_an_unknown_reference_is_404(intake_officer):
    assert_problem(intake_officer.get(url("applications/2026-999999/")), 404)


def test_a_facility_officer_cannot_read_an_application_that_did_not_choose_their_home(homes):
    other = submitted_application(choices=["GZC01"])
    mine = submitted_application(choices=["YX01"])
    officer = client_as("facility", facility=homes["YX01"])
    assert officer.get(url(f"applications/{mine.reference}/")).status_code == 200
    assert_problem(officer.get(url(f"applications/{other.reference}/")), 403)


def test_the_state_field_is_never_writable(intake_officer):
    """R-FSM-1: PATCH ignores `state`; transitions have their own endpoints."""
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(url(f"applications/{application.reference}/"), {"state": "waiting"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "submitted"


def test_put_and_delete_are_405(intake_officer):
    application = submitted_application(choices=["YX01"])
    assert_problem(intake_officer.put(url(f"applications/{application.reference}/"), {}, format="json"), 405)
    assert_problem(intake_officer.delete(url(f"applications/{application.reference}/")), 405)


def test_a_contact_email_is_kept_and_shown_and_the_family_hears_by_email_too(intake_officer):
    """R-OFF-6: the contact object carries an optional email; messages then go by SMS and email."""
    body = new_body()
    body["contact"]["email"] = " family@example.com "
    response = intake_officer.post(url("applications/"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["contact"]["email"] == "family@example.com"
    application = Application.objects.get(reference=response.json()["reference"])
    channels = {(n.channel, n.recipient) for n in application.notifications.all()}
    assert channels == {("sms", "13900000000"), ("email", "family@example.com")}


def test_a_malformed_contact_email_is_refused_naming_the_field_and_the_rule(intake_officer):
    body = new_body()
    body["contact"]["email"] = "family at example.com"
    problem = assert_problem(intake_officer.post(url("applications/"), body, format="json"), 400, "contact.email")
    assert "name@example.com" in problem["errors"]["contact.email"][0]
    assert not Application.objects.exists()


# --- PATCH /applications/{reference}/ -----------------------------------------------------------------
def test_intake_corrects_a_submitted_application_and_unsent_fields_are_kept(intake_officer):
    application = submitted_application(
        choices=["YX01"], categories=[{"code": "dibao", "evidence": "cert 1"}], lives_alone=True
    )
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"),
        {
            "applicant": {"phone": "13700000000"},
            "contact": {"relation": "son", "email": "son@example.com"},
            "choices": ["YX01", "GZC01"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["contact"]["email"] == "son@example.com"
    assert data["applicant"]["phone"] == "13700000000"
    assert data["applicant"]["lives_alone"] is True
    assert data["contact"]["relation"] == "son" and data["contact"]["name"] == "女儿"
    assert data["choices"] == ["YX01", "GZC01"]
    assert data["categories"][0]["evidence"] == "cert 1"
    assert data["version"] == application.version + 1
    assert ApplicationEvent.objects.filter(application=application, transition="corrected").count() == 1


def test_a_category_named_again_without_evidence_keeps_its_evidence(intake_officer):
    application = submitted_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "cert 1"}])
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"), {"categories": [{"code": "dibao"}]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["categories"][0]["evidence"] == "cert 1"


def test_a_patch_breaking_a_rule_is_refused_and_changes_nothing(intake_officer):
    """R-APP-7 on a submitted application; SPEC §10: a refused input changes nothing."""
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(url(f"applications/{application.reference}/"), {"choices": ["HZ01"]}, format="json")
    assert_problem(response, 422, "choices.0")
    assert intake_officer.get(url(f"applications/{application.reference}/")).json()["choices"] == ["YX01"]


def test_a_stale_if_match_or_version_gets_409(intake_officer):
    """Optimistic concurrency: a writer who read an older version loses, nothing is overwritten."""
    application = submitted_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/")
    stale = application.version
    assert (
        intake_officer.patch(
            path, {"applicant": {"phone": "13811110001"}}, format="json", HTTP_IF_MATCH=f'"{stale}"'
        ).status_code
        == 200
    )
    problem = assert_problem(
        intake_officer.patch(path, {"applicant": {"phone": "13811110002"}}, format="json", HTTP_IF_MATCH=f'"{stale}"'),
        409,
    )
    assert problem["current_version"] == stale + 1
    assert_problem(
        intake_officer.patch(path, {"applicant": {"phone": "13811110003"}, "version": stale}, format="json"), 409
    )
    assert intake_officer.get(path).json()["applicant"]["phone"] == "13811110001"


def test_an_if_match_that_is_not_a_version_is_400(intake_officer):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"), {}, format="json", HTTP_IF_MATCH="yesterday"
    )
    assert_problem(response, 400, "If-Match")


def test_patching_after_approval_is_409_with_the_current_state_r_chg_1(intake_officer):
    application = queued_application(choices=["YX01"])
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"), {"applicant": {"phone": "13811110001"}}, format="json"
    )
    problem = assert_problem(response, 409)
    assert problem["current_state"] == "waiting"
    assert "available_transitions" in problem


@pytest.mark.parametrize("role", ["assessor", "reviewer"])
def test_only_intake_patches(role):
    application = submitted_application(choices=["YX01"])
    response = client_as(role).patch(url(f"applications/{application.reference}/"), {}, format="json")
    assert_problem(response, 403)


@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_patch_body_that_is_not_an_object_gets_400(intake_officer, garbage):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"), json.dumps(garbage), content_type="application/json"
    )
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"categories": [{"evidence": "cert"}]}, "categories.0.code"),
        ({"version": "3"}, "version"),
        ({"version": 0}, "version"),
        ({"applicant": {"phone": 13800000000}}, "applicant.phone"),
        ({"applicant": None}, "applicant"),
    ],
)
def test_a_patch_with_a_mistyped_field_names_it(intake_officer, body, field):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(url(f"applications/{application.reference}/"), body, format="json")
    assert_problem(response, 400, field)


def test_a_patch_with_a_malformed_date_names_the_field(intake_officer):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.patch(
        url(f"applications/{application.reference}/"), {"applicant": {"date_of_birth": "02/03/1941"}}, format="json"
    )
    assert_problem(response, 400, "applicant.date_of_birth")


# --- transitions ------------------------------------------------------------------------------------
def test_a_draft_is_submitted_by_intake(intake_officer):
    draft = intake_officer.post(url("applications/"), new_body(submit=False), format="json").json()
    response = intake_officer.post(url(f"applications/{draft['reference']}/submit/"))
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"


def test_a_wrong_state_transition_is_409_naming_the_state_and_what_this_caller_may_do(intake_officer, reviewer):
    """R-FSM-3: the 409 names the current state and the transitions available to this caller."""
    application = submitted_application(choices=["YX01"])
    problem = assert_problem(intake_officer.post(url(f"applications/{application.reference}/submit/")), 409)
    assert problem["current_state"] == "submitted"
    assert problem["available_transitions"] == ["accept-for-assessment", "reject", "withdraw"]
    problem = assert_problem(
        reviewer.post(url(f"applications/{application.reference}/suspend/"), {"reason": "x"}, format="json"), 409
    )
    assert problem["available_transitions"] == ["reject", "withdraw", "remove"]
    assert Application.objects.get(pk=application.pk).state == "submitted"


def test_intake_accepts_for_assessment(intake_officer):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.post(url(f"applications/{application.reference}/accept-for-assessment/"))
    assert response.status_code == 200
    assert response.json()["state"] == "assessment_pending"


def test_a_reject_needs_a_reason(intake_officer):
    """R-FSM-2."""
    application = submitted_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/reject/")
    assert_problem(intake_officer.post(path, {}, format="json"), 400, "reason")
    assert_problem(intake_officer.post(path, {"reason": "x" * 10_000}, format="json"), 400, "reason")
    assert_problem(intake_officer.post(path, [], format="json"), 400)
    assert_problem(intake_officer.post(path, {"reason": 0}, format="json"), 400, "reason")
    assert_problem(intake_officer.post(path, {"reason": "\r" + "x" * 2000}, format="json"), 400, "reason")
    response = intake_officer.post(path, {"reason": "not resident"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    assert response.json()["available_transitions"] == []


def test_the_reviewer_approves_with_category_decisions_and_the_channel_follows(reviewer):
    """R-APP-8: a verified dibao claim puts the applicant in the special channel."""
    application = reviewed_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "cert"}])
    response = reviewer.post(
        url(f"applications/{application.reference}/approve/"),
        {"categories": [{"code": "dibao", "verified": True, "note": "seen"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "waiting"
    assert data["channel"] == "special"
    assert data["categories"][0]["status"] == "verified"
    assert data["care_level"] == "nursing" and data["grade"] == 2
    assert data["assessment_valid_until"] is not None and data["queued_at"] is not None


def test_approving_before_the_assessment_is_approved_is_422(reviewer):
    """R-FSM-3: an unmet condition is 422."""
    application = submitted_application(choices=["YX01"])
    app_services.application_accept_for_assessment(application=application, actor=actor("intake"))
    asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[2]),
        complete=True,
        actor=actor("assessor"),
    )
    response = reviewer.post(url(f"applications/{application.reference}/approve/"), {}, format="json")
    assert_problem(response, 422, "assessment")


def test_an_approval_naming_an_unclaimed_category_is_400(reviewer):
    application = reviewed_application(choices=["YX01"])
    response = reviewer.post(
        url(f"applications/{application.reference}/approve/"),
        {"categories": [{"code": "tekun", "verified": True}]},
        format="json",
    )
    assert_problem(response, 400, "categories.0.code")
    bad = reviewer.post(
        url(f"applications/{application.reference}/approve/"), {"categories": [{"code": "tekun"}]}, format="json"
    )
    assert_problem(bad, 400, "categories.0.verified")


def test_intake_may_not_approve(intake_officer):
    application = reviewed_application(choices=["YX01"])
    assert_problem(intake_officer.post(url(f"applications/{application.reference}/approve/"), {}, format="json"), 403)


def test_the_reviewer_returns_an_application_for_assessment(reviewer):
    application = reviewed_application(choices=["YX01"])
    response = reviewer.post(
        url(f"applications/{application.reference}/return-for-assessment/"),
        {"reason": "care need changed"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["state"] == "assessment_pending"


def test_a_queued_application_is_suspended_and_resumed(intake_officer):
    application = queued_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/")
    suspended = intake_officer.post(path + "suspend/", {"reason": "in hospital"}, format="json")
    assert suspended.status_code == 200 and suspended.json()["state"] == "suspended"
    resumed = intake_officer.post(path + "resume/", {}, format="json")
    assert resumed.status_code == 200 and resumed.json()["state"] == "waiting"


def test_resuming_with_an_expired_assessment_is_422(intake_officer, time_machine):
    """SPEC §5 resume needs a valid assessment (R-ASM-5)."""
    application = queued_application(choices=["YX01"])
    app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
    time_machine.move_to(timezone.now() + dt.timedelta(days=400))
    response = intake_officer.post(url(f"applications/{application.reference}/resume/"), {}, format="json")
    assert_problem(response, 422, "assessment")


def test_an_application_is_withdrawn_with_a_reason(reviewer):
    application = submitted_application(choices=["YX01"])
    response = reviewer.post(
        url(f"applications/{application.reference}/withdraw/"), {"reason": "family decided"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"


def test_the_reviewer_removes_with_a_staff_reason_only(reviewer, intake_officer):
    """SPEC §5: refusal_limit is the system's reason, not staff's."""
    application = submitted_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/remove/")
    assert_problem(reviewer.post(path, {"reason": "refusal_limit"}, format="json"), 400, "reason")
    assert_problem(intake_officer.post(path, {"reason": "deceased"}, format="json"), 403)
    response = reviewer.post(path, {"reason": "deceased", "note": "certificate seen"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "removed"


def test_a_transition_on_an_unknown_reference_is_404(intake_officer):
    assert_problem(intake_officer.post(url("applications/2026-999999/submit/")), 404)


def test_a_transition_endpoint_answers_get_with_405(intake_officer):
    application = submitted_application(choices=["YX01"])
    assert_problem(intake_officer.get(url(f"applications/{application.reference}/withdraw/")), 405)


def test_transitions_need_credentials():
    application = submitted_application(choices=["YX01"])
    assert_problem(APIClient().post(url(f"applications/{application.reference}/withdraw/"), {"reason": "x"}), 401)


# --- lookup code --------------------------------------------------------------------------------------
def test_a_new_lookup_code_replaces_the_old_one(intake_officer):
    """R-PUB-1."""
    application = submitted_application(choices=["YX01"])
    response = intake_officer.post(url(f"applications/{application.reference}/lookup-code/"))
    assert response.status_code == 200
    code = response.json()["lookup_code"]
    assert app_services.lookup_code_matches(Application.objects.get(pk=application.pk), code)


def test_a_finished_application_gets_no_new_lookup_code(intake_officer, reviewer):
    application = submitted_application(choices=["YX01"])
    app_services.application_withdraw(application=application, reason="moved away", actor=actor("intake"))
    problem = assert_problem(intake_officer.post(url(f"applications/{application.reference}/lookup-code/")), 409)
    assert problem["current_state"] == "withdrawn"
    assert_problem(reviewer.post(url(f"applications/{application.reference}/lookup-code/")), 403)


# --- events and positions ---------------------------------------------------------------------------
def test_events_are_listed_oldest_first_with_a_cursor(intake_officer):
    """R-FSM-2."""
    application = queued_application(choices=["YX01"])
    first = intake_officer.get(url(f"applications/{application.reference}/events/"), {"page_size": 2}).json()
    assert [e["transition"] for e in first["results"]] == ["create", "submit"]
    event = first["results"][0]
    assert event["application"] == application.reference
    assert event["actor"] == {"kind": "user", "name": "intake"}
    assert event["from_state"] == "" and event["to_state"] == "draft" and event["reason"] is None
    events, page = list(first["results"]), first
    while page["next"]:
        page = intake_officer.get(page["next"]).json()
        assert len(page["results"]) <= 2
        events += page["results"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["transition"] for e in events] == list(
        ApplicationEvent.objects.filter(application=application).order_by("id").values_list("transition", flat=True)
    )
    assert events[-1]["transition"] == "approve"


def test_events_of_an_unknown_application_are_404(intake_officer):
    assert_problem(intake_officer.get(url("applications/2026-999999/events/")), 404)


def test_positions_are_given_per_chosen_home(intake_officer):
    """R-Q-4."""
    application = queued_application(choices=["YX01", "GZC01"])
    response = intake_officer.get(url(f"applications/{application.reference}/positions/"))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [p["facility"] for p in results] == ["YX01", "GZC01"]
    assert results[0]["position"] == 1 and results[0]["ahead_same_care_level"] == 0
    assert sum(results[0]["score_breakdown"].values()) == results[0]["score"]
    assert results[0]["estimated_wait"] is None  # not enough history (R-Q-5)


def test_an_application_not_yet_queued_has_no_positions(intake_officer):
    application = submitted_application(choices=["YX01"])
    response = intake_officer.get(url(f"applications/{application.reference}/positions/"))
    assert response.status_code == 200 and response.json()["results"] == []


def test_positions_need_credentials():
    application = queued_application(choices=["YX01"])
    assert_problem(APIClient().get(url(f"applications/{application.reference}/positions/")), 401)


# --- evidence files ---------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(client, reference: str, code: str, content: bytes, name: str = "evidence.png"):
    file = io.BytesIO(content)
    file.name = name
    return client.post(url(f"applications/{reference}/categories/{code}/evidence/"), {"file": file}, format="multipart")


def test_an_evidence_file_is_attached_to_a_claim(intake_officer):
    """R-APP-8: evidence may be an uploaded file."""
    application = submitted_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "cert"}])
    response = upload(intake_officer, application.reference, "dibao", PNG)
    assert response.status_code == 200, response.content
    assert response.json()["categories"][0]["evidence_file"] is True
    assert CategoryClaim.objects.get(application=application).evidence_file.name.endswith(".png")


def test_a_file_alone_is_evidence_enough_for_a_new_claim(intake_officer):
    application = submitted_application(choices=["YX01"])
    response = upload(intake_officer, application.reference, "youfu", b"%PDF-1.7\n...", name="card.pdf")
    assert response.status_code == 200, response.content
    assert [c["code"] for c in response.json()["categories"]] == ["youfu"]


def test_evidence_that_is_not_pdf_jpeg_or_png_is_400_whatever_its_name(intake_officer):
    application = submitted_application(choices=["YX01"])
    assert_problem(upload(intake_officer, application.reference, "dibao", b"MZ\x90\x00 exe", name="x.png"), 400, "file")
    assert not CategoryClaim.objects.exists()


def test_an_upload_without_a_file_or_for_an_unknown_category_is_400(intake_officer):
    application = submitted_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/categories/dibao/evidence/")
    assert_problem(intake_officer.post(path, {}, format="multipart"), 400, "file")
    assert_problem(upload(intake_officer, application.reference, "royalty", PNG), 400, "code")


@pytest.mark.parametrize(
    "spelling",
    [
        "null",
        "undefined",
        " null ",
        "",
        "   ",
        "true",
        "false",
        "202400123",
        "5.026058916977876e+166",
        "-1",
        "{}",
        "[1]",
    ],
)
def test_a_null_document_reference_beside_an_evidence_file_is_400_not_stored_as_text(intake_officer, spelling):
    """R-APP-8, issue 16 (schemathesis ST201): a form part is text, so a client's null arrives as "null"
    (FormData.append("evidence", null)), a number as its digits (schemathesis sent 5.026058916977876e+166
    for the string); the schema says the reference is a string, so these are refused rather than kept
    as the reference "null" or "202400123"."""
    application = submitted_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-001"}])
    file = io.BytesIO(PNG)
    file.name = "file.png"
    path = url(f"applications/{application.reference}/categories/dibao/evidence/")
    response = intake_officer.post(path, {"file": file, "evidence": spelling}, format="multipart")
    assert_problem(response, 400, "evidence")
    if spelling.strip():
        assert "不能是 null、true、false 或单独的数字" in str(response.json()["errors"]["evidence"])
    claim = CategoryClaim.objects.get(application=application)
    assert (claim.evidence, bool(claim.evidence_file)) == ("低保证 2024-001", False)


@pytest.mark.parametrize("reference", ["nullah 2024-7", "No. 202400123", '"202400123"', "[2024]123号", "1e5 证"])
def test_a_document_reference_beside_an_evidence_file_is_kept(intake_officer, reference):
    """R-APP-8: the reference sent with the file (any text but the spelling of a value that is not
    text) is the claim's."""
    application = submitted_application(choices=["YX01"])
    file = io.BytesIO(PNG)
    file.name = "file.png"
    path = url(f"applications/{application.reference}/categories/dibao/evidence/")
    response = intake_officer.post(path, {"file": file, "evidence": reference}, format="multipart")
    assert response.status_code == 200, response.content
    assert CategoryClaim.objects.get(application=application).evidence == reference


def test_the_openapi_document_says_a_null_document_reference_is_not_a_reference(intake_officer):
    """Issue 16: the schema and the upload agree on what `evidence` takes."""
    schema = intake_officer.get("/api/schema/?format=json").json()
    body = schema["paths"]["/api/v1/applications/{reference}/categories/{code}/evidence/"]["post"]["requestBody"]
    ref = body["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    evidence = schema["components"]["schemas"][ref]["properties"]["evidence"]
    assert evidence["type"] == "string"
    sent = ["null", "undefined", " null ", "", "   ", "nullah 2024-7", " 证 1"]
    # Blank is refused by the pattern; the two spellings of a null by the API, as the description says.
    assert [text for text in sent if re.search(evidence["pattern"], text)] == [
        "null",
        "undefined",
        " null ",
        "nullah 2024-7",
        " 证 1",
    ]
    assert "`null` or `undefined`, and any other spelling of a value that is not text" in evidence["description"]
    assert "(?" not in evidence["pattern"] and "not" not in evidence  # schemathesis misread both (issue 16)


def test_an_evidence_upload_sent_as_json_is_415(intake_officer):
    application = submitted_application(choices=["YX01"])
    path = url(f"applications/{application.reference}/categories/dibao/evidence/")
    assert_problem(intake_officer.post(path, {"file": "x"}, format="json"), 415)


def test_evidence_cannot_be_added_after_approval_r_chg_1(intake_officer):
    application = queued_application(choices=["YX01"])
    assert_problem(upload(intake_officer, application.reference, "dibao", PNG), 409)


def test_a_document_reference_sent_twice_beside_an_evidence_file_is_400_and_changes_nothing(intake_officer):
    """R-APP-8, issue 16 (schemathesis ST201: a list for the string became two form parts, and one of
    them was kept silently): one reference, given once."""
    application = submitted_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-001"}])
    file = io.BytesIO(PNG)
    file.name = "file.png"
    path = url(f"applications/{application.reference}/categories/dibao/evidence/")
    response = intake_officer.post(path, {"file": file, "evidence": ["证 1", "证 2"]}, format="multipart")
    assert_problem(response, 400, "evidence")
    claim = CategoryClaim.objects.get(application=application)
    assert (claim.evidence, bool(claim.evidence_file)) == ("低保证 2024-001", False)
