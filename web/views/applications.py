"""Staff pages: applications. Thin: parse, call one service or selector, render.

- the list (searchable, filterable, paginated; ID numbers masked; a facility officer sees the
  applications that chose their home only — the API's own scoping and filters, reused);
- intake: the new-application form with the live ID-number and duplicate checks (R-APP-1, R-APP-10),
  evidence files (R-APP-8), and the printable receipt with the lookup code and a QR code (R-PUB-1);
- one application: details, the event timeline (R-FSM-2), the transitions this user may take,
  positions and score breakdowns (R-Q-3, R-Q-4), evidence, notifications, duplicate reviews;
- evidence files, served to intake officers and reviewers only.

Every change is one service call carrying a one-time form token (web.formtokens), so a
double click acts once; a refusal re-renders the form with what was typed and changes nothing.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, re_path, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admissions.dashboard import possible_duplicates
from admissions.evidence import EXTENSIONS, evidence_content_type
from admissions.filters import ApplicationFilter
from admissions.identity import birth_date_from_id_number, id_number_errors, sex_from_id_number
from admissions.models import Application, ApplicationState, Category, CategoryClaim, CategoryStatus, Sex
from admissions.models.applications import DuplicateMatch
from admissions.selectors import policy_in_force, positions_for_application
from admissions.services import applications as services
from admissions.services.assessments import ASSESSABLE_STATES, application_return_for_assessment
from admissions.services.couples import couple_of
from admissions.services.lookup import next_steps
from admissions.services.privacy import contact_details_visible, id_accesses_for_application, id_number_for
from admissions.services.reconfirmation import awaiting_confirmation, reconfirm
from admissions.services.review_requests import review_assigned_to
from admissions.services.transitions import CORRECTION_ROLES_BY_STATE, may_correct, transitions_for
from admissions.visibility import application_visible_to, applications_visible_to
from core.actor import Actor
from core.errors import DomainError, NotFound, NotPermitted
from facilities.models import District, Facility, Role
from facilities.roles import facility_of, roles_of, sees_full_id_numbers
from web.access import allowed_url, staff_page
from web.confirmation import Confirmation, Line, confirmation_page, is_confirmed, refusal_lines
from web.forms.applications import (
    REMOVAL_REASON_WORDS,
    ApplicationSearchForm,
    CorrectionForm,
    DuplicateReviewForm,
    IdNumberSearchForm,
    IntakeForm,
    TransitionForm,
)
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release
from web.views.changes import change_links_for
from web.views.facility_pages import scoped_home
from web.views.review_requests import review_requests_context

STAFF = ("intake", "assessor", "reviewer", "facility")
PAGE_SIZE = 25

# --- helpers ----------------------------------------------------------------------------------------


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _url(name: str, *args) -> str | None:
    """A page another helper builds may not exist yet: link to it only when it does."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _visible(request, reference: str):
    """The application, if this user may see it: 404 when unknown, 403 for a facility officer
    whose home it did not choose (the API's rule, admissions.visibility.application_visible_to)."""
    try:
        return application_visible_to(request.user, reference)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    except NotPermitted as exc:
        raise PermissionDenied(str(exc.message)) from exc


def _earlier_result(request, token: str | None) -> str | None:
    """The form token's first use, if this is a repeat: its result URL (waiting a moment while the
    first submission is still being processed), or "" when it has not finished yet."""
    earlier = form_token_claim(request, token)
    if earlier != "":
        return earlier
    from admissions.models import FormSubmission

    for _attempt in range(10):
        time.sleep(0.2)
        url = FormSubmission.objects.filter(token=token).values_list("result_url", flat=True).first()
        if url:
            return url
    return ""


ACCESS_LOG_ROWS = 100


def _privacy_context(user, application) -> dict:
    """R-PRIV-5: whether this user sees the contact details; R-PRIV-4: the export, for intake
    officers; R-PRIV-1: the access log of the full ID number, for administrators."""
    roles = roles_of(user)
    context = {
        "contact_visible": contact_details_visible(user, application),
        "contact_hidden": _("not shown: only while this application waits at or has an offer from your home"),
        "export_url": None,
        "export_json_url": None,
        "id_accesses": None,
        "id_accesses_more": 0,
    }
    if roles & {Role.INTAKE, Role.ADMIN}:
        context["export_url"] = reverse("staff:applicant_export", args=[application.reference])
        context["export_json_url"] = reverse("staff:applicant_export_json", args=[application.reference])
    if Role.ADMIN in roles:
        accesses = id_accesses_for_application(application)
        context["id_accesses"] = list(accesses[:ACCESS_LOG_ROWS])
        context["id_accesses_more"] = max(0, accesses.count() - ACCESS_LOG_ROWS)
    return context


def _sex_label(code: str) -> str:
    return str(Sex(code).label) if code in Sex.values else ""


# --- the list ---------------------------------------------------------------------------------------
@staff_page(*STAFF)
@require_GET
def application_list(request):
    own = facility_of(request.user) if roles_of(request.user) == {Role.FACILITY} else None
    homes = Facility.objects.filter(pk=own.pk) if own else Facility.objects.order_by("name", "code")
    form = ApplicationSearchForm(request.GET or None, facilities=homes)
    filters = form.filters()
    applications = ApplicationFilter(data=filters, queryset=applications_visible_to(request.user)).qs
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "staff/applications/list.html",
        {
            "form": form,
            "page": page,
            "filtered": bool(filters),
            "query": query.urlencode(),
            "can_create": bool(roles_of(request.user) & {Role.INTAKE, Role.ADMIN}),
            # R-PRIV-2: by POST, and only for the roles that check identity.
            "id_search_form": IdNumberSearchForm() if sees_full_id_numbers(request.user) else None,
        },
    )


