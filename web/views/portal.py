"""Family portal pages (public, no account): portal. Thin: parse, call one service or selector, render.

- `portal:status`: the lookup (R-PUB-1/2) through admissions.services.lookup.public_lookup, the same
  service as the API's, so both share the rate limits and give the same answers; then what R-PUB-3
  lets the family see, in plain words. The code travels only in a POST body, never in a URL.
- `portal:boards` and `portal:board`: the city's homes and each home's anonymised queue board with
  its recent allocation decisions (R-PUB-4), from admissions.public.

Every failed lookup, whatever was wrong with it (an unknown reference, a wrong code, an empty,
malformed, overlong or script-laden input), gets the same calm page with the same status and the
same bytes (but for the CSRF token): nothing typed is sent back, so the page cannot tell a known
reference from an unknown one (the browser itself puts the typed reference back, static/js/portal.js).
A locked address or reference gets a friendly 429. The only input ever shown is `?reference=` from
the receipt's QR code, and only when it has the plain shape of a reference; Django escapes it too.

After a successful lookup the browser's session remembers the reference (never the code) for a
short while, so the family can switch the page's language or reload it without typing the code
again. A new lookup code issued by staff ends it at once; so does the "close" button.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from admissions.chain import decisions_concerning
from admissions.models import Application, ApplicationState, Channel
from admissions.public import public_board, public_facilities
from admissions.selectors import policy_in_force
from admissions.services.allocation import SkipReason
from admissions.services.lookup import (
    LookupLocked,
    LookupNotFound,
    LookupResult,
    family_typed,
    lookup_result,
    public_lookup,
    public_reconfirm,
)
from admissions.services.reconfirmation import awaiting_confirmation
from config.proxies import client_address
from core.errors import DomainError
from facilities.models import BedType, CareLevel, Facility, FacilityLevel
from facilities.selectors import intake_offices

# As the API (api/serializers/public.py): within it, a wrong length or a bad character is the
# lookup's business; beyond it the input is not a lookup at all (the same calm page, no service call).
LOOKUP_FIELD_MAX_LENGTH = 64
# What a reference looks like (2026-000023). Only such a value is ever put back into the form.
REFERENCE_SHAPE = re.compile(r"[A-Za-z0-9-]{1,20}")
SESSION_KEY = "portal_lookup"
REMEMBERED_FOR_SECONDS = 30 * 60
BOARD_PAGE_SIZE = 50

# --- plain words ------------------------------------------------------------------------------------
S = ApplicationState
STATE_MEANING = {
    S.DRAFT: _("The application has been started but has not been handed in yet."),
    S.SUBMITTED: _("The application has been handed in. The intake office checks it before the care-needs assessment."),
    S.ASSESSMENT_PENDING: _("The application has been checked. It now waits for the care-needs assessment."),
    S.REVIEW: _("The care needs have been assessed. A reviewer is checking the assessment and the application."),
    S.WAITING: _(
        "The application is approved and waits in the queue of each home chosen. Beds are offered in queue order."
    ),
    S.SUSPENDED: _(
        "The application is paused. It keeps its place in the queue, but no bed is offered while it is paused."
    ),
    S.OFFERED: _("A bed has been offered. Please answer before the deadline shown below."),
    S.ADMISSION_CHECK: _("The offer has been accepted. The home checks the applicant in person before the admission."),
    S.ADMITTED: _("The applicant has moved into the home."),
    S.REJECTED: _("The application was not approved."),
    S.WITHDRAWN: _("The application was withdrawn."),
    S.REMOVED: _("The application was taken off the waiting list."),
}

SKIP_REASON_WORDS = {
    SkipReason.BED_TYPE_MISMATCH: _("needs nursing care, and this was a general bed"),
    SkipReason.RESERVED_FOR_NURSING: _(
        "self-care: this nursing bed was kept for someone further down who needs nursing care"
    ),
    SkipReason.NURSING_QUOTA_FULL: _("self-care: the home's places for self-care residents are all taken"),
    SkipReason.ASSESSMENT_EXPIRED: _("the care-needs assessment has expired; a new one is needed"),
    SkipReason.OFFER_PENDING: _("already holds an offer, here or at another home"),
    SkipReason.SUSPENDED: _("the application is paused (suspended)"),
    SkipReason.REFUSED_THIS_BED: _("refused this same bed before"),
    SkipReason.PARTNER_BED_UNAVAILABLE: _("waits together with a spouse, and no second bed there suited the spouse"),
    SkipReason.COUPLE_PARTNER: _("passed over for a couple's joint offer: this bed went to the spouse"),
}

TRIGGER_WORDS = {
    "bed_added": _("a new bed was added"),
    "bed_returned_to_service": _("a bed came back into service"),
    "discharge:discharged": _("a resident left the home"),
    "discharge:deceased": _("a resident passed away"),
    "discharge:transferred": _("a resident moved to another home"),
    "offer_refused": _("an offer was declined or not answered in time"),
    "admission_check_failed": _("an admission check was not passed"),
    "offer_withdrawn": _("an offer was withdrawn"),
    "application_approved": _("an application was approved into the queue"),
    "application_resumed": _("a paused application was resumed"),
    "application_reassessed": _("an application was reassessed"),
    "staff_request": _("staff asked for the vacant beds to be allocated"),
}


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


# --- the lookup form ----------------------------------------------------------------------------------
class LookupForm(forms.Form):
    reference = forms.CharField(
        label=_("Application reference"),
        max_length=LOOKUP_FIELD_MAX_LENGTH,
        help_text=_("As printed on the receipt, for example 2026-000023."),
    )
    code = forms.CharField(
        label=_("Lookup code"),
        max_length=LOOKUP_FIELD_MAX_LENGTH,
        help_text=_(
            "The 6 letters and digits on the receipt or in the text message; small or capital letters both work."
        ),
    )

    def __init__(self, *args, failed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            described_by = f"id_{name}_help" + (" lookup-error" if failed else "")
            field.widget.attrs.update(
                {
                    "autocomplete": "off",
                    "autocapitalize": "characters",
                    "spellcheck": "false",
                    "aria-describedby": described_by,
                }
            )
            if failed:
                field.widget.attrs["aria-invalid"] = "true"


def plausible_reference(value: object) -> str:
    """The value if it has the plain shape of a reference, else "": the only input ever shown again."""
    value = family_typed(value or "")
    return value if REFERENCE_SHAPE.fullmatch(value) else ""


def lookup_form_context(*, reference: str = "", failed: bool = False) -> dict:
    """For the start page and the status page: the form, empty but for a plain reference."""
    return {"form": LookupForm(initial={"reference": reference}, failed=failed), "failed": failed}


# --- portal:status --------------------------------------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
def status(request):
    """GET: the form (the receipt's QR code fills in `?reference=`), or the result this browser
    looked up a moment ago. POST: the lookup."""
    if request.method == "POST":
        return _lookup(request)
    reference = plausible_reference(request.GET.get("reference"))
    application = _remembered(request)
    if application is not None and (not reference or reference.upper() == application.reference):
        return _result_page(request, lookup_result(application))
    return render(request, "portal/status_form.html", lookup_form_context(reference=reference))


def _lookup(request):
    form = LookupForm(request.POST)
    if not form.is_valid():  # empty, overlong, NUL characters: not a lookup, the same calm page
        return _refused(request)
    try:
        result = public_lookup(
            reference=form.cleaned_data["reference"],
            code=form.cleaned_data["code"],
            client_address=client_address(request),
        )
    except LookupLocked as locked:
        return _locked(request, locked)
    except LookupNotFound:
        return _refused(request)
    _remember(request, result.reference)
    return _result_page(request, result)


def _locked(request, locked: LookupLocked):
    response = render(
        request,
        "portal/locked.html",
        {"message": locked.message, "retry_at": timezone.now() + dt.timedelta(seconds=locked.retry_after)},
        status=429,
    )
    response["Retry-After"] = str(locked.retry_after)
    return response


# --- portal:status_reconfirm (R-CHG-3) ----------------------------------------------------------------
class ReconfirmForm(forms.Form):
    """The family confirms they still want to wait: the reference (from the page) and the lookup code
    typed again, so the confirmation goes through the lookup's rate limits (R-PUB-2)."""

    reference = forms.CharField(max_length=LOOKUP_FIELD_MAX_LENGTH, widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Lookup code"),
        max_length=LOOKUP_FIELD_MAX_LENGTH,
        help_text=_("Type the lookup code from the receipt or the text message again to confirm."),
    )

    def __init__(self, *args, failed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        attrs = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        attrs["aria-describedby"] = "id_reconfirm_code_help" + (" reconfirm-error" if failed else "")
        if failed:
            attrs["aria-invalid"] = "true"
        self.fields["code"].widget.attrs.update(attrs)
        self.fields["code"].widget.attrs["id"] = "id_reconfirm_code"


@never_cache
@require_POST
def status_reconfirm(request):
    """R-CHG-3: confirm, then back to the status page (post/redirect/get). A wrong code is a failed
    lookup; a locked address or reference gets the lookup's 429 page."""
    form = ReconfirmForm(request.POST)
    remembered = _remembered(request)
    if not form.is_valid():
        return _reconfirm_refused(request, remembered)
    try:
        application = public_reconfirm(
            reference=form.cleaned_data["reference"],
            code=form.cleaned_data["code"],
            client_address=client_address(request),
        )
    except LookupLocked as locked:
        return _locked(request, locked)
    except LookupNotFound:
        return _reconfirm_refused(request, remembered)
    except DomainError as refused:  # no longer in the queue: say so on the status page
        messages.error(request, refused.message)
        return redirect("portal:status")
    _remember(request, application.reference)
    if application.state == ApplicationState.WAITING:
        messages.success(request, _("Thank you. You still wait in the queue, with your place kept."))
    else:
        messages.success(
            request,
            _(
                "Thank you, your answer is recorded. The application stays paused until a new care-needs "
                "assessment is approved: the intake office has been told and will contact you."
            )
            if application.state == ApplicationState.SUSPENDED
            else _("Thank you, your answer is recorded."),
        )
    return redirect("portal:status")


def _reconfirm_refused(request, remembered: Application | None):
    """The status page again with the error on the confirmation (when this browser still remembers
    the lookup), else the lookup's one calm page (R-PUB-1)."""
    if remembered is None:
        return _refused(request)
    response = _result_page(request, lookup_result(remembered), reconfirm_failed=True)
    response.status_code = 404
    return response


def _refused(request):
    """One page for every failed lookup: the same message, the same status, nothing echoed (R-PUB-1)."""
    return render(request, "portal/status_form.html", lookup_form_context(failed=True), status=404)


def _remember(request, reference: str) -> None:
    issued_at = Application.objects.filter(reference=reference).values_list("lookup_code_issued_at", flat=True).first()
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "reference": reference,
        "issued_at": issued_at.isoformat() if issued_at else "",
        "until": time.time() + REMEMBERED_FOR_SECONDS,
    }


def _remembered(request) -> Application | None:
    """The application this browser looked up within the last half hour, while its code is the same."""
    if not hasattr(request, "session"):
        return None
    remembered = request.session.get(SESSION_KEY)
    if not isinstance(remembered, dict):
        return None
    application = None
    if isinstance(remembered.get("until"), int | float) and remembered["until"] > time.time():
        application = (
            Application.objects.select_related("applicant", "current_assessment")
            .filter(reference=str(remembered.get("reference", "")))
            .first()
        )
    issued_at = application.lookup_code_issued_at if application is not None else None
    if application is None or (issued_at.isoformat() if issued_at else "") != remembered.get("issued_at"):
        request.session.pop(SESSION_KEY, None)
        return None
    return application


@require_POST
def status_close(request):
    """Forget the lookup in this browser (a shared computer, a borrowed phone)."""
    if hasattr(request, "session"):
        request.session.pop(SESSION_KEY, None)
    return redirect("portal:status")


def _reconfirm_context(result: LookupResult, *, failed: bool) -> dict | None:
    """R-CHG-3: when the family is asked to confirm they still want to wait (or the application was
    paused for want of it), the card with the confirm button."""
    application = Application.objects.filter(reference=result.reference).first()
    ask = awaiting_confirmation(application) if application is not None else None
    if ask is None:
        return None
    return {
        "respond_by": ask.respond_by,
        "lapsed": ask.lapsed_at is not None,
        "failed": failed,
        "form": ReconfirmForm(initial={"reference": result.reference}, failed=failed),
    }


def _result_page(request, result: LookupResult, *, reconfirm_failed: bool = False):
    params = policy_in_force().parameters
    language = get_language() or "zh-hans"
    codes = {p.facility for p in result.positions} | ({result.offer.facility} if result.offer else set())
    homes = {f.code: f for f in public_facilities(language=language) if f.code in codes}
    positions = [
        {
            "position": p,
            "care_level_label": _label(CareLevel, p.care_level),
            "home": homes.get(p.facility),
        }
        for p in result.positions
    ]
    return render(
        request,
        "portal/status.html",
        {
            "result": result,
            "state_meaning": STATE_MEANING.get(result.state, ""),
            "care_level_label": _label(CareLevel, result.care_level) if result.care_level else "",
            "positions": positions,
            "offer_home": homes.get(result.offer.facility) if result.offer else None,
            "homes_to_call": [homes[code] for code in sorted(homes)],
            "waiting_points": params.waiting_points,
            "waiting_period_days": params.waiting_period_days,
            "now": timezone.now(),
            "remembered_minutes": REMEMBERED_FOR_SECONDS // 60,
            "reconfirm": _reconfirm_context(result, failed=reconfirm_failed),
            # R-VER-4: the decisions that concerned them, to find in each home's public log.
            "decisions": [
                {"decision": d, "reason_words": SKIP_REASON_WORDS.get(d.reason, d.reason) if d.reason else ""}
                for d in decisions_concerning(result.reference)
            ],
        },
    )


# --- portal:apply: the start page for families (issue 15) ------------------------------------------------
@require_GET
def apply_start(request):
    """Who may apply (R-APP-2, R-APP-3, R-APP-7 as the policy in force says), how, what to bring, and
    each district's intake office (data kept by administrators)."""
    params = policy_in_force().parameters
    return render(
        request,
        "portal/apply.html",
        {
            "min_age": params.min_age,
            "max_choices": params.max_choices,
            "max_city_level_choices": params.max_city_level_choices,
            "offices": intake_offices(),
        },
    )


# --- portal:boards, portal:board (R-PUB-4) ------------------------------------------------------------------
@require_GET
def boards(request):
    """The city's homes: vacancies, queue lengths and nursing share."""
    rows = [
        {
            "facility": f,
            "level_label": _label(FacilityLevel, f.level),
            "nursing_share_percent": None if f.nursing_share is None else round(f.nursing_share * 100),
        }
        for f in public_facilities(language=get_language() or "zh-hans")
    ]
    return render(request, "portal/boards.html", {"rows": rows})


@require_GET
def board(request, code: str):
    """One home's queue board, references masked, and its recent allocation decisions."""
    facility = get_object_or_404(Facility.objects.select_related("district"), code=code)
    result = public_board(facility)
    page = Paginator(result.entries, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [
        {
            "entry": e,
            "channel_label": _label(Channel, e.channel),
            "care_level_label": _label(CareLevel, e.care_level),
            "queued_month": _month(e.queued_month),
        }
        for e in page.object_list
    ]
    decisions = [
        {
            "decision": d,
            "trigger_words": TRIGGER_WORDS.get(d.trigger, _("other")),
            "bed_type_label": _label(BedType, d.bed_type),
            "skipped": [
                {"row": row, "reason_words": SKIP_REASON_WORDS.get(row.reason, row.reason)} for row in d.skipped
            ],
        }
        for d in result.recent_decisions
    ]
    return render(
        request,
        "portal/board.html",
        {
            "facility": facility,
            "district_name": facility.district.name(get_language() or "zh-hans"),
            "level_label": _label(FacilityLevel, facility.level),
            "page": page,
            "entries": entries,
            "total": len(result.entries),
            "decisions": decisions,
            "log_url": reverse("api:public-facility-decisions", kwargs={"code": facility.code}),
        },
    )


def _month(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


urlpatterns = [
    path("apply/", apply_start, name="apply"),
    path("status/", status, name="status"),
    path("status/close/", status_close, name="status_close"),
    path("status/confirm/", status_reconfirm, name="status_reconfirm"),
    path("homes/", boards, name="boards"),
    path("homes/<str:code>/", board, name="board"),
]
