"""REST API: the assessment instrument and assessments (API.md "Assessments", SPEC §4).

Assertions are on statuses and field paths, never on message text (messages are translated).
"""

import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import Application
from admissions.services import applications as app_services
from assessments.models import Assessment
from facilities.models import Facility
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import (
    GRADE_TOTALS,
    ITEMS_GRADE_0,
    FacilityFactory,
    actor,
    district,
    items_with_total,
    queued_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


# --- helpers ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def homes():
    return {
        "YX01": FacilityFactory(code="YX01", level="district", district=district("yuexiu")),
        "GZC01": FacilityFactory(code="GZC01", level="city", district=district("tianhe")),
    }


@pytest.fixture
def assessor():
    return client_as("assessor")


@pytest.fixture
def reviewer():
    return client_as("reviewer")


@pytest.fixture
def pending():
    """An application accepted for assessment (assessment_pending)."""
    application = submitted_application(choices=["YX01"])
    return app_services.application_accept_for_assessment(application=application, actor=actor("intake"))


def today() -> str:
    return timezone.localdate().isoformat()


def record(client, application, **body):
    body = {"assessed_on": today(), "items": items_with_total(GRADE_TOTALS[2]), **body}
    return client.post(url(f"applications/{application.reference}/assessments/"), body, format="json")


def completed_by(client, application) -> dict:
    response = record(client, application, complete=True)
    assert response.status_code == 201, response.content
    return response.json()


# --- the instrument ---------------------------------------------------------------------------------
def test_the_instrument_lists_26_items_in_both_languages_with_every_level():
    """SPEC §4: B1.1–B4.5 in order, each level described in Chinese and English."""
    response = client_as("facility", facility=Facility.objects.get(code="YX01")).get(url("assessment-instrument/"))
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 26
    assert [i["code"] for i in items][:2] == ["B1.1", "B1.2"] and items[-1]["code"] == "B4.5"
    eating = items[0]
    assert eating["domain"] == "B1" and eating["min"] == 0 and eating["max"] == 4
    assert eating["name"] == {"zh-hans": "进食", "en": "Eating"}
    assert [level["points"] for level in eating["levels"]] == [4, 3, 2, 1, 0]
    assert set(eating["levels"][0]["label"]) == {"zh-hans", "en"}
    assert sum(i["max"] for i in items) == response.json()["max_total"] == 90


def test_the_instrument_needs_credentials():
    assert_problem(APIClient().get(url("assessment-instrument/")), 401)


def test_the_instrument_is_read_only():
    assert_problem(client_as("admin").post(url("assessment-instrument/"), {}, format="json"), 405)


# --- POST /applications/{reference}/assessments/ --------------------------------------------------------
def test_an_assessor_records_a_draft(assessor, pending):
    response = record(assessor, pending, items={"B1.1": 4, "B1.2": 3}, notes="first visit")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == "draft"
    assert data["application"] == pending.reference
    assert data["assessor"] == assessor.user.username
    assert data["items"] == {"B1.1": 4, "B1.2": 3}
    assert data["total"] is None and data["grade"] is None and data["domain_totals"] is None
    assert data["care_level"] is None and data["valid_until"] is None


def test_complete_true_grades_it_and_moves_the_application_to_review(assessor, pending):
    """R-ASM-1, R-ASM-4; SPEC §5 complete_assessment."""
    data = completed_by(assessor, pending)
    assert data["state"] == "completed"
    assert data["total"] == GRADE_TOTALS[2] and data["grade"] == 2
    assert sum(data["domain_totals"].values()) == data["total"]
    assert set(data["domain_totals"]) == {"B1", "B2", "B3", "B4"}
    assert Application.objects.get(pk=pending.pk).state == "review"


def test_coma_grades_at_least_3(assessor, pending):
    """R-ASM-2."""
    items = {**ITEMS_GRADE_0, "B3.9": 0}
    data = record(assessor, pending, items=items, coma=True, complete=True).json()
    assert data["grade"] == 3 and data["coma"] is True


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ({"B1.1": 5}, "items.B1.1"),
        ({"B2.4": 4}, "items.B2.4"),
        ({"B1.1": -1}, "items.B1.1"),
        ({"B1.1": 2.5}, "items.B1.1"),
        ({"B1.1": "4"}, "items.B1.1"),
        ({"B1.1": True}, "items.B1.1"),
        ({"B1.1": None}, "items.B1.1"),
        ({"B1.1": 10**30}, "items.B1.1"),
        ({"B9.9": 1}, "items.B9.9"),
        ([4, 4], "items"),
        ("B1.1=4", "items"),
    ],
)
def test_item_scores_outside_the_instrument_are_400_naming_the_item(assessor, pending, items, field):
    """R-ASM-3."""
    assert_problem(record(assessor, pending, items=items), 400, field)
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("assessed_on", ["2026-13-01", "yesterday", "", None, 20260101])
def test_a_malformed_assessment_date_is_400(assessor, pending, assessed_on):
    assert_problem(record(assessor, pending, assessed_on=assessed_on), 400, "assessed_on")


