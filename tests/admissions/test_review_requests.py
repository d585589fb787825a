"""Re-review (复核) of an assessment's outcome (R-ASM-6): request, assignment, decision, due dates."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from admissions.models import AllocationDecision, Application, Notification, Offer, ReviewRequest, WebhookDelivery
from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from admissions.services.offers import offer_accept, offer_decline, offer_fail_check
from admissions.services.review_requests import (
    review_request_assign,
    review_request_create,
    review_request_decide,
    review_requests_overdue,
)
from admissions.services.webhooks import webhook_subscribe
from core.errors import InvalidInput, NotPermitted, RuleViolation
from facilities.models import Role
from facilities.roles import roles_assign
from tests import spec
from tests.factories import (
    GRADE_TOTALS,
    FacilityFactory,
    UserFactory,
    actor,
    add_beds,
    items_with_total,
    queued_application,
    reviewed_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def assessor_named(username: str):
    user = UserFactory(username=username)
    roles_assign(user=user, roles=[Role.ASSESSOR])
    return user


def queued(grade: int = 2, **kwargs) -> Application:
    FacilityFactory(code="YX01")
    return queued_application(grade=grade, choices=["YX01"], **kwargs)


def requested(
    application: Application, reason: str = "She cannot walk unaided; the grade is too low."
) -> ReviewRequest:
    return review_request_create(application=application, reason=reason, actor=actor("intake"))


def reassessed(review: ReviewRequest, grade: int, *, by: str = "second-assessor") -> ReviewRequest:
    """Assigned to a new assessor, who records and completes the new assessment."""
    review_request_assign(review_request=review, assessor=assessor_named(by), actor=actor("lead-reviewer"))
    asm_services.assessment_create(
        application=review.application,
        assessed_on=timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[grade]),
        complete=True,
        actor=actor(by),
    )
    review.refresh_from_db()
    return review


def rejected_before_approval() -> tuple[Application, object]:
    """An application whose first assessment a reviewer rejected on care need: back in
    assessment_pending, never queued. Returns it and the rejected assessment."""
    FacilityFactory(code="YX01")
    application = app_services.application_accept_for_assessment(
        application=submitted_application(choices=["YX01"]), actor=actor("intake")
    )
    first = asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[1]),
        complete=True,
        actor=actor("assessor"),
    )
    asm_services.assessment_reject(assessment=first, reason="Not what we saw", actor=actor("reviewer"))
    return application, first


# --- the request ----------------------------------------------------------------------------------------
def test_a_re_review_may_be_asked_for_on_the_last_day_of_the_window_after_approval_into_the_queue():
    """R-ASM-6: within review_request_days (30) of being told the outcome (approval into the queue)."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = queued()
    with time_machine.travel(
        dt.datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI) + dt.timedelta(days=spec.REVIEW_REQUEST_DAYS)
    ):
        review = requested(application)
    assert review.state == "requested" and review.outcome is None
    assert review.assessment_id == application.current_assessment_id
    event = application.events.get(transition="review_requested")
    assert event.reason.startswith("She cannot walk") and event.data["review_request"] == review.pk


def test_a_re_review_asked_for_the_day_after_the_window_is_refused_and_changes_nothing():
    """R-ASM-6: day 31 after approval into the queue is too late."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = queued()
    with time_machine.travel(
        dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI) + dt.timedelta(days=spec.REVIEW_REQUEST_DAYS + 1)
    ):
        with pytest.raises(RuleViolation) as refused:
            requested(application)
    assert "assessment" in refused.value.errors
    assert "R-" not in refused.value.message
    assert not ReviewRequest.objects.exists()
    assert not application.events.filter(transition="review_requested").exists()


def test_the_window_of_a_rejected_assessment_counts_from_its_rejection():
    """R-ASM-6: a rejection on care need (the application goes back for assessment) may be re-reviewed."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application, first = rejected_before_approval()
    application.refresh_from_db()
    assert application.state == "assessment_pending"
    with time_machine.travel(
        dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI) + dt.timedelta(days=spec.REVIEW_REQUEST_DAYS)
    ):
        review = requested(application)
    assert review.assessment_id == first.pk


def test_an_approved_assessment_not_yet_told_to_the_family_cannot_be_re_reviewed():
    """R-ASM-6: the window opens when the family is told (the approval into the queue)."""
    FacilityFactory(code="YX01")
    application = reviewed_application(choices=["YX01"])
    with pytest.raises(RuleViolation) as refused:
        requested(application)
    assert "assessment" in refused.value.errors


