"""REST API: re-reviews (复核, R-ASM-6; API.md "Life while waiting, re-review, couples").

Assertions are on statuses and field paths, never on message text (messages are translated).
"""

import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import ReviewRequest
from admissions.services import applications as app_services
from facilities.roles import roles_assign
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import GRADE_TOTALS, FacilityFactory, actor, items_with_total, queued_application

pytestmark = pytest.mark.django_db
RULE_CODE = re.compile(r"R-[A-Z]+-\d")


@pytest.fixture
def application():
    FacilityFactory(code="YX01")
    return queued_application(grade=2, choices=["YX01"])


def ask(application, reason="She needs more help than the grade says."):
    return client_as("intake").post(
        url(f"applications/{application.reference}/review-requests/"), {"reason": reason}, format="json"
    )


def assigned_and_reassessed(review_id: int, *, grade: int) -> str:
    """A new assessor is assigned and records a completed assessment; returns its username."""
    assessor = client_as("assessor", username="second-assessor")
    answer = client_as("reviewer").post(
        url(f"review-requests/{review_id}/assign/"), {"assessor": "second-assessor"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "assigned" and answer.json()["assessor"] == "second-assessor"
    review = ReviewRequest.objects.get(pk=review_id)
    created = assessor.post(
        url(f"applications/{review.application.reference}/assessments/"),
        {
            "assessed_on": timezone.localdate().isoformat(),
            "items": items_with_total(GRADE_TOTALS[grade]),
            "complete": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return created.json()["id"]


def test_asking_answers_the_re_review_with_its_due_date_and_the_application_lists_it(application):
    """R-ASM-6: POST review-requests → {id, assessment, state, assessor, outcome, due_by}."""
    answer = ask(application)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["state"] == "requested" and body["outcome"] is None and body["assessor"] is None
    assert body["assessment"] == application.current_assessment_id and body["due_by"]
    shown = client_as("reviewer").get(url(f"applications/{application.reference}/")).json()
    assert [r["id"] for r in shown["review_requests"]] == [body["id"]]


def test_a_second_re_review_of_the_same_assessment_is_a_422_naming_the_assessment(application):
    """R-ASM-6: one re-review per assessment."""
    assert ask(application).status_code == 201
    problem = assert_problem(ask(application, reason="again"), 422, "assessment")
    assert not RULE_CODE.search(problem["detail"] + str(problem["errors"]))
    assert ReviewRequest.objects.count() == 1


def test_a_re_review_without_a_reason_is_a_400_naming_the_reason(application):
    """R-ASM-6: asked for with a reason."""
    assert_problem(ask(application, reason=""), 400, "reason")


def test_assigning_the_first_assessor_is_a_422_naming_the_assessor(application):
    """R-ASM-6: an assessor who took no part in that assessment or its approval."""
    review_id = ask(application).json()["id"]
    first = application.current_assessment.assessor
    roles_assign(user=first, roles=["assessor"])
    answer = client_as("reviewer").post(
        url(f"review-requests/{review_id}/assign/"), {"assessor": first.username}, format="json"
    )
    problem = assert_problem(answer, 422, "assessor")
    assert not RULE_CODE.search(problem["detail"] + str(problem["errors"]))


def test_the_first_approver_deciding_is_a_403(application):
    """R-ASM-6: decided by a reviewer other than the one who approved the first assessment."""
    review_id = ask(application).json()["id"]
    new_id = assigned_and_reassessed(review_id, grade=3)
    first_reviewer = application.current_assessment.reviewer
    roles_assign(user=first_reviewer, roles=["reviewer"])
    client = APIClient()
    client.force_authenticate(first_reviewer)
    answer = client.post(url(f"review-requests/{review_id}/decide/"), {"assessment": new_id}, format="json")
    assert_problem(answer, 403, "reviewer")


def test_deciding_with_a_changed_grade_applies_it_and_upheld_needs_a_reason(application):
    """R-ASM-6: `{assessment}` with another grade → changed, applied; `{outcome: upheld}` without reason → 400."""
    review_id = ask(application).json()["id"]
    new_id = assigned_and_reassessed(review_id, grade=3)
    reviewer = client_as("reviewer", username="second-reviewer")
    assert_problem(
        reviewer.post(url(f"review-requests/{review_id}/decide/"), {"outcome": "upheld"}, format="json"), 400, "reason"
    )
    answer = reviewer.post(url(f"review-requests/{review_id}/decide/"), {"assessment": new_id}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["state"] == "decided" and body["outcome"] == "changed" and body["applied"] is True
    shown = reviewer.get(url(f"applications/{application.reference}/")).json()
    assert shown["grade"] == 3


def test_an_unknown_re_review_is_a_404():
    assert_problem(
        client_as("reviewer").post(url("review-requests/999/assign/"), {"assessor": "x"}, format="json"), 404
    )


def test_the_family_s_lookup_shows_each_re_review_and_its_outcome_without_staff_names(application):
    """R-ASM-6, R-PUB-3: `POST /public/lookup/` answers `review_requests` (as on the application):
    the state and due date while it runs, then the outcome; never the assessor's or reviewer's name."""
    code = app_services.lookup_code_issue(application=application, actor=actor("intake"))
    public = client_as()

    def looked_up() -> dict:
        answer = public.post(url("public/lookup/"), {"reference": application.reference, "code": code}, format="json")
        assert answer.status_code == 200, answer.content
        return answer.json()

    review = ask(application).json()
    shown = looked_up()["review_requests"]
    assert [(r["state"], r["outcome"], r["due_by"]) for r in shown] == [("requested", None, review["due_by"])]
    new_id = assigned_and_reassessed(review["id"], grade=3)
    decided = client_as("reviewer", username="second-reviewer").post(
        url(f"review-requests/{review['id']}/decide/"), {"assessment": new_id}, format="json"
    )
    assert decided.status_code == 200, decided.content
    body = looked_up()
    [shown] = body["review_requests"]
    assert shown["state"] == "decided" and shown["outcome"] == "changed" and shown["applied"] is True
    assert shown["decided_at"] and shown["outcome_label"]
    text = str(body)
    assert "second-assessor" not in text and "second-reviewer" not in text