# --- intake -----------------------------------------------------------------------------------------
def _date_or_none(value):
    try:
        return parse_date(str(value or "").strip()[:10])
    except ValueError:  # well-formed but not a day of the calendar
        return None


def _intake_form(request, data=None, files=None, **kwargs) -> IntakeForm:
    params = policy_in_force().parameters
    duplicates = []
    if data is not None:
        born = _date_or_none(data.get("date_of_birth"))
        if born is None and not id_number_errors(data.get("id_number") or "", date_of_birth=None, sex=None):
            born = birth_date_from_id_number(data["id_number"])
        duplicates = possible_duplicates(
            (data.get("name") or "").replace("\x00", "")[:100], born, (data.get("phone") or "").replace("\x00", "")[:30]
        )
    form = IntakeForm(data, files, params=params, duplicates=duplicates, **kwargs)
    form.enable_live_checks(reverse("staff:check_identity"))
    form.enable_home_filter(reverse("staff:intake_homes"))
    return form


@staff_page("intake", "reviewer")
@require_GET
def intake_homes(request):
    """htmx, on the intake and correction forms: the "Homes chosen" part again after the district
    changed, listing only the homes the applicant may choose (R-APP-7) and saying which chosen
    homes were taken off. Reads only district and home codes."""
    params = policy_in_force().parameters
    initial, dropped = IntakeForm.homes_after_district_change(request.GET, choice_count=params.max_choices)
    form = IntakeForm(initial=initial, params=params)
    return render(request, "staff/applications/_choices.html", {"form": form, "dropped": dropped})


@staff_page("intake")
@require_http_methods(["GET", "POST"])
def application_new(request):
    if request.method == "GET":
        form = _intake_form(request, initial={"form_token": form_token_issue()})
        return render(request, "staff/applications/new.html", {"form": form})

    form = _intake_form(request, request.POST, request.FILES)
    token = request.POST.get("form_token")
    earlier = _earlier_result(request, token)
    if earlier is not None:
        return redirect(earlier or reverse("staff:applications"))
    submit = request.POST.get("action") != "draft"
    if form.is_valid():
        stored: list = []
        try:
            # One transaction: a refused duplicate review leaves no application behind either.
            with transaction.atomic():
                application, code = services.application_create(
                    data=form.intake_data(), submit=submit, actor=_actor(request), via="web"
                )
                stored = [claim.evidence_file for claim in application.category_claims.all() if claim.evidence_file]
                for review in form.duplicate_decisions():
                    field = review.pop("field")
                    try:
                        services.duplicate_review_record(application=application, actor=_actor(request), **review)
                    except DomainError as exc:
                        for path, texts in exc.errors.items():
                            target = f"{field}_note" if path == "note" else f"{field}_decision"
                            for text in texts:
                                form.add_error(target, text)
                        raise
        except DomainError as exc:
            for evidence_file in stored:  # the rows were rolled back: their files go too
                evidence_file.delete(save=False)
            if not form.errors:
                form.add_service_error(exc)
            elif str(exc.message) not in form.non_field_errors():
                form.add_error(None, exc.message)
        else:
            receipt = reverse("staff:receipt", args=[application.reference])
            form_token_done(token, receipt)
            if submit:
                messages.success(
                    request, _("Application %(reference)s is submitted.") % {"reference": application.reference}
                )
            else:
                messages.success(
                    request, _("Application %(reference)s is saved as a draft.") % {"reference": application.reference}
                )
            # R-PRIV-2: the code is in this answer only (never in the session or the database).
            return _receipt_response(request, application, code)
    form_token_release(token)
    return render(
        request,
        "staff/applications/new.html",
        {"form": form, "files_dropped": any(f for f in request.FILES.values())},
        status=200,
    )


# --- corrections before approval (R-CHG-1) --------------------------------------------------------------
def _correction_form(request, application, data=None, files=None, **kwargs) -> CorrectionForm:
    """The intake form for this application: the same live checks as the new-application page, with
    the possible duplicates of anyone but this application."""
    duplicates = []
    if data is not None:
        born = _date_or_none(data.get("date_of_birth"))
        if born is None and not id_number_errors(data.get("id_number") or "", date_of_birth=None, sex=None):
            born = birth_date_from_id_number(data["id_number"])
        duplicates = possible_duplicates(
            (data.get("name") or "").replace("\x00", "")[:100],
            born,
            (data.get("phone") or "").replace("\x00", "")[:30],
            exclude_application=application,
        )
    form = CorrectionForm(data, files, params=policy_in_force().parameters, duplicates=duplicates, **kwargs)
    form.enable_live_checks(reverse("staff:check_identity") + "?" + urlencode({"exclude": application.reference}))
    form.enable_home_filter(reverse("staff:intake_homes"))
    return form


def _correction_refused(request, application) -> None:
    """Not possible in this state, or not for this role (R-CHG-1): 403, or back to the application."""
    if application.state in CORRECTION_ROLES_BY_STATE:
        raise PermissionDenied


