"""Staff page: one extension of an accepted offer's admission deadline (R-OFF-7), by a facility
officer of that home, with a reason; a check-your-answers step before it is recorded. The rule is the
service's (admissions/services/admission_deadline.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions.models import OfferState
from admissions.services.admission_deadline import extension_limit, offer_extend_admission
from admissions.services.transitions import roles_for_transition
from admissions.workdays import end_of_working_day
from core.actor import Actor
from core.errors import DomainError
from web.access import staff_page
from web.forms.facilities import DateInput, FacilityServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release
from web.views.offers import _offer_for


class ExtendAdmissionForm(FacilityServiceForm):
    admit_by = forms.DateField(
        label=gettext_lazy("New admission deadline"),
        widget=DateInput(),
        help_text=gettext_lazy("The admission may then be recorded until the end of that day."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (for example a hospital stay)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _when(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _page(request, offer, form, *, confirming: bool):
    extendable = offer.state == OfferState.ACCEPTED and offer.admit_by_extended_at is None
    return render(
        request,
        "staff/offers/extend_admission.html",
        {
            "offer": offer,
            "form": form,
            "confirming": confirming,
            "extendable": extendable,
            "limit": _when(extension_limit(offer)) if extendable else "",
            "new_deadline": _when(end_of_working_day(form.cleaned_data["admit_by"])) if confirming else "",
            "token": form_token_issue(),
            "back": reverse("staff:offer", args=[offer.pk]),
        },
    )


@staff_page(*roles_for_transition("extend-admission"))
def offer_extend_admission_page(request, pk: int):
    """GET: the form. POST: check your answers; POST with `confirm`: the extension is recorded."""
    offer = _offer_for(request, pk)  # 403 for another home's officer
    back = reverse("staff:offer", args=[offer.pk])
    if request.method != "POST":
        return _page(request, offer, ExtendAdmissionForm(), confirming=False)
    form = ExtendAdmissionForm(request.POST)
    if not form.is_valid():
        return _page(request, offer, form, confirming=False)
    if request.POST.get("confirm") != "yes":
        return _page(request, offer, form, confirming=True)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        messages.info(request, _("This was sent twice; it was done once."))
        return redirect(earlier or back)
    try:
        offer = offer_extend_admission(
            offer=offer,
            admit_by=form.cleaned_data["admit_by"],
            reason=form.cleaned_data["reason"],
            actor=Actor.for_user(request.user),
        )
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        offer.refresh_from_db()
        return _page(request, offer, form, confirming=False)
    form_token_done(token, back)
    messages.success(
        request, _("The admission deadline is extended to %(admit_by)s.") % {"admit_by": _when(offer.admit_by)}
    )
    return redirect(back)


urlpatterns = [
    path("offers/<int:pk>/extend-admission/", offer_extend_admission_page, name="offer_extend_admission"),
]
