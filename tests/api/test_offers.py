"""REST API: offers (API.md "Offers"; SPEC R-OFF-1…5). The rules are the services'; these tests
check the HTTP contract: shapes, roles, the facility officer's own home, and every error status."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import Application, Offer
from admissions.services.offers import offer_accept
from tests.api.helpers import assert_problem, client_as
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
GARBAGE = [[], None, "x", 12, [{"reason": "x"}], {"reason": "x" * 10_000}, {"admitted_on": "2026-13-45"}]


def post_json(client: APIClient, path: str, body):
    """The body as JSON, whatever it is (None → `null`)."""
    return client.post(path, json.dumps(body), content_type="application/json")


def offered(code: str = "YX01") -> Offer:
    """An application offered the one vacant nursing bed of home `code`."""
    home = FacilityFactory(code=code)
    add_beds(home, nursing=1, status="vacant")
    return Offer.objects.get(application=queued_application(choices=[code]), state="pending")


def url(offer_or_id, action: str = "") -> str:
    pk = offer_or_id.pk if isinstance(offer_or_id, Offer) else offer_or_id
    return f"/api/v1/offers/{pk}/" + (f"{action}/" if action else "")


@pytest.fixture
def offer() -> Offer:
    return offered()


@pytest.fixture
def officer(offer) -> APIClient:
    return client_as("facility", facility=offer.facility)


# --- reading --------------------------------------------------------------------------------------
def test_an_offer_is_shown_with_its_keys_and_deadlines_in_the_citys_zone(offer):
    response = client_as("reviewer").get(url(offer))
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": offer.pk,
        "application": offer.application.reference,
        "facility": "YX01",
        "bed": offer.bed_id,
        "bed_code": offer.bed.code,
        "state": "pending",
        "made_at": body["made_at"],
        "respond_by": body["respond_by"],
        "admit_by": None,
        "decision": offer.decision_id,
        "partner_offer": None,  # R-CPL-2: a single offer
        "overdue": False,  # R-OFF-7
    }
    respond_by = dt.datetime.fromisoformat(body["respond_by"])
    assert respond_by == offer.respond_by and respond_by.utcoffset() == dt.timedelta(hours=8)


def test_the_list_is_filtered_by_state_facility_and_application(offer):
    other = offered("GZ02")
    offer_accept(offer=other, actor=actor("facility"))
    client = client_as("intake")
    assert {o["id"] for o in client.get("/api/v1/offers/").json()["results"]} == {offer.pk, other.pk}
    assert [o["id"] for o in client.get("/api/v1/offers/", {"state": "accepted"}).json()["results"]] == [other.pk]
    assert [o["id"] for o in client.get("/api/v1/offers/", {"facility": "YX01"}).json()["results"]] == [offer.pk]
    by_reference = client.get("/api/v1/offers/", {"application": other.application.reference}).json()
    assert [o["id"] for o in by_reference["results"]] == [other.pk]
    assert client.get("/api/v1/offers/", {"facility": "NOPE"}).json()["results"] == []


def test_an_unknown_state_filter_is_a_400_naming_the_filter():
    assert_problem(client_as("intake").get("/api/v1/offers/", {"state": "eaten"}), 400, "state")


def test_a_facility_officer_sees_only_their_own_homes_offers(offer, officer):
    """SPEC §10."""
    elsewhere = offered("GZ02")
    assert [o["id"] for o in officer.get("/api/v1/offers/").json()["results"]] == [offer.pk]
    assert officer.get("/api/v1/offers/", {"facility": "GZ02"}).json()["results"] == []
    assert officer.get(url(offer)).status_code == 200
    assert_problem(officer.get(url(elsewhere)), 403)


def test_reading_needs_credentials_and_a_staff_role(offer):
    assert_problem(APIClient().get("/api/v1/offers/"), 401)
    assert_problem(APIClient().get(url(offer)), 401)
    assert_problem(client_as().get("/api/v1/offers/"), 403)


@pytest.mark.parametrize("pk", [999_999, 10**30])
def test_an_unknown_offer_is_a_404(pk):
    assert_problem(client_as("intake").get(url(pk)), 404)
    assert_problem(client_as("intake").post(url(pk, "accept")), 404)


def test_methods_the_contract_does_not_list_are_405(offer):
    client = client_as("admin")
    assert_problem(client.put(url(offer), {}, format="json"), 405)
    assert_problem(client.delete(url(offer)), 405)
    assert_problem(client.post("/api/v1/offers/", {}, format="json"), 405)
    assert_problem(client.get(url(offer, "accept")), 405)


# --- accept -----------------------------------------------------------------------------------------
def test_the_home_accepting_sets_the_admission_deadline(offer, officer):
    """R-OFF-1."""
    response = officer.post(url(offer, "accept"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "accepted" and body["admit_by"] is not None
    assert Application.objects.get(pk=offer.application_id).state == "admission_check"


def test_an_intake_officer_may_accept_for_the_family(offer):
    assert client_as("intake").post(url(offer, "accept")).json()["state"] == "accepted"


@pytest.mark.parametrize("role", ["assessor", "reviewer"])
def test_other_roles_may_not_answer_an_offer(offer, role):
    for action in ("accept", "decline", "admit", "fail-check"):
        assert_problem(client_as(role).post(url(offer, action), {"reason": "other"}, format="json"), 403)
    assert Offer.objects.get(pk=offer.pk).state == "pending"


def test_a_facility_officer_may_not_answer_another_homes_offer(offer):
    """SPEC §10."""
    stranger = client_as("facility", facility=FacilityFactory(code="GZ02"))
    for action in ("accept", "decline", "admit", "fail-check"):
        assert_problem(stranger.post(url(offer, action), {"reason": "other"}, format="json"), 403)
    assert Offer.objects.get(pk=offer.pk).state == "pending"


def test_accepting_twice_is_a_409_naming_the_state_and_what_is_possible(offer, officer):
    """R-FSM-3."""
    officer.post(url(offer, "accept"))
    body = assert_problem(officer.post(url(offer, "accept")), 409)
    assert body["current_state"] == "accepted"
    assert set(body["available_transitions"]) == {"admit", "fail-check"}


def test_answering_needs_credentials(offer):
    for action in ("accept", "decline", "admit", "fail-check"):
        assert_problem(APIClient().post(url(offer, action), {}, format="json"), 401)


def test_an_idempotency_key_replays_the_first_answer(offer, officer):
    first = officer.post(url(offer, "accept"), HTTP_IDEMPOTENCY_KEY="k-1")
    again = officer.post(url(offer, "accept"), HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


# --- decline ----------------------------------------------------------------------------------------
def test_declining_with_a_reason_is_a_refusal(offer, officer):
    """R-OFF-4."""
    response = officer.post(url(offer, "decline"), {"reason": "too far from my son"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "declined"
    offer.refresh_from_db()
    assert offer.is_refusal and offer.note == "too far from my son"


def test_declining_needs_no_body(offer):
    assert client_as("intake").post(url(offer, "decline")).json()["state"] == "declined"


@pytest.mark.parametrize("body", GARBAGE)
def test_a_bad_decline_body_is_a_400_and_changes_nothing(offer, officer, body):
    response = post_json(officer, url(offer, "decline"), body)
    if isinstance(body, dict) and "reason" not in body:
        assert response.status_code == 200  # fields it does not know are ignored
        return
    assert_problem(response, 400)
    assert Offer.objects.get(pk=offer.pk).state == "pending"


def test_a_too_long_decline_reason_names_the_field(offer, officer):
    assert_problem(officer.post(url(offer, "decline"), {"reason": "x" * 2001}, format="json"), 400, "reason")


def test_declining_an_accepted_offer_is_a_409(offer, officer):
    officer.post(url(offer, "accept"))
    assert assert_problem(officer.post(url(offer, "decline")), 409)["current_state"] == "accepted"


# --- admit --------------------------------------------------------------------------------------------
def test_admitting_an_accepted_offer_on_a_given_day(offer, officer):
    """SPEC §5: admit."""
    officer.post(url(offer, "accept"))
    today = timezone.localdate().isoformat()
    response = officer.post(url(offer, "admit"), {"admitted_on": today}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "admitted"
    assert offer.application.occupancy.admitted_on.isoformat() == today


def test_admitting_without_a_date_means_today(offer, officer):
    officer.post(url(offer, "accept"))
    assert officer.post(url(offer, "admit"), {}, format="json").json()["state"] == "admitted"


def test_only_the_home_admits_not_intake(offer):
    offer_accept(offer=offer, actor=actor("facility"))
    assert_problem(client_as("intake").post(url(offer, "admit")), 403)


def test_admitting_a_pending_offer_is_a_409(offer, officer):
    body = assert_problem(officer.post(url(offer, "admit")), 409)
    assert body["current_state"] == "pending" and set(body["available_transitions"]) == {"accept", "decline"}


@pytest.mark.parametrize(
    "admitted_on", ["2026-13-45", "yesterday", 20260101, "2026-01-01T10:00:00+08:00", "x" * 10_000, ["2026-01-01"]]
)
def test_a_malformed_admission_date_is_a_400_naming_it(offer, officer, admitted_on):
    officer.post(url(offer, "accept"))
    assert_problem(officer.post(url(offer, "admit"), {"admitted_on": admitted_on}, format="json"), 400, "admitted_on")


def test_an_admission_date_in_the_future_is_a_400_naming_it(offer, officer):
    officer.post(url(offer, "accept"))
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert_problem(officer.post(url(offer, "admit"), {"admitted_on": tomorrow}, format="json"), 400, "admitted_on")
    assert Offer.objects.get(pk=offer.pk).state == "accepted"


@pytest.mark.parametrize("body", [[], None, "x", 12])
def test_a_non_object_admit_body_is_a_400(offer, officer, body):
    officer.post(url(offer, "accept"))
    assert_problem(post_json(officer, url(offer, "admit"), body), 400)


# --- fail-check -----------------------------------------------------------------------------------------
def test_a_no_show_fails_the_check_and_is_a_refusal(offer, officer):
    """R-OFF-4: no-shows are refusals."""
    officer.post(url(offer, "accept"))
    response = officer.post(url(offer, "fail-check"), {"reason": "no_show", "note": "did not come"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "failed_check"
    offer.refresh_from_db()
    assert offer.is_refusal and offer.note == "did not come"


def test_a_changed_care_need_sends_the_application_back_for_assessment(offer, officer):
    officer.post(url(offer, "accept"))
    officer.post(url(offer, "fail-check"), {"reason": "care_need_changed"}, format="json")
    assert Application.objects.get(pk=offer.application_id).state == "assessment_pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "bored"}, "reason"),
        ({"reason": None}, "reason"),
        ({"reason": "other", "note": "x" * 2001}, "note"),
    ],
)
def test_a_bad_fail_check_body_is_a_400_naming_the_field(offer, officer, body, field):
    officer.post(url(offer, "accept"))
    assert_problem(officer.post(url(offer, "fail-check"), body, format="json"), 400, field)
    assert Offer.objects.get(pk=offer.pk).state == "accepted"


def test_failing_the_check_of_a_pending_offer_is_a_409(offer, officer):
    assert_problem(officer.post(url(offer, "fail-check"), {"reason": "other"}, format="json"), 409)


@pytest.mark.parametrize("action", ["accept", "decline", "admit", "fail-check"])
@pytest.mark.parametrize("body", GARBAGE)
def test_no_body_makes_any_offer_action_fail_with_a_server_error(offer, action, body):
    response = post_json(client_as("admin"), url(offer, action), body)
    assert response.status_code < 500, response.content


def test_a_form_body_is_refused_as_unsupported_since_bodies_are_json(offer, officer):
    officer.post(url(offer, "accept"))
    assert_problem(officer.post(url(offer, "fail-check"), {"reason": "no_show"}), 415)
    assert Offer.objects.get(pk=offer.pk).state == "accepted"