@staff_page("intake", "reviewer")
@require_http_methods(["GET", "POST"])
def application_correct(request, reference: str):
    """R-CHG-1: "Correct this application" (submitted, waiting for assessment, under review) or
    "Finish this draft" (save it again as a draft, or submit it). One service call in one
    transaction; a refusal re-renders the form with what was typed and changes nothing (PRG)."""
    application = _visible(request, reference)
    here = reverse("staff:application", args=[application.reference])
    if not may_correct(request.user, application.state):
        _correction_refused(request, application)
        messages.error(
            request,
            _("This application is %(state)s: it can no longer be corrected here.")
            % {"state": _state_label(application.state)},
        )
        return redirect(here)
    stored = services.intake_data_of(application)
    is_draft = application.state == ApplicationState.DRAFT
    if request.method == "GET":
        initial = {**CorrectionForm.initial_from(stored, version=application.version), "form_token": form_token_issue()}
        form = _correction_form(request, application, initial=initial)
        form.mark_stored_files(stored)
        return render(request, "staff/applications/correct.html", _correction_context(application, form, is_draft))

    form = _correction_form(request, application, request.POST, request.FILES)
    form.mark_stored_files(stored)
    token = request.POST.get("form_token")
    earlier = _earlier_result(request, token)
    if earlier is not None:
        return redirect(earlier or here)
    submit = is_draft and request.POST.get("action") == "submit"
    if form.is_valid():
        stored_files: list = []
        try:
            with transaction.atomic():
                data = form.intake_data()
                form.keep_stored_files(data, stored)
                changed = services.application_update(
                    application=application,
                    data=data,
                    actor=_actor(request),
                    expected_version=form.cleaned_data.get("version"),
                    reason=form.cleaned_data.get("reason") or "",
                )
                stored_files = [
                    claim.evidence_file
                    for claim in changed.category_claims.all()
                    if claim.evidence_file and claim.evidence_file.name not in _stored_file_names(stored)
                ]
                for review in form.duplicate_decisions():
                    field = review.pop("field")
                    try:
                        services.duplicate_review_record(application=changed, actor=_actor(request), **review)
                    except DomainError as exc:
                        for path, texts in exc.errors.items():
                            target = f"{field}_note" if path == "note" else f"{field}_decision"
                            for text in texts:
                                form.add_error(target, text)
                        raise
                if submit:
                    changed = services.application_submit(application=changed, actor=_actor(request))
        except DomainError as exc:
            for evidence_file in stored_files:  # the rows were rolled back: new files go too
                evidence_file.delete(save=False)
            if not form.errors:
                form.add_service_error(exc)
            elif str(exc.message) not in form.non_field_errors():
                form.add_error(None, exc.message)
        else:
            form_token_done(token, here)
            if submit:
                text = _("Application %(reference)s is corrected and submitted.")
            elif is_draft:
                text = _("The draft %(reference)s is saved.")
            else:
                text = _("Application %(reference)s is corrected.")
            messages.success(request, text % {"reference": application.reference})
            return redirect(here)
    form_token_release(token)
    context = _correction_context(application, form, is_draft)
    context["files_dropped"] = any(f for f in request.FILES.values())
    return render(request, "staff/applications/correct.html", context)


def _stored_file_names(stored) -> set[str]:
    return {str(getattr(c.get("evidence_file"), "name", "")) for c in stored.categories or [] if c.get("evidence_file")}


def _correction_context(application, form, is_draft: bool) -> dict:
    return {
        "application": application,
        "form": form,
        "is_draft": is_draft,
        "title": _("Finish this draft") if is_draft else _("Correct this application"),
    }


@staff_page("intake", "reviewer")
@require_POST
def check_identity(request):
    """As the officer types (htmx): which ID-number check failed, or the birth date and sex it
    holds (R-APP-1, filled into the form when the ID number field asked), and the possible
    duplicates of the person typed so far (R-APP-10). A POST, so that no ID number or name ends
    up in a URL, and so in no access log (SPEC §10)."""
    query = request.POST

    def typed(name: str, limit: int) -> str:  # as typed so far; NUL is never a character of a name
        return (query.get(name) or "").replace("\x00", "")[:limit]

    id_number = typed("id_number", 40)
    errors = id_number_errors(id_number, date_of_birth=None, sex=None) if id_number.strip() else None
    valid = errors == {}
    born = birth_date_from_id_number(id_number) if valid else None
    sex = sex_from_id_number(id_number) if valid else None
    typed_born = _date_or_none(query.get("date_of_birth"))
    # On the correction page (R-CHG-1) the application being corrected is not its own duplicate.
    excluded = Application.objects.filter(reference=(request.GET.get("exclude") or "")[:20]).first()
    # What submit would refuse about this person, said now rather than at the end (issue 15).
    problems = (
        services.identity_live_problems(
            id_number, on=timezone.localdate(), exclude_pk=excluded.pk if excluded else None
        )
        if valid
        else []
    )
    # Triggered by the ID number field: its birth date and sex are filled in, or cleared with it.
    cleared = not id_number.strip() and request.headers.get("HX-Trigger-Name") == "id_number"
    duplicates = possible_duplicates(
        typed("name", 100), born or typed_born, typed("phone", 30), exclude_application=excluded
    )
    kept = {key: value for key, value in query.items() if key.startswith("duplicate_")}
    initial = {**kept, "date_of_birth": born or typed_born, "sex": sex or query.get("sex", "")}
    if cleared:
        initial.update(date_of_birth=None, sex="")
    form = IntakeForm(initial=initial, params=policy_in_force().parameters, duplicates=duplicates)
    form.enable_live_checks(reverse("staff:check_identity"))
    mismatch = []
    if valid and typed_born and typed_born != born:
        mismatch.append(_("The date of birth typed before differs from the ID number's; it is replaced."))
    return render(
        request,
        "staff/applications/_identity.html",
        {
            "form": form,
            "checked": errors is not None,
            "id_errors": [text for texts in (errors or {}).values() for text in texts],
            "born": born,
            "sex_label": _sex_label(sex or ""),
            "fill": (valid and request.headers.get("HX-Trigger-Name") == "id_number") or cleared,
            "mismatch": mismatch,
            "problems": problems,
        },
    )