def test_an_assessment_dated_in_the_future_is_400(assessor, pending):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert_problem(record(assessor, pending, assessed_on=tomorrow), 400, "assessed_on")


@pytest.mark.parametrize("garbage", [[], None, "x", 12345678901234567890, "x" * 10_000])
def test_a_body_that_is_not_an_object_is_400_not_500(assessor, pending, garbage):
    response = assessor.post(
        url(f"applications/{pending.reference}/assessments/"), json.dumps(garbage), content_type="application/json"
    )
    assert_problem(response, 400)


def test_a_note_of_10000_characters_is_400(assessor, pending):
    assert_problem(record(assessor, pending, notes="x" * 10_000), 400, "notes")


@pytest.mark.parametrize(("field", "value"), [("coma", "false"), ("complete", 1), ("notes", 7)])
def test_mistyped_flags_and_notes_are_400(assessor, pending, field, value):
    assert_problem(record(assessor, pending, **{field: value}), 400, field)


@pytest.mark.parametrize("role", ["intake", "reviewer", "facility"])
def test_only_assessors_record_assessments(role, pending):
    facility = Facility.objects.get(code="YX01") if role == "facility" else None
    assert_problem(record(client_as(role, facility=facility), pending), 403)


def test_recording_needs_credentials(pending):
    assert_problem(record(APIClient(), pending), 401)


def test_an_application_not_accepted_for_assessment_cannot_be_assessed(assessor):
    application = submitted_application(choices=["YX01"])
    problem = assert_problem(record(assessor, application), 409)
    assert problem["current_state"] == "submitted"


def test_recording_for_an_unknown_application_is_404(assessor):
    response = assessor.post(
        url("applications/2026-999999/assessments/"), {"assessed_on": today(), "items": {}}, format="json"
    )
    assert_problem(response, 404)


# --- reading ---------------------------------------------------------------------------------------------
def test_an_applications_assessments_are_listed_newest_first(assessor, pending):
    older = record(assessor, pending, assessed_on=(timezone.localdate() - dt.timedelta(days=3)).isoformat()).json()
    newer = record(assessor, pending).json()
    response = client_as("intake").get(url(f"applications/{pending.reference}/assessments/"))
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [newer["id"], older["id"]]


def test_one_assessment_is_read_by_any_staff(assessor, pending):
    created = record(assessor, pending).json()
    response = client_as("reviewer").get(url(f"assessments/{created['id']}/"))
    assert response.status_code == 200 and response.json() == created


@pytest.mark.parametrize("id", [999999, 2**63 + 5, "abc", "null,null", "-1", "١٢"])
def test_an_unknown_assessment_is_404(id):
    assert_problem(client_as("reviewer").get(url(f"assessments/{id}/")), 404)


