"""Staff pages: offers (issue 4). Thin: parse, call one service or selector, render.

Pending and accepted offers with both deadlines (R-OFF-1) and the home's phone. The family answers
by phone, so intake and facility officers record accept and decline; the home's officers record the
admission and a failed admission check (API.md's roles). Each act calls its service in
admissions/services/offers.py. A facility officer who is nothing else sees and acts on their own
home's offers only (SPEC §10, the API's rule).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, F, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from admissions.models import LIVE_OFFER_STATES, Offer, OfferState
from admissions.services.offers import (
    FAIL_CHECK_REASONS,
    OFFER_ACTIONS,
    offer_accept,
    offer_admit,
    offer_decline,
    offer_fail_check,
)
from admissions.services.privacy import contact_details_visible
from admissions.services.transitions import roles_for_transition
from core.actor import Actor
from core.errors import DomainError
from facilities.models import Facility, Role
from facilities.roles import roles_of
from web.access import staff_page
from web.confirmation import Confirmation, Line, confirmation_page, is_confirmed, refusal_lines
from web.forms.facilities import DateInput, FacilityServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release
from web.views import facility_pages as facility_views

PAGE_SIZE = 25
OFFERS = Offer.objects.select_related(
    "application__applicant", "facility", "bed", "partner_offer__application__applicant", "partner_offer__bed"
)

FAIL_CHECK_WORDS = {
    "no_show": gettext_lazy("did not come (a no-show)"),
    "care_need_changed": gettext_lazy("the care need has changed (a new assessment is needed)"),
    "other": gettext_lazy("another reason"),
    "partner_left": gettext_lazy("the spouse's application ended, so the joint offer was withdrawn (not a refusal)"),
    # The reason stored when the family gave none, or when the time to answer ran out (issue 15: the
    # page showed the raw value).
    "declined": gettext_lazy("the family declined"),
    "expired": gettext_lazy("no answer in time"),
}


# --- forms ------------------------------------------------------------------------------------------
class OfferFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("State"),
        required=False,
        choices=[
            ("", gettext_lazy("pending and accepted")),
            (OfferState.PENDING, OfferState.PENDING.label),
            (OfferState.ACCEPTED, OfferState.ACCEPTED.label),
        ],
    )
    facility = forms.ModelChoiceField(
        label=gettext_lazy("Home"),
        required=False,
        queryset=Facility.objects.order_by("code"),
        to_field_name="code",
        empty_label=gettext_lazy("every home"),
    )
    reference = forms.CharField(label=gettext_lazy("Reference"), required=False, max_length=20)


class AcceptForm(FacilityServiceForm):
    """Nothing to fill in: the button is the whole act."""


class DeclineForm(FacilityServiceForm):
    reason = forms.CharField(
        label=gettext_lazy("What the family said"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AdmitForm(FacilityServiceForm):
    admitted_on = forms.DateField(
        label=gettext_lazy("Day of admission"),
        required=False,
        widget=DateInput(),
        help_text=gettext_lazy("Today when left empty."),
    )


class FailCheckForm(FacilityServiceForm):
    reason = forms.ChoiceField(label=gettext_lazy("Why the admission check failed"))
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [
            ("", gettext_lazy("Choose a reason")),
            *[(code, FAIL_CHECK_WORDS.get(code, code)) for code in FAIL_CHECK_REASONS],
        ]


ACTION_FORMS = {"accept": AcceptForm, "decline": DeclineForm, "admit": AdmitForm, "fail-check": FailCheckForm}
ACTION_WORDS = {
    "accept": (gettext_lazy("The family accepts"), gettext_lazy("Record the acceptance")),
    "decline": (gettext_lazy("The family declines"), gettext_lazy("Record the decline")),
    "admit": (gettext_lazy("Admit"), gettext_lazy("Record the admission")),
    "fail-check": (gettext_lazy("The admission check failed"), gettext_lazy("Record the failed check")),
}


# --- who sees which offers ------------------------------------------------------------------------------
def _visible_offers(user):
    own = facility_views.scoped_home(user)
    return OFFERS.filter(facility=own) if own is not None else OFFERS


def _offer_for(request, pk: int) -> Offer:
    offer = OFFERS.filter(pk=pk).first()
    if offer is None:
        raise Http404
    facility_views.facility_for(request, offer.facility.code)  # 403 for another home's officer
    return offer


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else ""


# --- pages ------------------------------------------------------------------------------------------
@staff_page(Role.INTAKE, Role.FACILITY)
def offer_list(request):
    """Live offers, the nearest deadline first: the answer's for a pending one, the admission's
    for an accepted one."""
    scoped = facility_views.scoped_home(request.user) is not None
    form = OfferFilterForm(request.GET or None)
    if scoped:
        del form.fields["facility"]
    offers = _visible_offers(request.user).filter(state__in=LIVE_OFFER_STATES)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data.get("state"):
            offers = offers.filter(state=data["state"])
        if data.get("facility"):
            offers = offers.filter(facility=data["facility"])
        if data.get("reference"):
            offers = offers.filter(application__reference=data["reference"].strip())
    offers = offers.annotate(
        deadline=Case(When(state=OfferState.ACCEPTED, then=F("admit_by")), default=F("respond_by"))
    ).order_by("deadline", "id")
    page = Paginator(offers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "staff/offers/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "rows": _rows(page),
        },
    )


def _rows(offers) -> list[dict]:
    application_url = facility_views.link_maker("staff:application")
    return [{"offer": offer, "application_url": application_url(offer.application.reference)} for offer in offers]


@staff_page(Role.INTAKE, Role.FACILITY)
def offer_detail(request, pk: int):
    return _render_offer(request, _offer_for(request, pk))


def _actions_for(user, offer: Offer) -> list[str]:
    """The acts the offer's state allows (its state machine) and the user's roles permit (the
    roles of the view that takes them)."""
    roles = roles_of(user)
    available = {OFFER_ACTIONS[t.name] for t in offer.get_available_state_transitions() if t.name in OFFER_ACTIONS}
    return [a for a in ACTION_FORMS if a in available and roles & ACTION_VIEWS[a].allowed_roles]


def _render_offer(request, offer: Offer, *, bound=None):
    """The offer page. `bound`: (action, form) of a refused act, shown with its errors."""
    actions = []
    for action in _actions_for(request.user, offer):
        if bound is not None and bound[0] == action:
            form = bound[1]
        else:
            initial = {"admitted_on": timezone.localdate()} if action == "admit" else None
            form = ACTION_FORMS[action](prefix=action, initial=initial)
        heading, submit = ACTION_WORDS[action]
        actions.append(
            {
                "action": action,
                "form": form,
                "url": reverse(f"staff:offer_{action.replace('-', '_')}", args=[offer.pk]),
                "token": form_token_issue(),
                "heading": heading,
                "submit": submit,
            }
        )
    roles = roles_of(request.user)
    sees_facility = bool(roles & facility_views.facility_detail.allowed_roles)
    return render(
        request,
        "staff/offers/detail.html",
        {
            "offer": offer,
            "application": offer.application,
            "application_url": facility_views.link_maker("staff:application")(offer.application.reference),
            "facility_url": reverse("staff:facility", args=[offer.facility.code]) if sees_facility else None,
            "reason_words": FAIL_CHECK_WORDS.get(offer.reason, offer.reason),
            "actions": actions,
            "contact_visible": contact_details_visible(request.user, offer.application),  # R-PRIV-5
            # R-OFF-7: one extension, by the home's officers (the table of roles per act).
            "extend_url": reverse("staff:offer_extend_admission", args=[offer.pk])
            if offer.state == OfferState.ACCEPTED
            and offer.admit_by_extended_at is None
            and roles & (roles_for_transition("extend-admission") | {Role.ADMIN})
            else None,
        },
    )


# --- acts -------------------------------------------------------------------------------------------
def _next_words(decisions) -> str:
    decision = decisions[0] if decisions else None
    if decision is None:
        return ""
    if decision.chosen:
        return _("The bed was offered to %(reference)s.") % {"reference": decision.chosen.get("reference", "")}
    return _("Nobody in the queue could be offered the bed now; it stays vacant.")


def _act(action: str, offer: Offer, data: dict, actor: Actor) -> str:
    """Call the service of `action`; the words saying what happened."""
    if action == "accept":
        offer = offer_accept(offer=offer, actor=actor)
        return _("The acceptance is recorded. Admission by %(admit_by)s.") % {"admit_by": _when(offer.admit_by)}
    if action == "decline":
        offer, decisions = offer_decline(offer=offer, reason=data.get("reason", ""), actor=actor)
        return _("The decline is recorded. %(next)s") % {"next": _next_words(decisions)}
    if action == "admit":
        offer = offer_admit(offer=offer, admitted_on=data.get("admitted_on"), actor=actor)
        return _("The admission is recorded: bed %(bed)s.") % {"bed": offer.bed.code}
    offer, decisions = offer_fail_check(offer=offer, reason=data["reason"], note=data.get("note", ""), actor=actor)
    return _("The failed admission check is recorded. %(next)s") % {"next": _next_words(decisions)}


def _confirm_decline(request, offer: Offer, back: str):
    """Issue 15: the first POST shows what a decline will do (R-OFF-4: a refusal, the bed to the
    next person; R-OFF-5: at the limit the removal and the bar); only the confirming POST (with
    `confirm`) calls the service. The form token is passed on unclaimed."""
    form = DeclineForm(request.POST, prefix="decline")
    if "decline" not in _actions_for(request.user, offer):
        messages.error(
            request,
            _("A decline cannot be recorded: the offer is %(state)s.") % {"state": offer.get_state_display()},
        )
        return redirect(back)
    if not form.is_valid():
        return _render_offer(request, offer, bound=("decline", form))
    reason = form.cleaned_data.get("reason", "")
    lines = refusal_lines(offer.application, counted_as=_("The decline"))
    if offer.partner_offer_id:  # R-CPL-2: one decline is one refusal for each
        lines.append(Line(_("The spouse's joint offer is declined too, and counts as a refusal for them.")))
    lines.append(Line(_("The bed goes to the next person in the queue.")))
    return _offer_confirmation(
        request,
        offer,
        back,
        title=_("Check before recording the decline"),
        url=reverse("staff:offer_decline", args=[offer.pk]),
        submit=_("Yes, record the decline"),
        facts=[(_("What the family said"), reason)],
        consequences=lines,
        hidden=[("decline-reason", reason)],
    )


def _offer_confirmation(request, offer: Offer, back: str, *, facts: list, **page):
    """An act on an offer's confirmation page (issue 15): who, which home and bed, then `facts`."""
    return confirmation_page(
        request,
        Confirmation(
            back=back,
            back_label=_("Back to the offer"),
            no_label=_("No, go back to the offer"),
            token=request.POST.get("form_token") or form_token_issue(),
            facts=[
                (_("Reference"), offer.application.reference),
                (_("Name"), offer.application.applicant.name),
                (_("Home"), offer.facility.local_name),
                (_("Bed"), offer.bed.code),
                *facts,
            ],
            **page,
        ),
    )