def _status_url(request, application) -> str:
    """The family's status page with the reference filled in, in the family's language."""
    with translation.override(application.applicant.language):
        try:
            base = reverse("portal:status")
        except NoReverseMatch:
            base = "/status/"
    return request.build_absolute_uri(base + "?" + urlencode({"reference": application.reference}))


@staff_page("intake")
@require_GET
def receipt(request, reference: str):
    """The receipt, reprinted: without the lookup code, which is shown only in the answer to the
    POST that issued it (R-PUB-1, R-PRIV-2); reprinting with a code issues a new one."""
    return _receipt_response(request, _visible(request, reference), None)


def _receipt_response(request, application, code: str | None):
    from web.qr import qr_svg

    status_url = _status_url(request, application)
    choices = list(application.choices.select_related("facility").order_by("rank"))
    # Issue 15: the receipt is the family's, so it is printed in their language, and it names the
    # intake office of their district (R-APP-3's district) to call.
    with translation.override(application.applicant.language):
        response = render(
            request,
            "staff/applications/receipt.html",
            {
                "application": application,
                "lookup_code": code,
                "choices": choices,
                "next_steps": next_steps(application, offer=None, now=timezone.now()),
                "status_url": status_url,
                "qr": qr_svg(status_url),
                "issued_on": timezone.localdate(application.submitted_at or application.created_at),
                "can_reissue": not application.is_final,
                "token": form_token_issue(),
                "office": District.objects.filter(pk=application.effective_district_id).first(),
            },
        )
    # The code is on this page only: never keep a copy in a cache (the browser's included).
    response["Cache-Control"] = "no-store, private"
    return response


@staff_page("intake")
@require_POST
def lookup_code_new(request, reference: str):
    """A new lookup code (R-PUB-1: the old one stops working), shown on the receipt in this answer
    only (R-PRIV-2: never kept in the session)."""
    application = _visible(request, reference)
    token = request.POST.get("form_token")
    earlier = _earlier_result(request, token)
    if earlier is not None:
        return redirect(earlier or reverse("staff:application", args=[application.reference]))
    try:
        code = services.lookup_code_issue(application=application, actor=_actor(request))
    except DomainError as exc:
        form_token_release(token)
        messages.error(request, exc.message)
        return redirect("staff:application", application.reference)
    form_token_done(token, reverse("staff:receipt", args=[application.reference]))
    messages.success(request, _("A new lookup code is issued; the old one no longer works."))
    application.refresh_from_db()
    return _receipt_response(request, application, code)


# --- one application ----------------------------------------------------------------------------------
# The transitions this page offers, with what their form asks. `approve` lives on the review page,
# the offer transitions on the offer pages; both are linked instead.
PAGE_TRANSITIONS = {
    "submit": {"label": gettext_lazy("Submit"), "reason": None},
    "accept-for-assessment": {"label": gettext_lazy("Accept for assessment"), "reason": None},
    "return-for-assessment": {"label": gettext_lazy("Return for assessment"), "reason": "required"},
    "suspend": {"label": gettext_lazy("Suspend"), "reason": "required"},
    "resume": {"label": gettext_lazy("Resume"), "reason": "optional"},
    "reject": {"label": gettext_lazy("Reject"), "reason": "required"},
    "withdraw": {"label": gettext_lazy("Withdraw"), "reason": "required"},
    "remove": {"label": gettext_lazy("Remove from the waiting list"), "reason": "removal"},
    # Not a state-machine edge: offered while the family is asked to re-confirm (R-CHG-3).
    "reconfirm": {"label": gettext_lazy("Record that the family still wants to wait"), "reason": None},
}


def _act(transition: str, application, actor: Actor, data: dict):
    reason = data.get("reason") or ""
    if transition == "submit":
        return services.application_submit(application=application, actor=actor)
    if transition == "accept-for-assessment":
        return services.application_accept_for_assessment(application=application, actor=actor)
    if transition == "return-for-assessment":
        return application_return_for_assessment(application=application, reason=reason, actor=actor)
    if transition == "suspend":
        return services.application_suspend(application=application, reason=reason, actor=actor)
    if transition == "resume":
        return services.application_resume(application=application, reason=reason, actor=actor)
    if transition == "reject":
        return services.application_reject(application=application, reason=reason, actor=actor)
    if transition == "withdraw":
        return services.application_withdraw(application=application, reason=reason, actor=actor)
    if transition == "reconfirm":
        return reconfirm(application=application, actor=actor)
    if transition == "remove":
        return services.application_remove(
            application=application, reason=reason, note=data.get("note") or "", actor=actor
        )
    raise Http404