def test_a_second_re_review_of_the_same_assessment_is_refused():
    """R-ASM-6: one re-review per assessment (and a database constraint behind it)."""
    application = queued()
    requested(application)
    with pytest.raises(RuleViolation) as refused:
        requested(application, reason="Again, please")
    assert "assessment" in refused.value.errors
    assert ReviewRequest.objects.count() == 1


def test_the_database_refuses_a_second_re_review_row_for_one_assessment():
    """R-ASM-6: the constraint one_review_request_per_assessment."""
    from django.db import IntegrityError, transaction

    application = queued()
    review = requested(application)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewRequest.objects.create(
            application=application,
            assessment=review.assessment,
            reason="x",
            requested_at=timezone.now(),
            due_by=timezone.now(),
        )


def test_a_re_review_needs_a_reason():
    """R-ASM-6: asked for with a reason."""
    application = queued()
    with pytest.raises(InvalidInput) as refused:
        requested(application, reason="  ")
    assert "reason" in refused.value.errors


def test_a_closed_application_cannot_ask_for_a_re_review():
    """R-ASM-6: only applications not in a final state can ask; after a rejection the family applies again."""
    application = queued()
    app_services.application_withdraw(application=application, reason="moved away", actor=actor("intake"))
    with pytest.raises(RuleViolation) as refused:
        requested(application)
    assert "application" in refused.value.errors


def test_the_decision_is_due_at_the_end_of_the_twentieth_working_day_after_the_request():
    """R-ASM-6: review_decision_working_days (20) from the request: asked Monday 2 Nov 2026, due
    Monday 30 Nov 2026 23:59:59 (four full weeks of working days, no holiday in November)."""
    with time_machine.travel(dt.datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)):
        application = queued()
    with time_machine.travel(dt.datetime(2026, 11, 2, 15, 0, tzinfo=SHANGHAI)):
        review = requested(application)
    assert spec.REVIEW_DECISION_WORKING_DAYS == 20
    assert review.due_by == dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=SHANGHAI)


def test_overdue_re_reviews_are_listed_until_they_are_decided():
    """R-ASM-6: undecided re-reviews past their due date are listed (reviewers' dashboard, watchdog)."""
    with time_machine.travel(dt.datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)):
        application = queued()
    with time_machine.travel(dt.datetime(2026, 11, 2, 15, 0, tzinfo=SHANGHAI)):
        review = requested(application)
    on_time = dt.datetime(2026, 11, 30, 23, 0, tzinfo=SHANGHAI)
    late = dt.datetime(2026, 12, 1, 0, 0, 1, tzinfo=SHANGHAI)
    assert list(review_requests_overdue(now=on_time)) == []
    assert list(review_requests_overdue(now=late)) == [review]
    with time_machine.travel(late):
        review = reassessed(review, grade=2)
        review_request_decide(review_request=review, outcome="upheld", reason="Same grade", actor=actor("reviewer-2"))
    assert list(review_requests_overdue(now=late)) == []


# --- the assignment ----------------------------------------------------------------------------------------
def test_the_assessor_of_the_first_assessment_cannot_be_assigned():
    """R-ASM-6: an assessor who took no part in that assessment."""
    application = queued()
    review = requested(application)
    first_assessor = review.assessment.assessor
    roles_assign(user=first_assessor, roles=[Role.ASSESSOR])
    with pytest.raises(RuleViolation) as refused:
        review_request_assign(review_request=review, assessor=first_assessor, actor=actor("lead-reviewer"))
    assert "assessor" in refused.value.errors
    review.refresh_from_db()
    assert review.state == "requested" and review.assessor is None


def test_the_reviewer_who_approved_the_first_assessment_cannot_be_assigned_as_assessor():
    """R-ASM-6: nor one who took part in its approval."""
    application = queued()
    review = requested(application)
    first_reviewer = review.assessment.reviewer
    roles_assign(user=first_reviewer, roles=[Role.ASSESSOR, Role.REVIEWER])
    with pytest.raises(RuleViolation) as refused:
        review_request_assign(review_request=review, assessor=first_reviewer, actor=actor("lead-reviewer"))
    assert "assessor" in refused.value.errors


def test_only_an_assessor_can_be_assigned():
    """R-ASM-6: the re-review's assessment is made by an assessor."""
    application = queued()
    review = requested(application)
    with pytest.raises(InvalidInput) as refused:
        review_request_assign(review_request=review, assessor=UserFactory(username="clerk"), actor=actor("lead"))
    assert "assessor" in refused.value.errors


