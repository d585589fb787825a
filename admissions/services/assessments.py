"""Assessments through their lifecycle (R-ASM-3…5, R-CARE-1), moving the application along.

They live in admissions because completing or approving an assessment changes the application
(complete_assessment, return_for_assessment, reassess); the instrument and the arithmetic are
in the assessments app.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from admissions.models import FINAL_STATES, Application, ApplicationState, ReviewRequest, ReviewRequestState
from admissions.selectors import policy_in_force
from assessments.grading import domain_totals, grade_for, item_errors, total_points
from assessments.instrument import ITEMS_BY_CODE
from assessments.models import Assessment, AssessmentState
from core.actor import Actor
from core.errors import InvalidInput, NotFound, NotPermitted, RuleViolation, WrongState

from .allocation import allocation_run_for_application
from .events import event_record
from .locks import lock_application, lock_application_with_facilities
from .queue import entries_open_or_refresh
from .transitions import reason_required, transition_apply

S = ApplicationState
ASSESSABLE_STATES = (S.ASSESSMENT_PENDING, S.WAITING, S.SUSPENDED)


def _check_items_shape(items: dict, *, coma: bool) -> None:
    """A draft may lack items, but what it has must be known codes with whole numbers in range."""
    if not isinstance(items, dict):
        raise InvalidInput(
            _("Items must be an object of item code → points."), errors={"items": [_("must be an object")]}
        )
    errors = {
        f"items.{code}": [message]
        for code, message in item_errors(items, coma=False).items()
        if code in items and items.get(code) is not None or code not in ITEMS_BY_CODE
    }
    if errors:
        raise InvalidInput(_("Some item scores are not valid."), errors=errors)


def _check_date(assessed_on: dt.date) -> None:
    if assessed_on > timezone.localdate():
        raise InvalidInput(
            _("The assessment date is in the future."), errors={"assessed_on": [_("must not be in the future")]}
        )
    if assessed_on < timezone.localdate() - dt.timedelta(days=policy_in_force().parameters.assessment_valid_days):
        raise InvalidInput(
            _("The assessment date is too long ago to be valid."),
            errors={"assessed_on": [_("is older than the validity period")]},
            rule="R-ASM-5",
        )


def _guard(assessment: Assessment, method: str, action: str) -> None:
    if not can_proceed(getattr(assessment, method)):
        names = [t.name for t in assessment.get_available_state_transitions()]
        raise WrongState(
            _("'%(action)s' is not possible while the assessment is %(state)s.")
            % {"action": action, "state": AssessmentState(assessment.state).label},
            current_state=assessment.state,
            available_transitions=names,
        )


def _lock_assessment(assessment: Assessment | int) -> Assessment:
    pk = assessment.pk if isinstance(assessment, Assessment) else assessment
    found = Assessment.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such assessment."))
    return found


def _require_assessor(assessment: Assessment, actor: Actor) -> None:
    """A draft is the assessor's own record (R-ASM-4): only they edit or complete it."""
    if assessment.assessor_id != (actor.user.pk if actor.user else None):
        raise NotPermitted(_("Only the assessor who recorded an assessment edits or completes it."), rule="R-ASM-4")


