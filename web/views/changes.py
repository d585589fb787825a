"""Staff pages: changes after approval (SPEC §12, R-CHG-2), reached from the application's page.

Each change is a form, then a check-your-answers page showing the old and new values and, for a
change that moves the queue, the score and position at each home now and after the change (computed
by the selector admissions.previews.change_preview, which writes nothing), then the service call
with a one-time form token and a redirect to the application (post/redirect/get). A refusal shows the
form again with the service's message on the field it names, and nothing has changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions.models import Category, CategoryStatus, Sex
from admissions.models.applications import NON_FINAL_STATES, Language
from admissions.previews import change_preview
from admissions.selectors import policy_in_force
from admissions.services import changes as services
from admissions.services.applications import channel_for
from admissions.visibility import application_visible_to
from core.actor import Actor
from core.errors import DomainError, NotFound, NotPermitted
from facilities.models import District, Facility, Role
from facilities.roles import roles_of
from web.access import staff_page
from web.forms.facilities import DateInput, FacilityServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

REASON = gettext_lazy("Reason")


class ChangeForm(FacilityServiceForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, application=None, **kwargs):
        self.application = application
        super().__init__(*args, **kwargs)


def _reason_field(label=REASON, required=True):
    return forms.CharField(label=label, max_length=2000, required=required, widget=forms.Textarea(attrs={"rows": 3}))


class ContactForm(ChangeForm):
    field_aliases = {
        "applicant.phone": "applicant_phone",
        "applicant.email": "applicant_email",
        "applicant.address": "address",
        "applicant.language": "language",
        "contact.name": "contact_name",
        "contact.relation": "contact_relation",
        "contact.phone": "contact_phone",
        "contact.email": "contact_email",
    }
    applicant_phone = forms.CharField(label=gettext_lazy("Applicant's phone"), max_length=30, required=False)
    applicant_email = forms.CharField(label=gettext_lazy("Applicant's email"), max_length=254, required=False)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=255, required=False)
    language = forms.ChoiceField(label=gettext_lazy("Language for messages"), choices=Language.choices)
    contact_name = forms.CharField(label=gettext_lazy("Contact person"), max_length=100, required=False)
    contact_relation = forms.CharField(label=gettext_lazy("Relation"), max_length=40, required=False)
    contact_phone = forms.CharField(label=gettext_lazy("Contact's phone"), max_length=30, required=False)
    contact_email = forms.CharField(label=gettext_lazy("Contact's email"), max_length=254, required=False)
    reason = _reason_field(gettext_lazy("Note (optional)"), required=False)


class PersonalDetailsForm(ChangeForm):
    field_aliases = {
        "applicant.name": "name",
        "applicant.id_number": "id_number",
        "applicant.date_of_birth": "date_of_birth",
        "applicant.sex": "sex",
    }
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    id_number = forms.CharField(
        label=gettext_lazy("New resident ID number"),
        max_length=30,
        required=False,
        help_text=gettext_lazy("Leave empty to keep the number on record."),
    )
    date_of_birth = forms.DateField(label=gettext_lazy("Date of birth"), widget=DateInput())
    sex = forms.ChoiceField(label=gettext_lazy("Sex"), choices=Sex.choices)
    reason = _reason_field()


class DistrictsForm(ChangeForm):
    hukou_district = forms.ChoiceField(label=gettext_lazy("Hukou district"))
    residence_district = forms.ChoiceField(label=gettext_lazy("Residence district"), required=False)
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        districts = [(d.code, str(d)) for d in District.objects.order_by("code")]
        self.fields["hukou_district"].choices = [*districts, ("other", _("outside the city (contributor exemption)"))]
        self.fields["residence_district"].choices = [("", "—"), *districts]


class FamilySituationForm(ChangeForm):
    lives_alone = forms.BooleanField(label=gettext_lazy("Lives alone"), required=False)
    no_spouse_no_children = forms.BooleanField(label=gettext_lazy("No spouse and no living children"), required=False)
    spouse_resident_in = forms.MultipleChoiceField(
        label=gettext_lazy("The spouse already lives in"), required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["spouse_resident_in"].choices = [
            (c.facility.code, c.facility.name) for c in self.application.choices.select_related("facility")
        ]

    def field_for_path(self, path):
        return "spouse_resident_in" if path.startswith("spouse_resident_in") else super().field_for_path(path)


class CategoryClaimForm(ChangeForm):
    code = forms.ChoiceField(label=gettext_lazy("Category"), choices=Category.choices)
    evidence = forms.CharField(label=gettext_lazy("Document reference (evidence)"), max_length=255)


class CategoryDecisionForm(ChangeForm):
    code = forms.ChoiceField(label=gettext_lazy("Category"))
    verified = forms.TypedChoiceField(
        label=gettext_lazy("Decision"),
        choices=[("yes", gettext_lazy("verified")), ("no", gettext_lazy("refused"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=gettext_lazy("Note"), max_length=2000, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        claimed = self.application.category_claims.filter(status=CategoryStatus.CLAIMED)
        self.fields["code"].choices = [(c.code, c.get_code_display()) for c in claimed]


class CategoryEndForm(ChangeForm):
    code = forms.ChoiceField(label=gettext_lazy("Category that has ended"))
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        verified = self.application.category_claims.filter(status=CategoryStatus.VERIFIED)
        self.fields["code"].choices = [(c.code, c.get_code_display()) for c in verified]


class ChoicesForm(ChangeForm):
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        homes = [("", "—")] + [(f.code, f"{f.name} ({f.code})") for f in Facility.objects.order_by("code")]
        for index in range(policy_in_force().parameters.max_choices):
            self.fields[f"choice_{index}"] = forms.ChoiceField(
                label=_("Choice %(number)s") % {"number": index + 1}, choices=homes, required=index == 0
            )
        self.order_fields([*[f for f in self.fields if f.startswith("choice_")], "reason"])

    def field_for_path(self, path):
        if path.startswith("choices."):
            name = "choice_" + path.split(".")[1]
            return name if name in self.fields else None
        return "choice_0" if path == "choices" else super().field_for_path(path)

    @property
    def codes(self) -> list[str]:
        return [v for k, v in self.cleaned_data.items() if k.startswith("choice_") and v]


# --- each change: its form, its initial values, its answers and preview, its service -------------
@dataclass(frozen=True)
class Change:
    slug: str
    title: str
    roles: tuple[str, ...]
    form: type[ChangeForm]
    initial: Callable
    act: Callable
    answers: Callable
    preview: Callable | None = None
    # R-CHG-2: contact details before a final state; personal details after approval; the rest
    # while queued (waiting or suspended).
    states: tuple[str, ...] = services.CHANGEABLE_WHILE_QUEUED


def _contact_initial(a):
    return {
        "applicant_phone": a.applicant.phone,
        "applicant_email": a.applicant.email,
        "address": a.address,
        "language": a.applicant.language,
        "contact_name": a.contact_name,
        "contact_relation": a.contact_relation,
        "contact_phone": a.contact_phone,
        "contact_email": a.contact_email,
    }


def _contact_act(application, data, **kw):
    changes = {path: data[name] for path, name in ContactForm.field_aliases.items()}
    return services.application_contact_change(application=application, changes=changes, reason=data["reason"], **kw)


def _answers_from(form, initial: dict) -> list[tuple[str, object, object]]:
    return [
        (form.fields[name].label, initial.get(name), form.cleaned_data.get(name))
        for name in initial
        if initial.get(name) != form.cleaned_data.get(name)
    ]


def _personal_act(application, data, **kw):
    changes = {"name": data["name"], "date_of_birth": data["date_of_birth"], "sex": data["sex"]}
    if data["id_number"]:
        changes["id_number"] = data["id_number"]
    return services.application_personal_details_change(
        application=application, changes=changes, reason=data["reason"], **kw
    )


def _districts_initial(a):
    return {
        "hukou_district": a.hukou_district.code if a.hukou_district else "other",
        "residence_district": a.residence_district.code if a.residence_district else "",
    }


def _districts_act(application, data, **kw):
    return services.application_districts_change(
        application=application,
        hukou_district=data["hukou_district"],
        residence_district=data["residence_district"] or None,
        reason=data["reason"],
        confirm_dropped_choices=True,  # the check-your-answers page listed them
        **kw,
    )


def _districts_preview(application, data):
    codes = {data["hukou_district"], data["residence_district"]} - {"", "other"}
    ids = dict(District.objects.filter(code__in=codes).values_list("code", "pk"))
    district_id = ids.get(data["hukou_district"])
    if data["hukou_district"] == "other":
        district_id = ids.get(data["residence_district"])
    dropped = {c.facility_id for c in services.choices_dropped_by_district(application, district_id)}
    kept = [c.facility.code for c in application.choices.select_related("facility") if c.facility_id not in dropped]
    return change_preview(application, choices=kept)


def _family_initial(a):
    return {
        "lives_alone": a.lives_alone,
        "no_spouse_no_children": a.no_spouse_no_children,
        "spouse_resident_in": [c.facility.code for c in a.choices.select_related("facility") if c.spouse_resident],
    }


def _family_act(application, data, **kw):
    return services.application_family_situation_change(
        application=application,
        lives_alone=data["lives_alone"],
        no_spouse_no_children=data["no_spouse_no_children"],
        spouse_resident_in=data["spouse_resident_in"],
        reason=data["reason"],
        **kw,
    )


def _family_preview(application, data):
    return change_preview(
        application,
        lives_alone=data["lives_alone"],
        no_spouse_no_children=data["no_spouse_no_children"],
        spouse_resident_in=data["spouse_resident_in"],
    )


def _channel_after(application, verified_codes):
    channel, _why = channel_for(
        application=application, verified_codes=verified_codes, on=timezone.localdate(), policy=policy_in_force()
    )
    return channel


def _verified_codes(application):
    return list(application.category_claims.filter(status=CategoryStatus.VERIFIED).values_list("code", flat=True))


def _verify_preview(application, data):
    codes = _verified_codes(application) + ([data["code"]] if data["verified"] else [])
    return change_preview(application, channel=_channel_after(application, codes))


def _end_preview(application, data):
    codes = [c for c in _verified_codes(application) if c != data["code"]]
    return change_preview(application, channel=_channel_after(application, codes))


def _choices_initial(a):
    return {f"choice_{i}": c.facility.code for i, c in enumerate(a.choices.select_related("facility"))}


def _choices_answers(form, application):
    old = [c.facility.code for c in application.choices.select_related("facility")]
    return [(_("Chosen homes, in order"), ", ".join(old), ", ".join(form.codes))]


def _simple_answers(form, application):
    return [
        (form.fields[name].label, "", form.cleaned_data[name])
        for name in form.fields
        if name not in ("version",) and form.cleaned_data.get(name) not in (None, "")
    ]


CHANGES = {
    change.slug: change
    for change in [
        Change(
            "contact",
            gettext_lazy("Change the contact details"),
            (Role.INTAKE,),
            ContactForm,
            _contact_initial,
            _contact_act,
            lambda form, a: _answers_from(form, _contact_initial(a)),
            states=NON_FINAL_STATES,
        ),
        Change(
            "personal-details",
            gettext_lazy("Change the personal details"),
            (Role.REVIEWER,),
            PersonalDetailsForm,
            lambda a: {"name": a.applicant.name, "date_of_birth": a.applicant.date_of_birth, "sex": a.applicant.sex},
            _personal_act,
            lambda form, a: [
                *_answers_from(
                    form,
                    {"name": a.applicant.name, "date_of_birth": a.applicant.date_of_birth, "sex": a.applicant.sex},
                ),
                *(
                    [(form.fields["id_number"].label, a.applicant.masked_id_number, form.cleaned_data["id_number"])]
                    if form.cleaned_data["id_number"]
                    else []
                ),
                (REASON, "", form.cleaned_data["reason"]),
            ],
            lambda a, data: change_preview(a, date_of_birth=data["date_of_birth"]),
            states=services.AFTER_APPROVAL,
        ),
        Change(
            "districts",
            gettext_lazy("Change the districts"),
            (Role.INTAKE,),
            DistrictsForm,
            _districts_initial,
            _districts_act,
            lambda form, a: [*_answers_from(form, _districts_initial(a)), (REASON, "", form.cleaned_data["reason"])],
            _districts_preview,
        ),
        Change(
            "family-situation",
            gettext_lazy("Change the family situation"),
            (Role.INTAKE,),
            FamilySituationForm,
            _family_initial,
            _family_act,
            lambda form, a: [*_answers_from(form, _family_initial(a)), (REASON, "", form.cleaned_data["reason"])],
            _family_preview,
        ),
        Change(
            "category-claim",
            gettext_lazy("Claim a new category"),
            (Role.INTAKE,),
            CategoryClaimForm,
            lambda a: {},
            lambda application, data, **kw: services.application_category_claim(
                application=application, code=data["code"], evidence=data["evidence"], **kw
            ),
            _simple_answers,
        ),
        Change(
            "category-verify",
            gettext_lazy("Verify or refuse a category claim"),
            (Role.REVIEWER,),
            CategoryDecisionForm,
            lambda a: {},
            lambda application, data, **kw: services.application_category_verify(
                application=application, code=data["code"], verified=data["verified"], note=data["note"], **kw
            ),
            _simple_answers,
            _verify_preview,
        ),
        Change(
            "category-end",
            gettext_lazy("Record that a category has ended"),
            (Role.REVIEWER,),
            CategoryEndForm,
            lambda a: {},
            lambda application, data, **kw: services.application_category_end(
                application=application, code=data["code"], reason=data["reason"], **kw
            ),
            _simple_answers,
            _end_preview,
        ),
        Change(
            "choices",
            gettext_lazy("Change the chosen homes"),
            (Role.REVIEWER,),
            ChoicesForm,
            _choices_initial,
            lambda application, data, form=None, **kw: services.application_choices_change(
                application=application, choices=form.codes, reason=data["reason"], **kw
            ),
            lambda form, a: [*_choices_answers(form, a), (REASON, "", form.cleaned_data["reason"])],
            lambda a, data, form=None: change_preview(a, choices=form.codes),
        ),
    ]
}


def change_links_for(user, application) -> list[dict]:
    """The changes this user may make to this application now (R-CHG-2), for its page."""
    roles = roles_of(user)
    if application.queued_at is None:  # before approval: the intake corrections (branch chg1)
        return []
    return [
        {"title": change.title, "url": reverse("staff:application_change", args=[application.reference, change.slug])}
        for change in CHANGES.values()
        if roles & {*change.roles, Role.ADMIN} and application.state in change.states
    ]


def _application(request, reference):
    try:
        return application_visible_to(request.user, reference)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    except NotPermitted as exc:
        raise PermissionDenied(str(exc.message)) from exc


def _call(change: Change, application, form, actor):
    data = form.cleaned_data
    kwargs = {"actor": actor, "expected_version": data["version"]}
    if change.slug == "choices":
        return change.act(application, data, form=form, **kwargs)
    return change.act(application, data, **kwargs)


def _preview(change: Change, application, form):
    if change.preview is None:
        return None
    if change.slug == "choices":
        return change.preview(application, form.cleaned_data, form=form)
    return change.preview(application, form.cleaned_data)


def _page(request, change, application, form, *, confirming=False, preview=None, answers=None):
    return render(
        request,
        "staff/applications/change_form.html",
        {
            "change": change,
            "application": application,
            "form": form,
            "confirming": confirming,
            "answers": answers or [],
            "preview": preview,
            "token": form_token_issue(),
            "back": reverse("staff:application", args=[application.reference]),
        },
    )


@staff_page(Role.INTAKE, Role.REVIEWER)
def application_change(request, reference: str, slug: str):
    """GET: the form. POST: check your answers (with the preview). POST with `confirm`: the change."""
    change = CHANGES.get(slug)
    if change is None:
        raise Http404
    if not roles_of(request.user) & ({*change.roles} | {Role.ADMIN}):
        raise PermissionDenied
    application = _application(request, reference)
    back = reverse("staff:application", args=[application.reference])
    if request.method != "POST":
        form = change.form(
            initial={**change.initial(application), "version": application.version}, application=application
        )
        return _page(request, change, application, form)
    form = change.form(request.POST, application=application)
    if not form.is_valid():
        return _page(request, change, application, form)
    if request.POST.get("confirm") != "yes":
        preview = _preview(change, application, form)
        answers = change.answers(form, application)
        return _page(request, change, application, form, confirming=True, preview=preview, answers=answers)
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        messages.info(request, _("This was sent twice; it was done once."))
        return redirect(earlier or back)
    try:
        _call(change, application, form, Actor.for_user(request.user))
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        application.refresh_from_db()
        return _page(request, change, application, form)
    form_token_done(token, back)
    messages.success(request, _("%(change)s: done.") % {"change": change.title})
    return redirect(back)


urlpatterns = [
    path("applications/<str:reference>/change/<slug:slug>/", application_change, name="application_change"),
]