def test_the_re_review_assessment_is_not_approved_before_the_decision():
    """R-ASM-6: the new assessment follows R-ASM-3/4 but is approved by the reviewer's decision, not before."""
    application = queued()
    review = reassessed(requested(application), grade=3)
    assert review.state == "assigned"
    assert review.new_assessment.state == "completed"
    with pytest.raises(RuleViolation):
        asm_services.assessment_approve(assessment=review.new_assessment, actor=actor("reviewer-2"))
    application.refresh_from_db()
    assert application.current_assessment_id == review.assessment_id
    assert application.state == "waiting"


# --- the decision ------------------------------------------------------------------------------------------
def test_the_reviewer_who_approved_the_first_assessment_cannot_decide_the_re_review():
    """R-ASM-6: approved by a reviewer other than the one who approved the first."""
    application = queued()
    review = reassessed(requested(application), grade=3)
    with pytest.raises(NotPermitted) as refused:
        review_request_decide(review_request=review, assessment=review.new_assessment_id, actor=actor("reviewer"))
    assert "reviewer" in refused.value.errors
    review.refresh_from_db()
    assert review.state == "assigned" and review.new_assessment.state == "completed"


def test_upheld_stores_the_new_assessment_but_keeps_the_first_as_current():
    """R-ASM-6: upheld: stored, not current (validity and age points stay those of the first)."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = queued(grade=2)
    first = application.current_assessment
    scores = list(application.queue_entries.values_list("base_score", flat=True))
    with time_machine.travel(dt.datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)):
        review = reassessed(requested(application), grade=2)
        review = review_request_decide(
            review_request=review, outcome="upheld", reason="The grade is the same", actor=actor("reviewer-2")
        )
    assert review.state == "decided" and review.outcome == "upheld"
    assert review.new_assessment.state == "approved"
    application.refresh_from_db()
    assert application.current_assessment_id == first.pk
    assert application.current_assessment.valid_until == first.valid_until
    assert list(application.queue_entries.values_list("base_score", flat=True)) == scores
    event = application.events.get(transition="review_decided")
    assert event.reason == "The grade is the same" and event.data["outcome"] == "upheld"
    assert Notification.objects.filter(application=application, kind="review_decided").exists()


def test_upheld_needs_a_reason():
    """R-ASM-6: the decision is an event with its reason."""
    application = queued()
    review = reassessed(requested(application), grade=2)
    with pytest.raises(InvalidInput) as refused:
        review_request_decide(review_request=review, outcome="upheld", reason="", actor=actor("reviewer-2"))
    assert "reason" in refused.value.errors


def test_changed_is_applied_at_once_as_a_reassessment_keeping_queued_at(settings):
    """R-ASM-6: changed: applied as reassess (care level and scores recomputed, queued_at kept,
    allocation runs, R-ALLOC-3)."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org"]
    webhook_subscribe(
        url="https://example.org/in", events=["review_request.decided"], secret="s" * 20, actor=actor("admin")
    )
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = queued(grade=1)
    queued_at = application.queued_at
    before = application.queue_entries.get().base_score
    home = application.choices.get().facility
    with time_machine.travel(dt.datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)):
        review = reassessed(requested(application), grade=3)
        add_beds(home, nursing=1, status="vacant")
        review = review_request_decide(
            review_request=review, assessment=review.new_assessment_id, actor=actor("reviewer-2")
        )
    assert review.outcome == "changed" and review.applied_at is not None
    application.refresh_from_db()
    assert application.current_assessment_id == review.new_assessment_id
    assert application.current_assessment.care_level == "nursing"
    assert application.queued_at == queued_at
    entry = application.queue_entries.get()
    assert entry.base_score == before + spec.CARE_POINTS_BY_GRADE[3] - spec.CARE_POINTS_BY_GRADE[1]
    assert entry.queued_at == queued_at
    assert application.events.filter(transition="reassess").exists()
    assert AllocationDecision.objects.filter(trigger="application_reassessed").exists()
    assert application.state == "offered"
    assert WebhookDelivery.objects.filter(type="review_request.decided").exists()