def assessment_create(
    *,
    application: Application,
    assessed_on: dt.date,
    items: dict,
    coma: bool = False,
    notes: str = "",
    complete: bool = False,
    actor: Actor,
) -> Assessment:
    """A draft (or, with complete=True, a completed) assessment. Allowed while the application
    waits for one, and while it is queued (a reassessment, SPEC §5)."""
    _check_items_shape(items, coma=coma)
    _check_date(assessed_on)
    with transaction.atomic():
        application = lock_application(application)
        # R-ASM-6: the assessor assigned to a re-review records its new assessment in any open state.
        review = _review_assigned_to(application, actor)
        if application.state not in ASSESSABLE_STATES and (review is None or application.state in FINAL_STATES):
            raise WrongState(
                _("An assessment cannot be recorded while the application is %(state)s.")
                % {"state": ApplicationState(application.state).label},
                current_state=application.state,
                available_transitions=[],
            )
        assessment = Assessment.objects.create(
            application=application,
            assessed_on=assessed_on,
            assessor=actor.user,
            items=items,
            coma=coma,
            notes=notes or "",
        )
        data = {"assessment": assessment.pk}
        if review is not None:
            review.new_assessment = assessment
            review.save(update_fields=["new_assessment"])
            data["review_request"] = review.pk
        event_record(
            application=application,
            transition="assessment_recorded",
            from_state=application.state,
            actor=actor,
            data=data,
        )
        if complete:
            assessment = _complete(assessment, application, actor=actor)
    return assessment


def assessment_update(
    *,
    assessment: Assessment,
    items: dict | None = None,
    coma: bool | None = None,
    notes: str | None = None,
    assessed_on: dt.date | None = None,
    actor: Actor,
) -> Assessment:
    """Only a draft changes (R-ASM-4: a completed assessment is never edited)."""
    with transaction.atomic():
        assessment = _lock_assessment(assessment)
        if assessment.state != AssessmentState.DRAFT:
            raise WrongState(
                _("A completed assessment is never edited; record a new one instead."),
                current_state=assessment.state,
                available_transitions=[],
                rule="R-ASM-4",
            )
        _require_assessor(assessment, actor)
        if items is not None:
            merged = {**assessment.items, **items}
            _check_items_shape(merged, coma=bool(coma if coma is not None else assessment.coma))
            assessment.items = merged
        if coma is not None:
            assessment.coma = coma
        if notes is not None:
            assessment.notes = notes
        if assessed_on is not None:
            _check_date(assessed_on)
            assessment.assessed_on = assessed_on
        assessment.save()
    return assessment


def _review_assigned_to(application: Application, actor: Actor) -> ReviewRequest | None:
    """The re-review of this application assigned to this assessor and still without its assessment."""
    if actor.user is None:
        return None
    return (
        ReviewRequest.objects.select_for_update()
        .filter(
            application=application,
            state=ReviewRequestState.ASSIGNED,
            assessor=actor.user,
            new_assessment__isnull=True,
        )
        .first()
    )


def _made_for_review(assessment: Assessment) -> bool:
    return ReviewRequest.objects.filter(new_assessment=assessment).exists()


def _refuse_if_made_for_review(assessment: Assessment) -> None:
    """R-ASM-6: a re-review's assessment is approved by the re-review's decision, not before."""
    if _made_for_review(assessment):
        raise RuleViolation(
            _("This assessment belongs to a re-review: it is approved by the re-review's decision."),
            errors={"assessment": [_("is decided on its re-review")]},
        )


def _complete(assessment: Assessment, application: Application, *, actor: Actor) -> Assessment:
    _guard(assessment, "complete", "complete")
    _require_assessor(assessment, actor)
    errors = item_errors(assessment.items, coma=assessment.coma)
    if errors:
        raise RuleViolation(
            _("The assessment cannot be completed: %(items)s.") % {"items": ", ".join(sorted(errors))},
            errors={f"items.{code}" if code != "coma" else "coma": [message] for code, message in errors.items()},
            rule="R-ASM-3",
        )
    total = total_points(assessment.items)
    assessment.complete()
    assessment.total = total
    assessment.domain_totals = domain_totals(assessment.items)
    assessment.grade = grade_for(total, coma=assessment.coma)
    assessment.completed_at = timezone.now()
    assessment.save()
    data = {"assessment": assessment.pk, "total": total, "grade": assessment.grade}
    if application.state == S.ASSESSMENT_PENDING and not _made_for_review(assessment):
        transition_apply(application, "complete_assessment", actor=actor, data=data)
    else:
        event_record(
            application=application,
            transition="assessment_completed",
            from_state=application.state,
            actor=actor,
            data=data,
        )
    return assessment


