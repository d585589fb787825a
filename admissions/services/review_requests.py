"""Re-review (复核) of an assessment's outcome (R-ASM-6): request, assignment, decision.

- **Request** (intake, for the family, with a reason): the application is not final; the assessment
  is the latest whose outcome the family was told (approval into the queue or a reassessment, or a
  rejection on care need), asked within `review_request_days` (30) of being told; one re-review per
  assessment (also a database constraint). The decision is due at the end of the
  `review_decision_working_days`-th (20th) working day after the request.
- **Assignment** (reviewer): an assessor who took no part in that assessment or its approval. Their
  new assessment (admissions/services/assessments.py links it here when they record it) follows
  R-ASM-3/4 but is not approved on its own: the decision approves it.
- **Decision** (a reviewer other than the one who approved, or rejected, the first): upheld, the new
  assessment is stored approved but does not become current (validity and age points stay the
  first's); changed, it is applied as `reassess` at once (care level, channel and scores recomputed,
  `queued_at` kept, allocation runs, R-ALLOC-3), or when a live offer ends (`review_pending_apply`,
  called by the offer services). An application back in `assessment_pending` after being queued
  (its admission check found the care need changed) goes straight back to the queue; one never
  queued goes on to `review` for its approval.

Each act is an event with its reason; the family is notified; a decision writes a
`review_request.decided` webhook delivery.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import (
    FINAL_STATES,
    Application,
    ApplicationEvent,
    ApplicationState,
    ReviewOutcome,
    ReviewRequest,
    ReviewRequestState,
)
from admissions.selectors import policy_in_force
from admissions.workdays import deadline_after
from assessments.models import Assessment, AssessmentState
from core.actor import SYSTEM, Actor
from core.dates import shown_date_later
from core.errors import Conflict, InvalidInput, NotFound, NotPermitted, RuleViolation
from facilities.models import Role
from facilities.roles import roles_of

from .allocation import allocation_run_for_application
from .assessments import _reassess
from .events import event_record
from .locks import lock_application, lock_application_with_facilities
from .notifications import notify
from .queue import entries_open_or_refresh
from .transitions import transition_apply
from .webhooks import webhooks_enqueue

S = ApplicationState
R = ReviewRequestState
REASON_MAX = 2000
# The application's events that tell the family an approved assessment's outcome.
TOLD_BY_EVENTS = ("approve", "reassess")
# A changed outcome is applied at once in these states; while an offer is live it waits for its end.
APPLY_NOW_STATES = (S.WAITING, S.SUSPENDED)
OFFER_STATES = (S.OFFERED, S.ADMISSION_CHECK)


def _reason(reason: str | None, *, required: bool = True, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise InvalidInput(_("A reason is required."), errors={field: [_("is required")]})
    if len(reason) > REASON_MAX:
        raise InvalidInput(
            _("The reason is too long."),
            errors={field: [_("must be at most %(max)s characters") % {"max": REASON_MAX}]},
        )
    return reason


def _lock_request(review_request: ReviewRequest | int) -> tuple[ReviewRequest, Application, int]:
    """The application's lock first (with its facilities: a decision may allocate), then the request."""
    pk = review_request.pk if isinstance(review_request, ReviewRequest) else review_request
    unlocked = ReviewRequest.objects.filter(pk=pk).first()
    if unlocked is None:
        raise NotFound(_("No such re-review."))
    application = lock_application_with_facilities(unlocked.application_id)
    locked = (
        ReviewRequest.objects.select_for_update(of=("self",)).select_related("assessment", "new_assessment").get(pk=pk)
    )
    return locked, application, pk


# --- reads -------------------------------------------------------------------------------------------
def assessment_to_review(application: Application) -> Assessment | None:
    """The latest assessment of this application with an outcome (approved or rejected) that is
    not itself a re-review's assessment."""
    return (
        application.assessments.filter(state__in=(AssessmentState.APPROVED, AssessmentState.REJECTED))
        .filter(made_for_review__isnull=True)
        .order_by("-reviewed_at", "-id")
        .first()
    )


def outcome_told_at(assessment: Assessment) -> dt.datetime | None:
    """When the family was told this assessment's outcome (R-ASM-6), or None if not yet: a
    rejection when it was made (the application went back for assessment); an approval when the
    application was approved into the queue with it, or reassessed with it."""
    if assessment.state == AssessmentState.REJECTED:
        return assessment.reviewed_at
    if assessment.state != AssessmentState.APPROVED:
        return None
    event = (
        ApplicationEvent.objects.filter(
            application_id=assessment.application_id, transition__in=TOLD_BY_EVENTS, data__assessment=assessment.pk
        )
        .order_by("at", "id")
        .first()
    )
    return event.at if event else None


