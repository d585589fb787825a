"""Staff pages: couples (R-CPL-1, R-CPL-3). From an application's page an intake officer links it to
the spouse's application (search by reference or name, mode and reason, then check your answers) or
unlinks a couple. The rules are the service's (admissions/services/couples.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions.models import FINAL_STATES, Application, CoupleMode
from admissions.services.couples import couple_link, couple_of, couple_unlink
from admissions.visibility import application_visible_to
from core.actor import Actor
from core.errors import DomainError, NotFound
from web.access import staff_page
from web.forms.facilities import FacilityServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

MODE_HELP = gettext_lazy(
    "Placed together: both are offered beds at the same home at once, or neither. Either first: either may "
    "be placed first; the other then scores the points for a spouse living in that home."
)


class CoupleLinkForm(FacilityServiceForm):
    partner = forms.CharField(label=gettext_lazy("The spouse's application reference"), max_length=40)
    mode = forms.ChoiceField(
        label=gettext_lazy("How they are to be placed"),
        choices=CoupleMode.choices,
        widget=forms.RadioSelect,
        help_text=MODE_HELP,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (for example: married, marriage certificate seen)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CoupleUnlinkForm(FacilityServiceForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


def _visible(request, reference: str) -> Application:
    try:
        return application_visible_to(request.user, reference)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _candidates(application: Application, query: str) -> list[Application]:
    """Open applications matching the reference or part of the name, other than this one."""
    query = query.strip()
    if not query:
        return []
    return list(
        Application.objects.exclude(pk=application.pk)
        .exclude(state__in=FINAL_STATES)
        .filter(Q(reference=query) | Q(applicant__name__icontains=query))
        .select_related("applicant")
        .order_by("reference")[:20]
    )


@staff_page("intake")
def couple_link_page(request, reference: str):
    """GET: search for the spouse, then the form. POST: check your answers; POST with `confirm`: linked."""
    application = _visible(request, reference)
    back = reverse("staff:application", args=[application.reference])
    context = {"application": application, "back": back, "token": form_token_issue(), "confirming": False}
    if request.method != "POST":
        query = request.GET.get("q", "")
        partner = request.GET.get("partner", "")
        context.update(
            query=query,
            candidates=_candidates(application, query),
            form=CoupleLinkForm(initial={"partner": partner, "mode": CoupleMode.TOGETHER}) if partner else None,
        )
        return render(request, "staff/applications/couple_link.html", context)
    form = CoupleLinkForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "staff/applications/couple_link.html", context)
    partner = (
        Application.objects.filter(reference=form.cleaned_data["partner"].strip()).select_related("applicant").first()
    )
    context["partner"] = partner
    context["mode_label"] = CoupleMode(form.cleaned_data["mode"]).label
    if request.POST.get("confirm") != "yes":
        context["confirming"] = partner is not None
        if partner is None:
            form.add_error("partner", _("There is no application with this reference."))
        return render(request, "staff/applications/couple_link.html", context)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        messages.info(request, _("This was sent twice; it was done once."))
        return redirect(earlier or back)
    try:
        couple_link(
            applications=[application.reference, form.cleaned_data["partner"].strip()],
            mode=form.cleaned_data["mode"],
            reason=form.cleaned_data["reason"],
            actor=Actor.for_user(request.user),
        )
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return render(request, "staff/applications/couple_link.html", context)
    form_token_done(token, back)
    messages.success(request, _("The two applications are linked as a couple."))
    return redirect(back)


@staff_page("intake")
def couple_unlink_page(request, reference: str):
    """GET: the couple and the form. POST: check your answers; POST with `confirm`: unlinked."""
    application = _visible(request, reference)
    back = reverse("staff:application", args=[application.reference])
    view = couple_of(application)
    if view is None:
        messages.info(request, _("This application is not linked as a couple."))
        return redirect(back)
    form = CoupleUnlinkForm(request.POST if request.method == "POST" else None)
    context = {
        "application": application,
        "couple": view,
        "form": form,
        "back": back,
        "token": form_token_issue(),
        "confirming": False,
    }
    if request.method != "POST" or not form.is_valid():
        return render(request, "staff/applications/couple_unlink.html", context)
    if request.POST.get("confirm") != "yes":
        context["confirming"] = True
        return render(request, "staff/applications/couple_unlink.html", context)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        messages.info(request, _("This was sent twice; it was done once."))
        return redirect(earlier or back)
    try:
        couple_unlink(couple=view.couple, reason=form.cleaned_data["reason"], actor=Actor.for_user(request.user))
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return render(request, "staff/applications/couple_unlink.html", context)
    form_token_done(token, back)
    messages.success(request, _("The couple is unlinked."))
    return redirect(back)


urlpatterns = [
    path("applications/<str:reference>/couple/link/", couple_link_page, name="couple_link"),
    path("applications/<str:reference>/couple/unlink/", couple_unlink_page, name="couple_unlink"),
]
