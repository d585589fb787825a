"""Staff pages: assessments. Thin: parse, call one service or selector, render.

- The assessment form (`assessment_new`, `assessment`): the 26 items of GB/T 42195 with every
  level in the page language, running totals computed by assessments.grading (`assessment_preview`,
  called by htmx as the form fills), save draft / complete (R-ASM-1…4).
- The review page (`review`): four-eyes approval or rejection of the completed assessment,
  category verification and the contributor exemption, approval into the queue, return for
  assessment. A queued application's new assessment is approved here too (reassessment).

The rules are the services'; each refusal is shown on the field it names and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from admissions.models import QUEUED_STATES, Application, Category
from admissions.selectors import get_application, positions_for_application
from admissions.services.applications import application_approve
from admissions.services.assessments import (
    ASSESSABLE_STATES,
    application_return_for_assessment,
    assessment_approve,
    assessment_complete,
    assessment_create,
    assessment_reject,
    assessment_update,
)
from admissions.services.privacy import id_number_for
from admissions.services.review_requests import review_assigned_to
from admissions.services.transitions import available_transitions, roles_for_transition
from admissions.visibility import applications_visible_to
from assessments.models import Assessment, AssessmentState
from core.actor import Actor
from core.errors import DomainError, NotFound
from facilities.models import Role
from web.access import staff_page
from web.forms.assessments import (
    ApproveApplicationForm,
    AssessmentDecisionForm,
    AssessmentForm,
    ReasonForm,
    RejectAssessmentForm,
    frozen_totals,
    running_totals,
    scored_items,
)
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

STAFF = tuple(Role.values)


def _url(name: str, *args) -> str | None:
    """The URL of a page another part of the site provides, or None while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _application(request, reference: str) -> Application:
    """The application, if this user may see it: 404 if none; 403 for a facility officer whose
    home it did not choose (the API's rule, SPEC §10)."""
    try:
        application = get_application(reference)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not applications_visible_to(request.user).filter(pk=application.pk).exists():
        raise PermissionDenied
    return application


def _assessment(request, pk: int) -> Assessment:
    assessment = (
        Assessment.objects.select_related("application__applicant", "assessor", "reviewer").filter(pk=pk).first()
    )
    if assessment is None:
        raise Http404(_("No such assessment."))
    _application(request, assessment.application.reference)
    return assessment


def _applicant_context(request, application: Application) -> dict:
    applicant = application.applicant
    return {
        "application": application,
        "applicant": applicant,
        # SPEC §10; a full number shown is recorded (R-PRIV-1).
        "id_number": id_number_for(request.user, application, where=f"staff:{request.resolver_match.url_name}"),
        "application_url": _url("staff:application", application.reference),
    }


# --- the assessment form ----------------------------------------------------------------------------
def _render_form(request, *, application, form, assessment=None, status=200):
    totals = running_totals(form.items(), coma=form.entered_coma())
    context = {
        **_applicant_context(request, application),
        "assessment": assessment,
        "form": form,
        "domains": form.domains(),
        "totals": totals,
        # The item fields refused, linked to from the summary at the top.
        "refused_items": [form[name] for name in form.errors if name.startswith("item_")],
        # R-ASM-6: the assessor assigned to a re-review records its assessment in any open state.
        "can_record": assessment is not None
        or application.state in ASSESSABLE_STATES
        or (not application.is_final and review_assigned_to(application, request.user) is not None),
        "drafts": (
            application.assessments.filter(state=AssessmentState.DRAFT, assessor=request.user).order_by("-id")
            if assessment is None
            else []
        ),
    }
    return render(request, "staff/assessments/form.html", context, status=status)


def _fresh_form(**initial) -> AssessmentForm:
    return AssessmentForm(initial={**initial, "form_token": form_token_issue()})


@staff_page(Role.ASSESSOR)
def assessment_new(request, reference: str):
    """Record an assessment of this application: saved as a draft, or completed at once."""
    application = _application(request, reference)
    if request.method != "POST":
        return _render_form(request, application=application, form=_fresh_form())

    form = AssessmentForm(request.POST)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        return redirect(earlier or request.path)
    if form.is_valid():
        complete = request.POST.get("action") == "complete"
        try:
            assessment = assessment_create(
                application=application,
                assessed_on=form.cleaned_data["assessed_on"],
                items=form.items(),
                coma=form.cleaned_data["coma"],
                notes=form.cleaned_data["notes"],
                complete=complete,
                actor=Actor.for_user(request.user),
            )
        except DomainError as error:
            form.add_service_error(error)
        else:
            return _saved(request, assessment, token, completed=complete)
    form_token_release(token)
    return _render_form(request, application=application, form=form)