def request_deadline(assessment: Assessment) -> dt.date | None:
    """The last day on which a re-review of this assessment may be asked for."""
    told = outcome_told_at(assessment)
    if told is None:
        return None
    return timezone.localdate(told) + dt.timedelta(days=policy_in_force().parameters.review_request_days)


def review_requests_open() -> QuerySet[ReviewRequest]:
    """Not yet decided, the soonest due first: the reviewers' dashboard."""
    return (
        ReviewRequest.objects.exclude(state=R.DECIDED)
        .select_related("application__applicant", "assessor", "assessment")
        .order_by("due_by", "id")
    )


def review_requests_overdue(*, now: dt.datetime | None = None) -> QuerySet[ReviewRequest]:
    """Not decided and past their due date (R-ASM-6): listed on the reviewers' dashboard and counted
    by the watchdog (R-WATCH-1)."""
    return review_requests_open().filter(due_by__lt=now or timezone.now())


def review_assigned_to(application: Application, user) -> ReviewRequest | None:
    """The re-review of this application assigned to `user` and still waiting for its assessment."""
    if user is None or not user.is_authenticated:
        return None
    return ReviewRequest.objects.filter(
        application=application, state=R.ASSIGNED, assessor=user, new_assessment__isnull=True
    ).first()


def can_request_review(application: Application) -> bool:
    """Whether a re-review could be asked for now (the page offers the link; the service decides)."""
    if application.state in FINAL_STATES:
        return False
    assessment = assessment_to_review(application)
    if assessment is None or ReviewRequest.objects.filter(assessment=assessment).exists():
        return False
    last_day = request_deadline(assessment)
    return last_day is not None and timezone.localdate() <= last_day


def eligible_assessors(review_request: ReviewRequest) -> QuerySet:
    """Active users with the assessor role who took no part in the assessment or its approval."""
    first = review_request.assessment
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.ASSESSOR)
        .exclude(pk__in=[pk for pk in (first.assessor_id, first.reviewer_id) if pk])
        .distinct()
        .order_by("username")
    )


def _webhook_data(review_request: ReviewRequest) -> dict:
    return {
        "id": review_request.pk,
        "application": review_request.application.reference,
        "assessment": review_request.assessment_id,
        "new_assessment": review_request.new_assessment_id,
        "outcome": review_request.outcome,
        "applied": review_request.applied_at is not None,
        "decided_at": review_request.decided_at.isoformat() if review_request.decided_at else None,
    }


# --- acts --------------------------------------------------------------------------------------------
def review_request_create(*, application: Application, reason: str, actor: Actor) -> ReviewRequest:
    """The family asks, through staff, for a re-review of the latest assessment's outcome (R-ASM-6)."""
    reason = _reason(reason)
    now = timezone.now()
    with transaction.atomic():
        application = lock_application(application)
        if application.state in FINAL_STATES:
            # R-ASM-6: only applications not in a final state can ask; after a rejection, apply again.
            raise RuleViolation(
                _("A re-review cannot be asked for: the application is %(state)s. The family may apply again.")
                % {"state": ApplicationState(application.state).label},
                errors={"application": [_("is closed; a re-review is asked for while an application is open")]},
            )
        assessment = assessment_to_review(application)
        if assessment is None:
            raise RuleViolation(
                _("There is no assessment outcome to re-review yet."),
                errors={"assessment": [_("no assessment has been approved or rejected yet")]},
            )
        if ReviewRequest.objects.filter(assessment=assessment).exists():
            raise RuleViolation(
                _("This assessment has already been re-reviewed; an assessment is re-reviewed only once."),
                errors={"assessment": [_("has already been re-reviewed once")]},
            )
        told = outcome_told_at(assessment)
        if told is None:
            raise RuleViolation(
                _("The family has not been told this assessment's outcome yet, so a re-review cannot be asked for."),
                errors={"assessment": [_("its outcome has not been told to the family yet")]},
            )
        params = policy_in_force().parameters
        last_day = timezone.localdate(told) + dt.timedelta(days=params.review_request_days)
        if timezone.localdate(now) > last_day:
            raise RuleViolation(
                _(
                    "A re-review may be asked for within %(days)s days of being told the outcome; "
                    "that time ended on %(date)s."
                )
                % {"days": params.review_request_days, "date": last_day.isoformat()},
                errors={
                    "assessment": [
                        _("the time to ask for a re-review ended on %(date)s") % {"date": last_day.isoformat()}
                    ]
                },
            )
        try:
            with transaction.atomic():
                review_request = ReviewRequest.objects.create(
                    application=application,
                    assessment=assessment,
                    reason=reason,
                    requested_by=actor.user,
                    requested_at=now,
                    due_by=deadline_after(now, params.review_decision_working_days),
                )
        except IntegrityError as exc:  # the constraint: someone asked at the same moment
            raise Conflict(
                _("This assessment has already been re-reviewed; an assessment is re-reviewed only once."),
                errors={"assessment": [_("has already been re-reviewed once")]},
            ) from exc
        event_record(
            application=application,
            transition="review_requested",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={
                "review_request": review_request.pk,
                "assessment": assessment.pk,
                "due_by": review_request.due_by.isoformat(),
            },
        )
        notify(
            application=application,
            kind="review_requested",
            context={"due_by": shown_date_later(review_request.due_by)},
        )
    return review_request