def test_changed_while_an_offer_is_live_is_applied_when_the_offer_ends():
    """R-ASM-6: changed, with a live offer: applied as soon as that offer ends."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=2, choices=["YX01"])
    offer = Offer.objects.get(application=application, state="pending")
    review = reassessed(requested(application), grade=4)
    review = review_request_decide(
        review_request=review, assessment=review.new_assessment_id, actor=actor("reviewer-2")
    )
    assert review.outcome == "changed" and review.applied_at is None
    application.refresh_from_db()
    assert application.state == "offered"
    assert application.current_assessment_id == review.assessment_id
    offer_decline(offer=offer, reason="not now", actor=actor("facility"))
    review.refresh_from_db()
    application.refresh_from_db()
    assert review.applied_at is not None
    assert application.current_assessment_id == review.new_assessment_id
    assert application.current_assessment.grade == 4


def test_changed_after_the_admission_check_found_the_care_need_changed_queues_it_again_at_once():
    """R-ASM-6: changed is applied as reassess at once, also while the application is back in
    assessment_pending after being queued (fail_admission_check `care_need_changed`): no second
    approval into the queue; back to waiting with queued_at kept, its entry reopened and rescored
    with the new grade, and allocation run (R-ALLOC-3), here offering it a vacant bed."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=2, choices=["YX01"])
    queued_at = application.queued_at
    before = application.queue_entries.get().base_score
    offer = Offer.objects.get(application=application, state="pending")
    review = requested(application)
    offer_accept(offer=offer, actor=actor("facility"))
    offer_fail_check(offer=offer, reason="care_need_changed", actor=actor("facility"))
    application.refresh_from_db()
    assert application.state == "assessment_pending"
    add_beds(home, nursing=1, status="vacant")  # another bed: the failed one it is not offered again
    review = review_request_decide(
        review_request=reassessed(review, grade=4), outcome="changed", actor=actor("reviewer-2")
    )
    assert review.applied_at is not None
    application.refresh_from_db()
    assert application.current_assessment_id == review.new_assessment_id
    assert application.queued_at == queued_at
    transitions = list(application.events.values_list("transition", flat=True))
    assert transitions[transitions.index("review_decided") :][:3] == [
        "review_decided",
        "complete_assessment",
        "approve",
    ]
    entry = application.queue_entries.get()
    assert entry.queued_at == queued_at
    assert entry.base_score == before + spec.CARE_POINTS_BY_GRADE[4] - spec.CARE_POINTS_BY_GRADE[2]
    assert AllocationDecision.objects.filter(trigger="application_reassessed", chosen_entry=entry).exists()
    assert application.state == "offered"


def test_changed_while_an_offer_is_live_is_applied_when_the_admission_check_finds_the_care_need_changed():
    """R-ASM-6: a changed outcome decided while the offer was accepted waits for the offer to end; the
    offer ending at the admission check with `care_need_changed` ends it too, and the re-review's
    assessment is the new assessment the check asked for: queued again at once, `queued_at` kept."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=2, choices=["YX01"])
    queued_at = application.queued_at
    offer = Offer.objects.get(application=application, state="pending")
    offer_accept(offer=offer, actor=actor("facility"))
    review = review_request_decide(
        review_request=reassessed(requested(application), grade=4), outcome="changed", actor=actor("reviewer-2")
    )
    assert review.applied_at is None  # the offer is live: it waits
    add_beds(home, nursing=1, status="vacant")  # a bed for it: the failed one it is not offered again
    offer_fail_check(offer=offer, reason="care_need_changed", actor=actor("facility"))
    review.refresh_from_db()
    application.refresh_from_db()
    assert review.applied_at is not None
    assert application.current_assessment_id == review.new_assessment_id
    assert application.queued_at == queued_at
    assert application.queue_entries.get().status == "open"
    assert application.state == "offered"
    assert Offer.objects.get(application=application, state="pending").bed_id != offer.bed_id


def test_changed_for_an_application_never_queued_goes_on_to_review_for_its_approval():
    """R-ASM-6 with SPEC §5: the first assessment was rejected before approval; the changed outcome
    approves the new one and the application goes on to review (complete_assessment), where a
    reviewer verifies its categories and approves it into the queue."""
    application, _first = rejected_before_approval()
    review = review_request_decide(
        review_request=reassessed(requested(application), grade=3), actor=actor("reviewer-2")
    )
    assert review.outcome == "changed" and review.applied_at is not None
    application.refresh_from_db()
    assert application.state == "review" and application.queued_at is None
    assert application.current_assessment_id == review.new_assessment_id
    assert not application.queue_entries.exists()