def _saved(request, assessment: Assessment, token: str | None, *, completed: bool):
    url = reverse("staff:assessment", args=[assessment.pk])
    form_token_done(token, url)
    if completed:
        messages.success(
            request,
            _("The assessment is completed: total %(total)s, grade %(grade)s. It can no longer be changed.")
            % {"total": assessment.total, "grade": assessment.grade},
        )
    else:
        messages.success(request, _("The draft is saved."))
    return redirect(url)


@staff_page(*STAFF)
def assessment_detail(request, pk: int):
    """One assessment: the form while it is its assessor's draft, read-only otherwise (R-ASM-4)."""
    assessment = _assessment(request, pk)
    application = assessment.application
    own_draft = assessment.state == AssessmentState.DRAFT and assessment.assessor_id == request.user.pk

    if request.method == "POST":
        if assessment.assessor_id != request.user.pk:
            raise PermissionDenied  # a draft is changed by its assessor only
        form = AssessmentForm(request.POST)
        token = request.POST.get("form_token")
        earlier = form_token_claim(request, token)
        if earlier is not None:
            return redirect(earlier or request.path)
        if form.is_valid():
            complete = request.POST.get("action") == "complete"
            actor = Actor.for_user(request.user)
            try:
                # One transaction: a completion refused keeps nothing, not even the draft's changes.
                with transaction.atomic():
                    assessment = assessment_update(
                        assessment=assessment,
                        items=form.items(),
                        coma=form.cleaned_data["coma"],
                        notes=form.cleaned_data["notes"],
                        assessed_on=form.cleaned_data["assessed_on"],
                        actor=actor,
                    )
                    if complete:
                        assessment = assessment_complete(assessment=assessment, actor=actor)
            except DomainError as error:
                form.add_service_error(error)
            else:
                return _saved(request, assessment, token, completed=complete)
        form_token_release(token)
        assessment.refresh_from_db()
        if assessment.state == AssessmentState.DRAFT:
            return _render_form(request, application=application, form=form, assessment=assessment)
        for message in form.non_field_errors():
            messages.error(request, message)
        return _render_detail(request, assessment)

    if own_draft:
        form = _fresh_form(**AssessmentForm.initial_from(assessment))
        return _render_form(request, application=application, form=form, assessment=assessment)
    return _render_detail(request, assessment)


def _render_detail(request, assessment: Assessment):
    draft = assessment.state == AssessmentState.DRAFT
    context = {
        **_applicant_context(request, assessment.application),
        "assessment": assessment,
        "groups": scored_items(assessment),
        "totals": running_totals(assessment.items, coma=assessment.coma) if draft else frozen_totals(assessment),
        "review_url": _url("staff:review", assessment.application.reference),
    }
    return render(request, "staff/assessments/detail.html", context)


@require_POST
@staff_page(Role.ASSESSOR)
def assessment_preview(request):
    """The running totals of the form as filled so far (htmx): nothing is saved."""
    form = AssessmentForm(request.POST)
    form.is_valid()
    totals = running_totals(form.items(), coma=form.entered_coma())
    return render(request, "staff/assessments/_totals.html", {"totals": totals, "oob": True})


# --- the review page -----------------------------------------------------------------------------------
REVIEW_ACTIONS = ("approve_assessment", "reject_assessment", "approve_application", "return_for_assessment")
# Several forms on one page: each names its own element ids (the field names may repeat).
AUTO_IDS = {
    "approve_assessment": "approve-assessment-%s",
    "reject_assessment": "reject-assessment-%s",
    "approve_application": "id_%s",
    "return_for_assessment": "return-%s",
}


def _review_forms(application: Application, pending: Assessment | None) -> dict:
    """Fresh forms, each with its own one-time token."""
    return {
        "approve_assessment": AssessmentDecisionForm(
            initial={"assessment": pending.pk if pending else None, "form_token": form_token_issue()},
            auto_id=AUTO_IDS["approve_assessment"],
        ),
        "reject_assessment": RejectAssessmentForm(
            initial={"assessment": pending.pk if pending else None, "form_token": form_token_issue()},
            auto_id=AUTO_IDS["reject_assessment"],
        ),
        "approve_application": _approve_form(application, initial={"form_token": form_token_issue()}),
        "return_for_assessment": ReasonForm(
            initial={"form_token": form_token_issue()}, auto_id=AUTO_IDS["return_for_assessment"]
        ),
    }


def _approve_form(application: Application, data=None, initial=None) -> ApproveApplicationForm:
    return ApproveApplicationForm(
        data,
        initial=initial,
        claims=application.category_claims.order_by("id"),
        exemption_requested=application.contributor_exemption_requested,
    )