def review_request_assign(
    *, review_request: ReviewRequest | int, assessor, reason: str = "", actor: Actor
) -> ReviewRequest:
    """A reviewer names the assessor of the re-review: one who took no part in the assessment or its
    approval (R-ASM-6). Until that assessor has recorded the new assessment, another may be named."""
    reason = _reason(reason, required=False)
    with transaction.atomic():
        review_request, application, _pk = _lock_request(review_request)
        if review_request.state == R.DECIDED or review_request.new_assessment_id is not None:
            raise RuleViolation(
                _("The assessor can no longer be changed: the new assessment is recorded or the re-review is decided."),
                errors={"assessor": [_("can no longer be changed")]},
            )
        User = get_user_model()
        user = assessor if isinstance(assessor, User) else User.objects.filter(pk=assessor).first()
        if user is None or not user.is_active or Role.ASSESSOR not in roles_of(user):
            raise InvalidInput(_("Choose an assessor."), errors={"assessor": [_("must be an active assessor")]})
        first = review_request.assessment
        if user.pk in (first.assessor_id, first.reviewer_id):
            raise RuleViolation(
                _("This assessor took part in the assessment or its approval; choose another assessor."),
                errors={"assessor": [_("took part in the assessment being re-reviewed")]},
            )
        review_request.assessor = user
        review_request.assigned_by = actor.user
        review_request.assigned_at = timezone.now()
        review_request.state = R.ASSIGNED
        review_request.save()
        event_record(
            application=application,
            transition="review_assigned",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={"review_request": review_request.pk, "assessor": user.get_username()},
        )
    return review_request


def _approve_new_assessment(assessment: Assessment, *, actor: Actor, policy) -> None:
    params = policy.parameters
    assessment.approve()
    assessment.reviewer = actor.user
    assessment.reviewed_at = timezone.now()
    assessment.care_level = params.care_level_for_grade(assessment.grade)
    assessment.valid_until = assessment.assessed_on + dt.timedelta(days=params.assessment_valid_days)
    assessment.save()


def _apply_changed(review_request: ReviewRequest, application: Application, *, actor: Actor) -> bool:
    """Apply a changed outcome if the application's state allows it now; True if applied."""
    new = review_request.new_assessment
    data = {
        "review_request": review_request.pk,
        "assessment": new.pk,
        "grade": new.grade,
        "care_level": new.care_level,
        "valid_until": new.valid_until.isoformat(),
    }
    if application.state in APPLY_NOW_STATES:
        _reassess(application, new, policy=policy_in_force(), actor=actor, data=data)
    elif application.state == S.ASSESSMENT_PENDING and application.queued_at is not None:
        _requeue(application, new, actor=actor, data=data)
    elif application.state == S.ASSESSMENT_PENDING:
        # Never queued (the first assessment was rejected before approval): the new one is approved,
        # so the application goes on to review, where a reviewer verifies its categories and approves it.
        application.current_assessment = new
        transition_apply(application, "complete_assessment", actor=actor, data=data)
    elif application.state in OFFER_STATES:
        return False  # applied when the offer ends (review_pending_apply)
    elif application.state != S.REVIEW:
        return False
    # In review the approval into the queue takes the newest approved assessment: this one.
    review_request.applied_at = timezone.now()
    review_request.save(update_fields=["applied_at"])
    return True