def assessment_complete(*, assessment: Assessment, actor: Actor) -> Assessment:
    """draft → completed: totals and grade computed and frozen (R-ASM-1…4); an application
    waiting for its assessment moves to review."""
    with transaction.atomic():
        application = lock_application(assessment.application_id)
        assessment = _lock_assessment(assessment)
        return _complete(assessment, application, actor=actor)


def assessment_approve(*, assessment: Assessment, actor: Actor) -> Assessment:
    """completed → approved by a reviewer who is not the assessor (four eyes, R-ASM-4). Sets the
    care level (R-CARE-1) and validity (R-ASM-5). For a queued application this is the
    `reassess` transition: scores recomputed, queued_at kept, allocation re-run."""
    with transaction.atomic():
        application = lock_application_with_facilities(assessment.application_id)
        assessment = _lock_assessment(assessment)
        _guard(assessment, "approve", "approve")
        _refuse_if_made_for_review(assessment)
        if actor.user is None or assessment.assessor_id == actor.user.pk:
            raise NotPermitted(_("The reviewer must not be the assessor (four eyes)."), rule="R-ASM-4")
        policy = policy_in_force()
        params = policy.parameters
        assessment.approve()
        assessment.reviewer = actor.user
        assessment.reviewed_at = timezone.now()
        assessment.care_level = params.care_level_for_grade(assessment.grade)
        assessment.valid_until = assessment.assessed_on + dt.timedelta(days=params.assessment_valid_days)
        assessment.save()
        data = {
            "assessment": assessment.pk,
            "grade": assessment.grade,
            "care_level": assessment.care_level,
            "valid_until": assessment.valid_until.isoformat(),
        }
        if application.state in (S.WAITING, S.SUSPENDED):
            _reassess(application, assessment, policy=policy, actor=actor, data=data)
        else:
            event_record(
                application=application,
                transition="assessment_approved",
                from_state=application.state,
                actor=actor,
                data=data,
            )
    return assessment


def _reassess(application: Application, assessment: Assessment, *, policy, actor: Actor, data: dict) -> None:
    application.current_assessment = assessment
    transition_apply(application, "reassess", actor=actor, data=data)
    entries_open_or_refresh(application=application, policy=policy)
    if application.state == S.WAITING:
        allocation_run_for_application(application=application, trigger="application_reassessed", actor=actor)


def assessment_reject(*, assessment: Assessment, reason: str, actor: Actor) -> Assessment:
    """completed → rejected, with a reason; an application under review goes back for a new
    assessment (return_for_assessment)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A reason is required."), errors={"reason": [_("is required")]}, rule="R-ASM-4")
    with transaction.atomic():
        application = lock_application(assessment.application_id)
        assessment = _lock_assessment(assessment)
        _guard(assessment, "reject", "reject")
        _refuse_if_made_for_review(assessment)
        if actor.user is None or assessment.assessor_id == actor.user.pk:
            raise NotPermitted(_("The reviewer must not be the assessor (four eyes)."), rule="R-ASM-4")
        assessment.reject()
        assessment.reviewer = actor.user
        assessment.reviewed_at = timezone.now()
        assessment.rejection_reason = reason
        assessment.save()
        data = {"assessment": assessment.pk}
        if application.state == S.REVIEW:
            transition_apply(application, "return_for_assessment", actor=actor, reason=reason, data=data)
        else:
            event_record(
                application=application,
                transition="assessment_rejected",
                from_state=application.state,
                actor=actor,
                reason=reason,
                data=data,
            )
    return assessment


def application_return_for_assessment(*, application: Application, reason: str, actor: Actor) -> Application:
    """review → assessment_pending: the care need changed, or the assessment is not accepted."""
    reason = reason_required(reason)
    with transaction.atomic():
        application = lock_application(application)
        return transition_apply(application, "return_for_assessment", actor=actor, reason=reason)