EVENT_LABELS = {
    "create": gettext_lazy("registered"),
    "update": gettext_lazy("intake corrected"),
    "corrected": gettext_lazy("intake corrected"),
    "submit": gettext_lazy("submitted"),
    "accept_for_assessment": gettext_lazy("accepted for assessment"),
    "reject": gettext_lazy("rejected"),
    "complete_assessment": gettext_lazy("assessment completed"),
    "return_for_assessment": gettext_lazy("returned for assessment"),
    "approve": gettext_lazy("approved into the queue"),
    "suspend": gettext_lazy("suspended"),
    "resume": gettext_lazy("resumed"),
    "make_offer": gettext_lazy("bed offered"),
    "accept_offer": gettext_lazy("offer accepted"),
    "decline_offer": gettext_lazy("offer declined"),
    "expire_offer": gettext_lazy("offer expired"),
    "admit": gettext_lazy("admitted"),
    "fail_admission_check": gettext_lazy("admission check failed"),
    "reassess": gettext_lazy("reassessed"),
    "withdraw": gettext_lazy("withdrawn"),
    "remove": gettext_lazy("removed"),
    "lookup_code_issued": gettext_lazy("new lookup code issued"),
    "duplicate_reviewed": gettext_lazy("possible duplicate reviewed"),
    "assessment_recorded": gettext_lazy("assessment recorded"),
    "assessment_completed": gettext_lazy("assessment completed"),
    "assessment_approved": gettext_lazy("assessment approved"),
    "assessment_rejected": gettext_lazy("assessment rejected"),
    # R-CHG-2: changes after approval (web/views/changes.py).
    "contact_changed": gettext_lazy("contact details changed"),
    "personal_details_changed": gettext_lazy("personal details changed"),
    "districts_changed": gettext_lazy("districts changed"),
    "family_situation_changed": gettext_lazy("family situation changed"),
    "categories_changed": gettext_lazy("categories changed"),
    "choices_changed": gettext_lazy("chosen homes changed"),
    "reconfirmation_requested": gettext_lazy("asked to confirm they still want to wait"),
    "reconfirmed": gettext_lazy("confirmed they still want to wait"),
    "review_requested": gettext_lazy("re-review asked for"),
    "review_assigned": gettext_lazy("re-review assigned to an assessor"),
    "review_decided": gettext_lazy("re-review decided"),
}


# R-CHG-1 and R-CHG-2: the fields a `corrected` event or a change after approval names, in the words
# of the intake form. The changes after approval name the family situation and the districts without
# the "applicant." of the corrections.
CORRECTION_FIELD_LABELS = {
    "applicant.name": gettext_lazy("Name"),
    "applicant.id_number": gettext_lazy("Resident ID number"),
    "applicant.date_of_birth": gettext_lazy("Date of birth"),
    "applicant.sex": gettext_lazy("Sex"),
    "applicant.phone": gettext_lazy("Phone"),
    "applicant.email": gettext_lazy("Email"),
    "applicant.language": gettext_lazy("Language for messages to the family"),
    "applicant.hukou_district": gettext_lazy("Hukou district"),
    "applicant.residence_district": gettext_lazy("Residence district"),
    "applicant.address": gettext_lazy("Address"),
    "applicant.lives_alone": gettext_lazy("Lives alone (独居)"),
    "applicant.no_spouse_no_children": gettext_lazy("No spouse and no living children (孤寡)"),
    "applicant.contributor_exemption_requested": gettext_lazy("Contributor exemption requested (对本市有重大贡献)"),
    "contact.name": gettext_lazy("Contact name"),
    "contact.relation": gettext_lazy("Relation to the applicant"),
    "contact.phone": gettext_lazy("Contact phone"),
    "contact.email": gettext_lazy("Contact email"),
    "declarations.no_infectious_disease": gettext_lazy("Free of infectious disease, or certified non-infectious"),
    "declarations.no_serious_mental_disorder": gettext_lazy(
        "No serious mental disorder with a risk of harm to self or others"
    ),
    "categories": gettext_lazy("Categories claimed"),
    "choices": gettext_lazy("Homes chosen"),
    "spouse_resident_in": gettext_lazy("The spouse already lives in this home"),
}
for _path in ("hukou_district", "residence_district", "lives_alone", "no_spouse_no_children"):
    CORRECTION_FIELD_LABELS[_path] = CORRECTION_FIELD_LABELS["applicant." + _path]


def _change_value(value) -> str:
    """One old or new value of a change (already masked in the event), in words."""
    if value is True:
        return str(gettext_lazy("yes"))
    if value is False:
        return str(gettext_lazy("no"))
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):  # a category claim
                evidence = item.get("evidence") or (_("a file") if item.get("evidence_file") else "")
                parts.append(f"{item.get('code')} ({evidence})" if evidence else str(item.get("code")))
            else:
                parts.append(str(item))
        return ", ".join(parts) or "—"
    return str(value) if value not in (None, "") else "—"


def _change_row(path: str, change: dict) -> dict:
    old, new = change.get("old"), change.get("new")
    if path.startswith("categories."):  # R-CHG-2: one category's status, e.g. claimed → verified
        code = path.split(".", 1)[1]
        field = _("Category %(category)s") % {"category": Category(code).label if code in Category.values else code}
        status = dict(CategoryStatus.choices)
        return {"field": field, "old": status.get(old, _change_value(old)), "new": status.get(new, _change_value(new))}
    if path.endswith("_district"):  # a district's code, shown by its name ("other": outside the city)
        english = translation.get_language() == "en"
        names = {d.code: d.name_en if english else d.name_zh for d in District.objects.filter(code__in=[old, new])}
        old, new = names.get(old, old), names.get(new, new)
    return {
        "field": CORRECTION_FIELD_LABELS.get(path, path),
        "old": _change_value(old),
        "new": _change_value(new),
    }


def _change_rows(event) -> list[dict]:
    """What a correction before approval (R-CHG-1) or a change after it (R-CHG-2) changed: both
    events keep {path: {old, new}} under "changes", masked where SPEC §12 says."""
    changes = (event.data or {}).get("changes")
    if not isinstance(changes, dict):
        return []
    return [_change_row(path, change) for path, change in changes.items() if isinstance(change, dict)]


def _offer_url(user, offer) -> str | None:
    """The live offer's page, for those who may open it: a facility officer only at their own home
    (SPEC §10; the offer page's own check)."""
    if offer is None or not allowed_url(user, "staff:offer", offer.pk):
        return None
    own = scoped_home(user)
    if own is not None and offer.facility_id != own.pk:
        return None
    return reverse("staff:offer", args=[offer.pk])


