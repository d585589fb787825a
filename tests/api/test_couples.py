"""REST API: couples (API.md "couples"; SPEC R-CPL-1, R-CPL-2). The rules are the services'; these
tests check the HTTP contract: shapes, the intake role, problem answers, the joint offer as seen."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from admissions.models import Couple, Offer
from facilities.models import Bed
from tests.api.helpers import assert_problem, client_as
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db


def post_json(client, path: str, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def pair(code: str = "YX01"):
    facility = FacilityFactory(code=code)
    add_beds(facility, nursing=8, holder="nursing")
    add_beds(facility, general=2, holder="nursing")
    wife = queued_application(grade=2, choices=[code], date_of_birth=dt.date(1940, 1, 1), sex="F")
    husband = queued_application(grade=0, choices=[code], date_of_birth=dt.date(1939, 1, 1), sex="M")
    return facility, wife, husband


def test_intake_links_a_couple_and_each_application_shows_its_partner():
    """R-CPL-1: POST /couples/ → {id, applications, mode}; application.couple = {id, partner, mode}."""
    _facility, wife, husband = pair()
    intake = client_as("intake")
    response = post_json(
        intake,
        "/api/v1/couples/",
        {"applications": [wife.reference, husband.reference], "mode": "together", "reason": "married"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["applications"] == [wife.reference, husband.reference] and body["mode"] == "together"
    shown = client_as("reviewer").get(f"/api/v1/applications/{husband.reference}/").json()
    assert shown["couple"] == {"id": body["id"], "partner": wife.reference, "mode": "together"}


def test_only_intake_may_link():
    """R-CPL-1: an intake officer links (an admin too); a facility officer may not."""
    facility, wife, husband = pair()
    response = post_json(
        client_as("facility", facility=facility),
        "/api/v1/couples/",
        {"applications": [wife.reference, husband.reference], "mode": "together", "reason": "x"},
    )
    assert response.status_code == 403
    assert not Couple.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"applications": ["SELF", "SELF"], "mode": "together", "reason": "x"}, 400, "applications.1"),
        ({"applications": ["WIFE", "HUSBAND"], "mode": "apart", "reason": "x"}, 400, "mode"),
        ({"applications": ["WIFE", "HUSBAND"], "mode": "together"}, 400, "reason"),
        ({"applications": ["WIFE"], "mode": "together", "reason": "x"}, 400, "applications"),
        ({"applications": ["WIFE", "2026-999999"], "mode": "together", "reason": "x"}, 404, "applications.1"),
    ],
)
def test_bad_links_are_problems_naming_the_field_and_change_nothing(body, status, field):
    """R-CPL-1: each bad input refused with the field named, in plain words, nothing changed."""
    _facility, wife, husband = pair()
    refs = {"SELF": wife.reference, "WIFE": wife.reference, "HUSBAND": husband.reference}
    body = {**body, "applications": [refs.get(r, r) for r in body["applications"]]}
    problem = assert_problem(post_json(client_as("intake"), "/api/v1/couples/", body), status, field)
    assert "R-CPL" not in json.dumps(problem.get("errors", {})) and "R-CPL" not in problem["detail"]
    assert not Couple.objects.exists()


def test_a_couple_is_unlinked_with_a_reason_by_delete():
    """R-CPL-1: DELETE /couples/{id}/ {reason}; the applications show no couple afterwards."""
    _facility, wife, husband = pair()
    intake = client_as("intake")
    created = post_json(
        intake,
        "/api/v1/couples/",
        {"applications": [wife.reference, husband.reference], "mode": "either_first", "reason": "x"},
    ).json()
    assert_problem(intake.delete(f"/api/v1/couples/{created['id']}/", {}, format="json"), 400, "reason")
    response = intake.delete(f"/api/v1/couples/{created['id']}/", {"reason": "separated"}, format="json")
    assert response.status_code == 200 and response.json()["unlinked_at"]
    assert client_as("reviewer").get(f"/api/v1/applications/{wife.reference}/").json()["couple"] is None
    assert_problem(intake.delete(f"/api/v1/couples/{created['id']}/", {"reason": "again"}, format="json"), 409)
    assert_problem(intake.delete("/api/v1/couples/999999/", {"reason": "x"}, format="json"), 404)


def test_a_joint_offer_shows_its_partner_offer_and_the_discharge_answers_every_decision():
    """R-CPL-2: offer.partner_offer; POST /beds/{id}/discharge/ → {bed, decision, decisions}; the
    partner's decision carries partner_decision."""
    facility, wife, husband = pair()
    post_json(
        client_as("intake"),
        "/api/v1/couples/",
        {"applications": [wife.reference, husband.reference], "mode": "together", "reason": "married"},
    )
    Bed.objects.filter(facility=facility, bed_type="general").update(status="vacant", holder_care_level=None)
    bed = Bed.objects.filter(facility=facility, bed_type="nursing").first()
    response = post_json(
        client_as("facility", facility=facility), f"/api/v1/beds/{bed.pk}/discharge/", {"reason": "deceased"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decision"]["bed"] == bed.pk
    chosen = {d["chosen"]["reference"]: d for d in body["decisions"] if d["chosen"]}
    assert chosen[husband.reference]["partner_decision"] == chosen[wife.reference]["id"]
    assert chosen[wife.reference]["partner_decision"] is None
    hers = Offer.objects.get(application=wife, state="pending")
    shown = client_as("reviewer").get(f"/api/v1/offers/{hers.pk}/").json()
    assert shown["partner_offer"] == Offer.objects.get(application=husband, state="pending").pk