def _requeue(application: Application, new: Assessment, *, actor: Actor, data: dict) -> None:
    """A changed outcome for an application that was queued and went back for assessment (its
    admission check found the care need changed): applied as `reassess`, at once (R-ASM-6). The
    approved assessment it waited for is the re-review's, and its categories and channel were
    decided at its first approval, so nothing is left for a reviewer: it takes the two edges of
    SPEC §5 (complete_assessment, approve) in this transaction, back in the queue with its
    `queued_at`, entries reopened and rescored, allocation run (R-ALLOC-3)."""
    policy = policy_in_force()
    application.current_assessment = new
    # One message for the family: the state it ends in, not the moment in review between.
    transition_apply(application, "complete_assessment", actor=actor, data=data, notify_family=False)
    transition_apply(application, "approve", actor=actor, data={**data, "channel": application.channel_code})
    entries_open_or_refresh(application=application, policy=policy)
    allocation_run_for_application(application=application, trigger="application_reassessed", actor=actor)


def review_request_decide(
    *,
    review_request: ReviewRequest | int,
    assessment: int | None = None,
    outcome: str | None = None,
    reason: str = "",
    actor: Actor,
) -> ReviewRequest:
    """The reviewer's decision (R-ASM-6): approves the re-review's assessment and records upheld or
    changed. Without `outcome` it is `changed` when the grade differs from the first assessment's
    (or the first was rejected), else `upheld`. Upheld needs a reason."""
    if outcome not in (None, "", *ReviewOutcome.values):
        raise InvalidInput(
            _("Unknown outcome."),
            errors={"outcome": [_("must be one of %(values)s") % {"values": ", ".join(ReviewOutcome.values)}]},
        )
    reason = _reason(reason, required=outcome == ReviewOutcome.UPHELD)
    with transaction.atomic():
        review_request, application, _pk = _lock_request(review_request)
        if review_request.state != R.ASSIGNED:
            message = (
                _("This re-review is already decided.")
                if review_request.state == R.DECIDED
                else _("An assessor must be assigned and record the new assessment before the decision.")
            )
            raise RuleViolation(message, errors={"state": [message]})
        new = review_request.new_assessment
        if assessment not in (None, "") and (new is None or int(assessment) != new.pk):
            raise InvalidInput(
                _("That is not this re-review's assessment."),
                errors={"assessment": [_("is not the assessment recorded for this re-review")]},
            )
        if new is None or new.state != AssessmentState.COMPLETED:
            raise RuleViolation(
                _("The assigned assessor has not completed the new assessment yet."),
                errors={"assessment": [_("the new assessment is not completed yet")]},
            )
        first = review_request.assessment
        if actor.user is None or actor.user.pk == first.reviewer_id:
            raise NotPermitted(
                _("The reviewer who decided the first assessment cannot decide its re-review."),
                errors={"reviewer": [_("decided the assessment being re-reviewed")]},
            )
        if actor.user.pk == new.assessor_id:
            raise NotPermitted(
                _("The reviewer must not be the assessor."),
                errors={"reviewer": [_("recorded the new assessment")]},
            )
        if not outcome:
            changed = first.state == AssessmentState.REJECTED or new.grade != first.grade
            outcome = ReviewOutcome.CHANGED if changed else ReviewOutcome.UPHELD
        policy = policy_in_force()
        _approve_new_assessment(new, actor=actor, policy=policy)
        now = timezone.now()
        review_request.state = R.DECIDED
        review_request.outcome = outcome
        review_request.decision_reason = reason
        review_request.decided_by = actor.user
        review_request.decided_at = now
        review_request.save()
        event_record(
            application=application,
            transition="review_decided",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={
                "review_request": review_request.pk,
                "outcome": outcome,
                "assessment": first.pk,
                "new_assessment": new.pk,
                "grade_before": first.grade,
                "grade_after": new.grade,
            },
        )
        if outcome == ReviewOutcome.CHANGED:
            _apply_changed(review_request, application, actor=actor)
        notify(
            application=application,
            kind="review_decided",
            context={"outcome": ReviewOutcome(outcome).label, "grade": new.grade},
        )
        webhooks_enqueue(type="review_request.decided", data=_webhook_data(review_request))
    return review_request


def review_pending_apply(*, application: Application, actor: Actor = SYSTEM) -> bool:
    """A changed re-review that waited for a live offer is applied now that the offer has ended
    (R-ASM-6). The caller holds the application's lock (and its facilities') in its transaction."""
    pending = (
        ReviewRequest.objects.select_for_update(of=("self",))
        .filter(application=application, outcome=ReviewOutcome.CHANGED, applied_at__isnull=True)
        .select_related("new_assessment")
        .order_by("decided_at", "id")
        .last()
    )
    if pending is None or application.state in OFFER_STATES:
        return False
    # Waiting or suspended: applied as reassess. Back in assessment_pending because the admission
    # check found the care need changed: the re-review's assessment is the new one it asked for.
    return _apply_changed(pending, application, actor=actor)
