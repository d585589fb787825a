"""Staff pages: re-review (复核) of an assessment's outcome (R-ASM-6).

- From the application page, intake records the family's request with its reason (check your answers
  first: the request cannot be taken back, and the assessment is re-reviewed only once).
- A reviewer assigns an assessor who took no part in the assessment or its approval, then decides
  once that assessor has completed the new assessment; each with a check-your-answers step.
- The list of open re-reviews, overdue ones first (also on the reviewers' dashboard).

Thin: the rules are the services' (admissions/services/review_requests.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from admissions.models import Application, ReviewOutcome, ReviewRequest, ReviewRequestState
from admissions.selectors import get_application, policy_in_force
from admissions.services import review_requests as services
from admissions.visibility import applications_visible_to
from admissions.workdays import deadline_after
from core.actor import Actor
from core.errors import DomainError, NotFound
from facilities.models import Role
from facilities.roles import roles_of
from web.access import staff_page
from web.forms.facilities import FacilityServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

STAFF = (Role.INTAKE, Role.ASSESSOR, Role.REVIEWER, Role.FACILITY)


# --- forms -------------------------------------------------------------------------------------------
class RequestForm(FacilityServiceForm):
    reason = forms.CharField(
        label=gettext_lazy("Why the family asks for a re-review"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AssignForm(FacilityServiceForm):
    assessor = forms.ChoiceField(
        label=gettext_lazy("Assessor"),
        help_text=gettext_lazy("Only assessors who took no part in the assessment or its approval are listed."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Note (optional)"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, review_request: ReviewRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessor"].choices = [("", "—")] + [
            (str(user.pk), user.get_full_name() or user.get_username())
            for user in services.eligible_assessors(review_request)
        ]


class DecideForm(FacilityServiceForm):
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[
            (ReviewOutcome.CHANGED, gettext_lazy("Changed: the new assessment replaces the first")),
            (ReviewOutcome.UPHELD, gettext_lazy("Upheld: the first assessment stands")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the decision"),
        help_text=gettext_lazy("Required when the first assessment is upheld; the family is told the outcome."),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- helpers -----------------------------------------------------------------------------------------
def _application(request, reference: str) -> Application:
    try:
        application = get_application(reference)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not applications_visible_to(request.user).filter(pk=application.pk).exists():
        raise PermissionDenied
    return application


def _review_request(request, pk: int) -> ReviewRequest:
    found = (
        ReviewRequest.objects.select_related(
            "application__applicant", "assessment__assessor", "assessment__reviewer", "new_assessment", "assessor"
        )
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404(_("No such re-review."))
    _application(request, found.application.reference)
    return found


def _overdue(review_request: ReviewRequest) -> bool:
    return review_request.state != ReviewRequestState.DECIDED and review_request.due_by < timezone.now()


def review_requests_context(user, application: Application) -> dict:
    """What the application page shows of re-reviews (R-ASM-6) and whether intake may ask for one."""
    roles = roles_of(user)
    rows = [
        {"review": r, "overdue": _overdue(r), "url": reverse("staff:review_request", args=[r.pk])}
        for r in application.review_requests.select_related("assessment", "new_assessment", "assessor")
    ]
    can_ask = bool(roles & {Role.INTAKE, Role.ADMIN}) and services.can_request_review(application)
    return {
        "review_requests": rows,
        "review_request_url": reverse("staff:review_request_new", args=[application.reference]) if can_ask else None,
    }


def _claimed(request, token, fallback: str):
    earlier = form_token_claim(request, token)
    if earlier is None:
        return None
    messages.info(request, _("This was sent twice; it was done once."))
    return redirect(earlier or fallback)


# --- the request (intake) ----------------------------------------------------------------------------
def _request_page(request, application, form, *, confirming: bool):
    assessment = services.assessment_to_review(application)
    params = policy_in_force().parameters
    return render(
        request,
        "staff/review_requests/new.html",
        {
            "application": application,
            "assessment": assessment,
            "last_day": services.request_deadline(assessment) if assessment else None,
            "due_by": deadline_after(timezone.now(), params.review_decision_working_days),
            "form": form,
            "confirming": confirming,
            "token": form_token_issue(),
            "back": reverse("staff:application", args=[application.reference]),
        },
    )


@staff_page(Role.INTAKE)
def review_request_new(request, reference: str):
    """GET: the form. POST: check your answers; POST with `confirm`: the request is recorded."""
    application = _application(request, reference)
    back = reverse("staff:application", args=[application.reference])
    if request.method != "POST":
        return _request_page(request, application, RequestForm(), confirming=False)
    form = RequestForm(request.POST)
    if not form.is_valid():
        return _request_page(request, application, form, confirming=False)
    if request.POST.get("confirm") != "yes":
        return _request_page(request, application, form, confirming=True)
    token = request.POST.get("form_token")
    if (done := _claimed(request, token, back)) is not None:
        return done
    try:
        review_request = services.review_request_create(
            application=application, reason=form.cleaned_data["reason"], actor=Actor.for_user(request.user)
        )
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return _request_page(request, application, form, confirming=False)
    url = reverse("staff:review_request", args=[review_request.pk])
    form_token_done(token, url)
    messages.success(request, _("The re-review is recorded. The family has been told when the decision is due."))
    return redirect(url)


# --- one re-review, assignment and decision (reviewer) ------------------------------------------------
@staff_page(*STAFF)
@require_GET
def review_request_detail(request, pk: int):
    review_request = _review_request(request, pk)
    roles = roles_of(request.user)
    reviewer = bool(roles & {Role.REVIEWER, Role.ADMIN})
    return render(
        request,
        "staff/review_requests/detail.html",
        {
            "review": review_request,
            "overdue": _overdue(review_request),
            "assign_url": reverse("staff:review_request_assign", args=[pk])
            if reviewer
            and review_request.state != ReviewRequestState.DECIDED
            and review_request.new_assessment_id is None
            else None,
            "decide_url": reverse("staff:review_request_decide", args=[pk])
            if reviewer and review_request.state == ReviewRequestState.ASSIGNED
            else None,
            "assessment_new_url": reverse("staff:assessment_new", args=[review_request.application.reference])
            if review_request.state == ReviewRequestState.ASSIGNED
            and review_request.assessor_id == request.user.pk
            and review_request.new_assessment_id is None
            else None,
        },
    )


def _act_page(request, review_request, form, template: str, *, confirming: bool, **extra):
    return render(
        request,
        template,
        {
            "review": review_request,
            "form": form,
            "confirming": confirming,
            "token": form_token_issue(),
            "back": reverse("staff:review_request", args=[review_request.pk]),
            **extra,
        },
    )


@staff_page(Role.REVIEWER)
def review_request_assign(request, pk: int):
    review_request = _review_request(request, pk)
    back = reverse("staff:review_request", args=[pk])
    template = "staff/review_requests/assign.html"
    if request.method != "POST":
        form = AssignForm(review_request=review_request)
        return _act_page(request, review_request, form, template, confirming=False)
    form = AssignForm(request.POST, review_request=review_request)
    if not form.is_valid():
        return _act_page(request, review_request, form, template, confirming=False)
    chosen = services.eligible_assessors(review_request).get(pk=form.cleaned_data["assessor"])
    if request.POST.get("confirm") != "yes":
        return _act_page(request, review_request, form, template, confirming=True, chosen=chosen)
    token = request.POST.get("form_token")
    if (done := _claimed(request, token, back)) is not None:
        return done
    try:
        services.review_request_assign(
            review_request=review_request,
            assessor=chosen,
            reason=form.cleaned_data["reason"],
            actor=Actor.for_user(request.user),
        )
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return _act_page(request, review_request, form, template, confirming=False)
    form_token_done(token, back)
    messages.success(request, _("%(assessor)s is assigned to the re-review.") % {"assessor": chosen.get_username()})
    return redirect(back)


@staff_page(Role.REVIEWER)
def review_request_decide(request, pk: int):
    review_request = _review_request(request, pk)
    back = reverse("staff:review_request", args=[pk])
    template = "staff/review_requests/decide.html"
    first, new = review_request.assessment, review_request.new_assessment
    suggested = (
        ReviewOutcome.CHANGED
        if new is not None and (first.state == "rejected" or new.grade != first.grade)
        else ReviewOutcome.UPHELD
    )
    extra = {"first": first, "new": new, "offer_live": review_request.application.state in services.OFFER_STATES}
    if request.method != "POST":
        form = DecideForm(initial={"outcome": suggested})
        return _act_page(request, review_request, form, template, confirming=False, **extra)
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _act_page(request, review_request, form, template, confirming=False, **extra)
    if request.POST.get("confirm") != "yes":
        return _act_page(request, review_request, form, template, confirming=True, **extra)
    token = request.POST.get("form_token")
    if (done := _claimed(request, token, back)) is not None:
        return done
    try:
        review_request = services.review_request_decide(
            review_request=review_request,
            assessment=new.pk if new else None,
            outcome=form.cleaned_data["outcome"],
            reason=form.cleaned_data["reason"],
            actor=Actor.for_user(request.user),
        )
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return _act_page(request, review_request, form, template, confirming=False, **extra)
    form_token_done(token, back)
    messages.success(
        request, _("The re-review is decided: %(outcome)s.") % {"outcome": ReviewOutcome(review_request.outcome).label}
    )
    return redirect(back)


# --- the list ----------------------------------------------------------------------------------------
@staff_page(Role.REVIEWER, Role.ASSESSOR)
@require_GET
def review_request_list(request):
    now = timezone.now()
    rows = [
        {"review": r, "overdue": r.due_by < now, "url": reverse("staff:review_request", args=[r.pk])}
        for r in services.review_requests_open()
    ]
    days = policy_in_force().parameters.review_decision_working_days
    return render(request, "staff/review_requests/list.html", {"rows": rows, "decision_days": days})


urlpatterns = [
    path("review-requests/", review_request_list, name="review_requests"),
    path("review-requests/<int:pk>/", review_request_detail, name="review_request"),
    path("review-requests/<int:pk>/assign/", review_request_assign, name="review_request_assign"),
    path("review-requests/<int:pk>/decide/", review_request_decide, name="review_request_decide"),
    path(
        "applications/<str:reference>/review-requests/new/",
        review_request_new,
        name="review_request_new",
    ),
]