def _state_label(state: str) -> str:
    return str(ApplicationState(state).label) if state in ApplicationState.values else state


def _detail_context(request, application, *, failed: TransitionForm | None = None, failed_duplicate=None) -> dict:
    user = request.user
    roles = roles_of(user)
    ask = awaiting_confirmation(application)
    allowed = transitions_for(
        user, services.available_transitions(application) + (["reconfirm"] if ask is not None else [])
    )
    transitions = []
    for name in allowed:
        spec = PAGE_TRANSITIONS.get(name)
        if spec is None:
            continue
        if failed is not None and failed.transition == name:
            form = failed
        else:
            form = TransitionForm(
                transition=name,
                action=spec["label"],
                reason_required=spec["reason"] == "required",
                initial={"form_token": form_token_issue()},
            )
        transitions.append(
            {
                "name": name,
                "label": spec["label"],
                "reason": spec["reason"],
                "form": form,
                "url": reverse("staff:application_transition", args=[application.reference, name]),
            }
        )
    events = [
        {
            "event": event,
            "label": EVENT_LABELS.get(event.transition, event.transition),
            "from_label": _state_label(event.from_state) if event.from_state else "",
            "to_label": _state_label(event.to_state),
            "changes": _change_rows(event),
        }
        for event in application.events.order_by("at", "id")
    ]
    claims = list(application.category_claims.all())
    sees_evidence = sees_full_id_numbers(user)  # those who check identity see its evidence (SPEC §10)
    reviews = list(application.duplicate_reviews.select_related("other_application", "decided_by"))
    reviewed = {r.other_application_id for r in reviews}
    open_duplicates = []
    if roles & {Role.INTAKE, Role.ADMIN} and not application.is_final:
        for duplicate in possible_duplicates(
            application.applicant.name,
            application.applicant.date_of_birth,
            application.applicant.phone,
            exclude_application=application,
        ):
            if duplicate.application.pk in reviewed:
                continue
            reference = duplicate.application.reference
            if failed_duplicate is not None and failed_duplicate.data.get("other_reference") == reference:
                form = failed_duplicate
            else:
                form = DuplicateReviewForm(
                    initial={"other_reference": reference, "match": duplicate.match, "form_token": form_token_issue()}
                )
            open_duplicates.append({"duplicate": duplicate, "form": form})
    live_offer = application.offers.filter(state__in=["pending", "accepted"]).select_related("facility").first()
    assessments = [
        {"assessment": a, "url": _url("staff:assessment", a.pk)}
        for a in application.assessments.select_related("assessor", "reviewer").order_by("-assessed_on", "-id")
    ]
    context = {
        "application": application,
        "applicant": application.applicant,
        "id_number": id_number_for(user, application, where="staff:application"),
        **_privacy_context(user, application),
        "choices": list(application.choices.select_related("facility").order_by("rank")),
        "events": events,
        "transitions": transitions,
        "review_url": _url("staff:review", application.reference) if "approve" in allowed else None,
        "offer_actions": [t for t in allowed if t in ("accept-offer", "decline-offer", "admit", "fail-check")],
        "live_offer": live_offer,
        "offer_url": _offer_url(user, live_offer),
        "positions": positions_for_application(application),
        "claims": [
            {
                "claim": claim,
                "evidence_url": reverse("staff:evidence", args=[claim.pk])
                if claim.evidence_file and sees_evidence
                else None,
            }
            for claim in claims
        ],
        "assessments": assessments,
        "new_assessment_url": _url("staff:assessment_new", application.reference)
        if roles & {Role.ASSESSOR, Role.ADMIN}
        and (
            application.state in ASSESSABLE_STATES
            or (not application.is_final and review_assigned_to(application, user) is not None)
        )
        else None,
        **review_requests_context(user, application),
        "notifications": list(application.notifications.all()[:50]),
        "reviews": reviews,
        "open_duplicates": open_duplicates,
        "can_reissue": bool(roles & {Role.INTAKE, Role.ADMIN}) and not application.is_final,
        # R-CHG-1: the roles of CORRECTION_ROLES_BY_STATE, as the API's PATCH.
        "correct_url": reverse("staff:application_correct", args=[application.reference])
        if may_correct(user, application.state)
        else None,
        "is_draft": application.state == ApplicationState.DRAFT,
        "reissue_token": form_token_issue(),
        "duplicate_match_labels": dict(DuplicateMatch.choices),
        "change_links": change_links_for(user, application),  # R-CHG-2
        "reconfirmation": ask,
        "couple": couple_of(application),  # R-CPL-3
        "can_link": bool(roles & {Role.INTAKE, Role.ADMIN}) and not application.is_final,
    }
    return {**context, **_arranged_actions(application.state, context)}


# Issue 15: one primary action per state (GOV.UK: one primary button a page), the next step of the
# application's usual path; the other acts are secondary, and those that close the application
# (each behind its confirmation page) are grouped apart, closed until asked for.
PRIMARY_BY_STATE = {
    ApplicationState.DRAFT: "correct",
    ApplicationState.SUBMITTED: "accept-for-assessment",
    ApplicationState.ASSESSMENT_PENDING: "assessment",
    ApplicationState.REVIEW: "review",
    ApplicationState.SUSPENDED: "resume",
    ApplicationState.OFFERED: "offer",
    ApplicationState.ADMISSION_CHECK: "offer",
}
CLOSING_TRANSITIONS = ("reject", "withdraw", "remove")