def _bound_review_form(action: str, application: Application, data):
    if action == "approve_assessment":
        return AssessmentDecisionForm(data, auto_id=AUTO_IDS[action])
    if action == "reject_assessment":
        return RejectAssessmentForm(data, auto_id=AUTO_IDS[action])
    if action == "approve_application":
        return _approve_form(application, data)
    return ReasonForm(data, auto_id=AUTO_IDS[action])


def _review_act(action: str, application: Application, form, actor: Actor) -> str:
    """Call the one service of this action; the message to show when it succeeded."""
    if action in ("approve_assessment", "reject_assessment"):
        assessment = application.assessments.filter(pk=form.cleaned_data["assessment"]).first()
        if assessment is None:
            raise NotFound(_("No such assessment on this application."))
        if action == "approve_assessment":
            assessment = assessment_approve(assessment=assessment, actor=actor)
            return _("The assessment is approved: care level %(level)s, valid until %(date)s.") % {
                "level": assessment.get_care_level_display(),
                "date": assessment.valid_until.isoformat(),
            }
        assessment_reject(assessment=assessment, reason=form.cleaned_data["reason"], actor=actor)
        return _("The assessment is rejected.")
    if action == "approve_application":
        application_approve(
            application=application, categories=form.categories(), exemption=form.exemption(), actor=actor
        )
        application.refresh_from_db()
        if application.state in QUEUED_STATES:
            return _("The application is approved into the queue (channel: %(channel)s).") % {
                "channel": application.get_channel_code_display()
            }
        return _("The application is %(state)s.") % {"state": application.get_state_display()}
    application_return_for_assessment(application=application, reason=form.cleaned_data["reason"], actor=actor)
    return _("The application is returned for a new assessment.")


@staff_page(*roles_for_transition("approve"))
def review(request, reference: str):
    """Four eyes on the completed assessment, then the categories, the exemption and approval."""
    application = _application(request, reference)
    if request.method != "POST":
        return _render_review(request, application)

    action = request.POST.get("action")
    if action not in REVIEW_ACTIONS:
        messages.error(request, _("That action is not known; nothing was changed."))
        return _render_review(request, application, status=400)
    form = _bound_review_form(action, application, request.POST)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        return redirect(earlier or request.path)
    if form.is_valid():
        try:
            message = _review_act(action, application, form, Actor.for_user(request.user))
        except DomainError as error:
            form.add_service_error(error)
        else:
            url = reverse("staff:review", args=[application.reference])
            form_token_done(token, url)
            messages.success(request, message)
            return redirect(url)
    form_token_release(token)
    application.refresh_from_db()
    return _render_review(request, application, bound={action: form})


def _render_review(request, application: Application, *, bound: dict | None = None, status: int = 200):
    assessments = list(application.assessments.select_related("assessor", "reviewer").order_by("-assessed_on", "-id"))
    pending = next((a for a in assessments if a.state == AssessmentState.COMPLETED), None)
    forms = {**_review_forms(application, pending), **(bound or {})}
    transitions = available_transitions(application)
    claims = [
        {"claim": claim, "evidence_url": _url("staff:evidence", claim.pk)}
        for claim in application.category_claims.order_by("id")
    ]
    context = {
        **_applicant_context(request, application),
        "assessments": [{"assessment": a, "url": reverse("staff:assessment", args=[a.pk])} for a in assessments],
        "pending": pending,
        "pending_totals": frozen_totals(pending) if pending else None,
        "pending_groups": scored_items(pending) if pending else None,
        "forms": forms,
        "claims": claims,
        "claim_rows": [
            {**row, "evidence_url": _url("staff:evidence", row["claim"].pk)}
            for row in forms["approve_application"].claim_rows()
        ],
        "can_approve": "approve" in transitions,
        "can_return": "return-for-assessment" in transitions,
        "queued": application.state in QUEUED_STATES,
        "positions": positions_for_application(application) if application.state in QUEUED_STATES else [],
        "channel_because": _channel_because(application),
        "assessment_new_url": reverse("staff:assessment_new", args=[application.reference]),
        "bound_action": next(iter(bound), None) if bound else None,
    }
    return render(request, "staff/assessments/review.html", context, status=status)


def _channel_because(application: Application) -> str:
    """Why the channel is what it is, in words, from what approval recorded (R-APP-8)."""
    reason = application.channel_reason or {}
    because = reason.get("because")
    if because == "centenarian":
        return _("aged %(age)s on the approval date") % {"age": reason.get("age_on_approval")}
    if because in Category.values:
        return _("verified category: %(category)s") % {"category": Category(because).label}
    return _("no verified category") if application.channel_code else ""


urlpatterns = [
    path("applications/<str:reference>/assessments/new/", assessment_new, name="assessment_new"),
    path("applications/<str:reference>/review/", review, name="review"),
    path("assessments/preview/", assessment_preview, name="assessment_preview"),
    path("assessments/<int:pk>/", assessment_detail, name="assessment"),
]