FAIL_CHECK_OUTCOMES = {
    "care_need_changed": gettext_lazy(
        "The application goes back for a new assessment and leaves the queues until it is approved again."
    ),
    "other": gettext_lazy("This is not a refusal: the application waits in the queues again, keeping its place."),
}


def _confirm_fail_check(request, offer: Offer, back: str):
    """Issue 15: the first POST of a failed admission check says what it will do (a no-show is a
    refusal, R-OFF-4/5; a changed care need means a new assessment); nothing is written, the form
    token passes on unclaimed."""
    form = FailCheckForm(request.POST, prefix="fail-check")
    if "fail-check" not in _actions_for(request.user, offer):
        messages.error(
            request,
            _("A failed admission check cannot be recorded: the offer is %(state)s.")
            % {"state": offer.get_state_display()},
        )
        return redirect(back)
    if not form.is_valid():
        return _render_offer(request, offer, bound=("fail-check", form))
    reason, note = form.cleaned_data["reason"], form.cleaned_data.get("note", "")
    if reason == "no_show":
        lines = refusal_lines(offer.application, counted_as=_("Not coming"))
    else:
        lines = [Line(str(FAIL_CHECK_OUTCOMES[reason]))]
    if offer.partner_offer_id:
        lines.append(Line(_("The spouse's joint offer fails too, for the same reason.")))
    lines.append(Line(_("The bed goes to the next person in the queue.")))
    return _offer_confirmation(
        request,
        offer,
        back,
        title=_("Check before recording the failed admission check"),
        url=reverse("staff:offer_fail_check", args=[offer.pk]),
        submit=_("Yes, record the failed check"),
        facts=[(_("Why the admission check failed"), FAIL_CHECK_WORDS[reason]), (_("Note"), note)],
        consequences=lines,
        hidden=[("fail-check-reason", reason), ("fail-check-note", note)],
    )