def _arranged_actions(state: str, context: dict) -> dict:
    """The page's acts as primary, secondary and closing. A family's answer to the re-confirmation
    (R-CHG-3) comes first when it is asked for: it is what the officer is there to record."""
    transitions = context["transitions"]
    names = {t["name"] for t in transitions}
    links = {
        "correct": context["correct_url"],
        "review": context["review_url"],
        "assessment": context["new_assessment_url"],
        "offer": context["offer_url"],
    }
    chosen = "reconfirm" if "reconfirm" in names else PRIMARY_BY_STATE.get(state)
    primary = None
    if chosen in names:
        primary = {"name": chosen, "transition": next(t for t in transitions if t["name"] == chosen)}
    elif links.get(chosen):
        primary = {"name": chosen, "url": links[chosen]}
    others = [t for t in transitions if primary is None or t["name"] != primary["name"]]
    closing = [t for t in others if t["name"] in CLOSING_TRANSITIONS]
    return {
        "primary": primary,
        "secondary": [t for t in others if t["name"] not in CLOSING_TRANSITIONS],
        "closing": closing,
        "closing_open": any(t["form"].is_bound for t in closing),  # a refused one shows its error
    }


@staff_page(*STAFF)
@require_GET
def application_detail(request, reference: str):
    application = _visible(request, reference)
    return render(request, "staff/applications/detail.html", _detail_context(request, application))


def _withdraw_lines(application) -> list[Line]:
    """What a withdrawal will do (R-OFF-5: with a pending offer it counts as declining it, after
    accepting one as not coming, and may reach the limit; R-CPL-2 for a couple)."""
    from admissions.models import OfferState
    from admissions.services.closing import live_offer

    lines = [Line(_("The application closes and leaves every queue it is in: its places are lost."))]
    offer = live_offer(application)
    if offer is None:
        lines.append(Line(_("This is not a refusal and sets no bar: the person may apply again.")))
    else:
        words = {"bed": offer.bed.code, "home": offer.facility.local_name}
        if offer.state == OfferState.PENDING:
            lines.append(
                Line(_("It holds a live offer of bed %(bed)s at %(home)s: withdrawing counts as declining it.") % words)
            )
        else:
            lines.append(
                Line(
                    _("It has accepted the offer of bed %(bed)s at %(home)s: withdrawing counts as not coming.") % words
                )
            )
        lines += refusal_lines(application, counted_as=_("The withdrawal"))
        if offer.partner_offer_id:
            lines.append(
                Line(_("The spouse's joint offer is withdrawn too, without a refusal; they keep their place."))
            )
        lines.append(Line(_("The bed goes to the next person in the queue.")))
    lines += _couple_link_ends(application)
    lines.append(Line(_("The family is told of the decision.")))
    return lines


def _couple_link_ends(application) -> list[Line]:
    """R-CPL-2: an application that closes ends its couple's link."""
    couple = couple_of(application)
    if couple is None:
        return []
    return [
        Line(
            _("The link with the spouse's application %(reference)s ends: the spouse waits on their own.")
            % {"reference": couple.partner.reference}
        )
    ]


# Issue 15: the acts that end an application are taken only from their confirmation page.
CONFIRMED_TRANSITIONS = ("withdraw", "reject", "remove")


def _complete(transition: str, form: TransitionForm) -> bool:
    """Whether the form holds what the act needs, so the confirmation page is worth showing; an
    incomplete one goes on to the service, whose refusal names the field."""
    if not form.is_valid():
        return False
    reason = (form.cleaned_data.get("reason") or "").strip()
    if transition == "remove":
        return reason in REMOVAL_REASON_WORDS
    return bool(reason) or PAGE_TRANSITIONS[transition]["reason"] != "required"


def _closing_lines(application, transition: str, reason: str) -> list[Line]:
    """What a withdrawal, a rejection or a removal will do, in plain words (SPEC §5; R-CPL-2 for a
    couple)."""
    from admissions.services.closing import live_offer

    if transition == "withdraw":
        return _withdraw_lines(application)
    if transition == "reject":
        return [
            Line(_("The application is rejected and closes. It is in no queue.")),
            Line(_("This is not a refusal and sets no bar: to be considered again, the person applies again.")),
            Line(_("The family is told of the decision.")),
        ]
    lines = [Line(_("The application closes and leaves every queue it is in: its places are lost."))]
    offer = live_offer(application)
    if offer is not None:
        lines.append(
            Line(
                _(
                    "Its live offer of bed %(bed)s at %(home)s is withdrawn, without counting as a refusal, and "
                    "the bed goes to the next person in the queue."
                )
                % {"bed": offer.bed.code, "home": offer.facility.local_name}
            )
        )
    couple_lines = _couple_link_ends(application)
    lines += couple_lines
    if couple_lines and offer is not None and offer.partner_offer_id:
        lines.append(Line(_("The spouse's joint offer is withdrawn too, without a refusal; they keep their place.")))
    if reason != "deceased":
        lines.append(Line(_("No bar is set: the person may apply again.")))
    lines.append(Line(_("The family is told of the decision.")))
    return lines