def test_a_facility_officer_reads_assessments_of_applications_that_chose_their_home_only(assessor, pending):
    created = record(assessor, pending).json()
    own = client_as("facility", facility=Facility.objects.get(code="YX01"))
    other = client_as("facility", facility=Facility.objects.get(code="GZC01"))
    assert own.get(url(f"assessments/{created['id']}/")).status_code == 200
    assert_problem(other.get(url(f"assessments/{created['id']}/")), 403)
    assert_problem(other.get(url(f"applications/{pending.reference}/assessments/")), 403)


def test_reading_needs_credentials(assessor, pending):
    created = record(assessor, pending).json()
    assert_problem(APIClient().get(url(f"assessments/{created['id']}/")), 401)
    assert_problem(APIClient().get(url(f"applications/{pending.reference}/assessments/")), 401)


# --- PATCH /assessments/{id}/ ------------------------------------------------------------------------------
def test_a_draft_is_changed_and_items_are_merged(assessor, pending):
    created = record(assessor, pending, items={"B1.1": 4}).json()
    response = assessor.patch(url(f"assessments/{created['id']}/"), {"items": {"B1.2": 2}, "notes": "n"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["items"] == {"B1.1": 4, "B1.2": 2}


def test_a_completed_assessment_is_never_edited(assessor, pending):
    """R-ASM-4."""
    created = completed_by(assessor, pending)
    response = assessor.patch(url(f"assessments/{created['id']}/"), {"items": {"B4.5": 0}}, format="json")
    problem = assert_problem(response, 409)
    assert problem["current_state"] == "completed"
    assert Assessment.objects.get(pk=created["id"]).items == created["items"]
    assert created["items"]["B4.5"] != 0


def test_a_patch_with_a_bad_item_is_400_naming_it(assessor, pending):
    created = record(assessor, pending, items={}).json()
    response = assessor.patch(url(f"assessments/{created['id']}/"), {"items": {"B4.1": 3}}, format="json")
    assert_problem(response, 400, "items.B4.1")


@pytest.mark.parametrize("garbage", [[], None, "x", 10**30])
def test_a_patch_body_that_is_not_an_object_is_400(assessor, pending, garbage):
    created = record(assessor, pending).json()
    response = assessor.patch(
        url(f"assessments/{created['id']}/"), json.dumps(garbage), content_type="application/json"
    )
    assert_problem(response, 400)


def test_only_assessors_patch(pending, assessor):
    created = record(assessor, pending).json()
    assert_problem(client_as("reviewer").patch(url(f"assessments/{created['id']}/"), {}, format="json"), 403)


# --- complete ---------------------------------------------------------------------------------------------
def test_completing_with_missing_items_is_422_naming_them(assessor, pending):
    """R-ASM-3."""
    items = dict(items_with_total(GRADE_TOTALS[2]))
    del items["B3.4"], items["B4.2"]
    created = record(assessor, pending, items=items).json()
    problem = assert_problem(
        assessor.post(url(f"assessments/{created['id']}/complete/")), 422, "items.B3.4", "items.B4.2"
    )
    assert "items.B1.1" not in problem["errors"]
    assert Assessment.objects.get(pk=created["id"]).state == "draft"


def test_the_assessor_completes_their_draft(assessor, pending):
    created = record(assessor, pending).json()
    response = assessor.post(url(f"assessments/{created['id']}/complete/"))
    assert response.status_code == 200
    assert response.json()["state"] == "completed" and response.json()["grade"] == 2


def test_another_assessor_may_not_complete_it(assessor, pending):
    created = record(assessor, pending).json()
    assert_problem(client_as("assessor").post(url(f"assessments/{created['id']}/complete/")), 403)


def test_completing_twice_is_409(assessor, pending):
    created = completed_by(assessor, pending)
    problem = assert_problem(assessor.post(url(f"assessments/{created['id']}/complete/")), 409)
    assert problem["current_state"] == "completed"
    assert problem["available_transitions"] == []  # approve and reject are the reviewer's (R-FSM-3)


# --- approve and reject -------------------------------------------------------------------------------------
def test_a_reviewer_approves_and_the_care_level_and_validity_are_set(assessor, reviewer, pending):
    """R-CARE-1, R-ASM-5."""
    created = completed_by(assessor, pending)
    response = reviewer.post(url(f"assessments/{created['id']}/approve/"))
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == "approved" and data["care_level"] == "nursing"
    assert data["reviewer"] == reviewer.user.username
    assert data["valid_until"] == (timezone.localdate() + dt.timedelta(days=365)).isoformat()
    application = client_as("reviewer").get(url(f"applications/{pending.reference}/")).json()
    assert application["state"] == "review" and application["care_level"] == "nursing" and application["grade"] == 2


def test_the_assessor_may_not_approve_their_own_assessment(pending):
    """Four eyes (R-ASM-4): someone who is both assessor and reviewer still cannot approve their own."""
    both = client_as("assessor", "reviewer")
    created = completed_by(both, pending)
    assert_problem(both.post(url(f"assessments/{created['id']}/approve/")), 403)
    assert_problem(both.post(url(f"assessments/{created['id']}/reject/"), {"reason": "x"}, format="json"), 403)
    assert Assessment.objects.get(pk=created["id"]).state == "completed"


def test_approving_a_draft_is_409_naming_its_state(assessor, reviewer, pending):
    created = record(assessor, pending).json()
    problem = assert_problem(reviewer.post(url(f"assessments/{created['id']}/approve/")), 409)
    assert problem["current_state"] == "draft"
    assert problem["available_transitions"] == []


@pytest.mark.parametrize("role", ["assessor", "intake"])
def test_only_reviewers_approve_or_reject(role, assessor, pending):
    created = completed_by(assessor, pending)
    client = client_as(role)
    assert_problem(client.post(url(f"assessments/{created['id']}/approve/")), 403)
    assert_problem(client.post(url(f"assessments/{created['id']}/reject/"), {"reason": "x"}, format="json"), 403)


def test_a_rejected_assessment_sends_the_application_back_for_assessment(assessor, reviewer, pending):
    """R-ASM-4."""
    created = completed_by(assessor, pending)
    path = url(f"assessments/{created['id']}/reject/")
    assert_problem(reviewer.post(path, {}, format="json"), 400, "reason")
    assert_problem(reviewer.post(path, {"reason": "x" * 10_000}, format="json"), 400, "reason")
    assert_problem(reviewer.post(path, json.dumps([]), content_type="application/json"), 400)
    response = reviewer.post(path, {"reason": "scores do not match the notes"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "rejected"
    assert Application.objects.get(pk=pending.pk).state == "assessment_pending"


def test_a_reassessment_while_queued_keeps_the_place_and_updates_the_care_level(assessor, reviewer):
    """SPEC §5 reassess: a new approved assessment while waiting."""
    application = queued_application(grade=1, choices=["YX01"])
    queued_at = Application.objects.get(pk=application.pk).queued_at
    created = completed_by(assessor, application)
    assert reviewer.post(url(f"assessments/{created['id']}/approve/")).status_code == 200
    data = reviewer.get(url(f"applications/{application.reference}/")).json()
    assert data["state"] == "waiting" and data["care_level"] == "nursing"
    assert Application.objects.get(pk=application.pk).queued_at == queued_at


def test_steps_on_an_unknown_assessment_are_404(reviewer, assessor):
    assert_problem(reviewer.post(url("assessments/999999/approve/")), 404)
    assert_problem(assessor.post(url("assessments/999999/complete/")), 404)


def test_steps_answer_get_with_405(reviewer, assessor, pending):
    created = completed_by(assessor, pending)
    assert_problem(reviewer.get(url(f"assessments/{created['id']}/approve/")), 405)