def _take(request, pk: int, action: str):
    offer = _offer_for(request, pk)
    back = reverse("staff:offer", args=[offer.pk])
    if action == "decline" and not is_confirmed(request):
        return _confirm_decline(request, offer, back)
    if action == "fail-check" and not is_confirmed(request):
        return _confirm_fail_check(request, offer, back)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        messages.info(request, _("This was sent twice; it was done once."))
        return redirect(earlier or back)
    form = ACTION_FORMS[action](request.POST, prefix=action)
    if form.is_valid():
        try:
            message = _act(action, offer, form.cleaned_data, Actor.for_user(request.user))
        except DomainError as error:
            form.add_service_error(error)
        else:
            form_token_done(token, back)
            messages.success(request, message)
            return redirect(back)
    form_token_release(token)
    offer.refresh_from_db()
    if action not in _actions_for(request.user, offer):
        # No longer possible (answered meanwhile, say): say why, with the offer as it is now.
        messages.error(request, " ".join(form.non_field_errors()) or _("This is no longer possible."))
        return redirect(back)
    return _render_offer(request, offer, bound=(action, form))


@staff_page(*roles_for_transition("accept-offer") | roles_for_transition("decline-offer"))
@require_POST
def offer_answer(request, pk: int, action: str):
    """The family's answer: accept (R-OFF-1) or decline (a refusal, R-OFF-4)."""
    return _take(request, pk, action)


@staff_page(*roles_for_transition("admit") | roles_for_transition("fail-check"))
@require_POST
def offer_check(request, pk: int, action: str):
    """At the home: admit, or record a failed admission check."""
    return _take(request, pk, action)


ACTION_VIEWS = {"accept": offer_answer, "decline": offer_answer, "admit": offer_check, "fail-check": offer_check}

urlpatterns = [
    path("offers/", offer_list, name="offers"),
    path("offers/<int:pk>/", offer_detail, name="offer"),
    path("offers/<int:pk>/accept/", offer_answer, {"action": "accept"}, name="offer_accept"),
    path("offers/<int:pk>/decline/", offer_answer, {"action": "decline"}, name="offer_decline"),
    path("offers/<int:pk>/admit/", offer_check, {"action": "admit"}, name="offer_admit"),
    path("offers/<int:pk>/fail-check/", offer_check, {"action": "fail-check"}, name="offer_fail_check"),
]