def _confirm_closing(request, application, transition: str, form: TransitionForm, token, here):
    """Issue 15: the first POST of a withdrawal, a rejection or a removal shows what it will do;
    nothing is written, the form token passes on unclaimed."""
    reason = form.cleaned_data.get("reason") or ""
    note = form.cleaned_data.get("note") or ""
    if transition == "withdraw":
        title, submit = _("Check before withdrawing the application"), _("Yes, withdraw the application")
        facts = [(_("Reason"), reason)]
        hidden = [("reason", reason)]
    elif transition == "reject":
        title, submit = _("Check before rejecting the application"), _("Yes, reject the application")
        facts = [(_("Reason"), reason)]
        hidden = [("reason", reason)]
    else:
        title, submit = _("Check before removing the application"), _("Yes, remove the application")
        facts = [(_("Reason for removal"), REMOVAL_REASON_WORDS[reason]), (_("Note on the removal"), note)]
        hidden = [("reason", reason), ("note", note)]
    return confirmation_page(
        request,
        Confirmation(
            title=title,
            back=here,
            back_label=_("Back to the application"),
            no_label=_("No, go back to the application"),
            url=request.path,
            token=token or form_token_issue(),
            submit=submit,
            facts=[
                (_("Reference"), application.reference),
                (_("Name"), application.applicant.name),
                (_("State"), application.get_state_display()),
                *facts,
            ],
            consequences=_closing_lines(application, transition, reason),
            hidden=hidden,
        ),
    )


@staff_page(*STAFF)
@require_POST
def application_transition(request, reference: str, transition: str):
    """One transition (SPEC §5) by its service; a refusal shows the message and changes nothing."""
    application = _visible(request, reference)
    spec = PAGE_TRANSITIONS.get(transition)
    if spec is None:
        raise Http404
    if not transitions_for(request.user, [transition]):
        raise PermissionDenied
    here = reverse("staff:application", args=[application.reference])
    form = TransitionForm(
        request.POST, transition=transition, action=spec["label"], reason_required=spec["reason"] == "required"
    )
    token = request.POST.get("form_token")
    if transition in CONFIRMED_TRANSITIONS and not is_confirmed(request) and _complete(transition, form):
        return _confirm_closing(request, application, transition, form, token, here)
    earlier = _earlier_result(request, token)
    if earlier is not None:
        return redirect(earlier or here)
    if form.is_valid():
        try:
            changed = _act(transition, application, _actor(request), form.cleaned_data)
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            form_token_done(token, here)
            messages.success(
                request,
                _("%(action)s: done. The application is now %(state)s.")
                % {"action": spec["label"], "state": _state_label(changed.state)},
            )
            return redirect(here)
    form_token_release(token)
    application.refresh_from_db()
    context = _detail_context(request, application, failed=form)
    shown = any(t["form"] is form for t in context["transitions"])
    context["refused"] = {
        "heading": _("%(action)s: nothing was changed.") % {"action": spec["label"]},
        "form": form,
        # No longer possible in this state: its form is gone, so say what was typed here.
        "typed_reason": "" if shown else (form.data.get("reason") or "")[:2000],
    }
    return render(request, "staff/applications/detail.html", context)


@staff_page("intake")
@require_POST
def duplicate_review(request, reference: str):
    """R-APP-10 after intake: a possible duplicate confirmed or dismissed, with a note."""
    application = _visible(request, reference)
    here = reverse("staff:application", args=[application.reference])
    form = DuplicateReviewForm(request.POST)
    token = request.POST.get("form_token")
    earlier = _earlier_result(request, token)
    if earlier is not None:
        return redirect(earlier or here)
    if form.is_valid():
        try:
            services.duplicate_review_record(
                application=application,
                other_reference=form.cleaned_data["other_reference"],
                match=form.cleaned_data["match"],
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                actor=_actor(request),
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            form_token_done(token, here)
            messages.success(request, _("The possible duplicate is recorded as reviewed."))
            return redirect(here)
    form_token_release(token)
    context = _detail_context(request, application, failed_duplicate=form)
    shown = {row["duplicate"].application.reference for row in context["open_duplicates"]}
    if form.data.get("other_reference") not in shown:
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()) or _("Nothing was recorded."))
    return render(request, "staff/applications/detail.html", context)


# --- evidence -----------------------------------------------------------------------------------------
@staff_page("intake", "reviewer")
@require_GET
def evidence(request, claim_id: int):
    """An evidence file (R-APP-8), to intake officers and reviewers only; never a public URL. R-SEC-7:
    its type is the one its content shows (a PDF or an image, inline) or else an attachment, and
    always with nosniff, so no browser runs it as a page."""
    claim = get_object_or_404(CategoryClaim.objects.select_related("application"), pk=claim_id)
    if not claim.evidence_file:
        raise Http404
    try:
        handle = claim.evidence_file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    content_type = evidence_content_type(handle)
    extension = EXTENSIONS.get(content_type, ".bin")
    response = FileResponse(
        handle,
        content_type=content_type or "application/octet-stream",
        as_attachment=content_type is None,
        filename=f"{claim.application.reference}-{claim.code}{extension}",
    )
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("applications/", application_list, name="applications"),
    path("applications/new/", application_new, name="application_new"),
    path("applications/new/check-id/", check_identity, name="check_identity"),
    path("applications/new/homes/", intake_homes, name="intake_homes"),
    path("applications/<str:reference>/correct/", application_correct, name="application_correct"),
    path("applications/<str:reference>/", application_detail, name="application"),
    path("applications/<str:reference>/receipt/", receipt, name="receipt"),
    path("applications/<str:reference>/lookup-code/", lookup_code_new, name="lookup_code"),
    path("applications/<str:reference>/duplicates/", duplicate_review, name="duplicate_review"),
    # Only the transitions of this page: other pages own the other names under applications/<reference>/.
    re_path(
        r"^applications/(?P<reference>[^/]+)/(?P<transition>" + "|".join(PAGE_TRANSITIONS) + r")/$",
        application_transition,
        name="application_transition",
    ),
    path("evidence/<int:claim_id>/", evidence, name="evidence"),
]
