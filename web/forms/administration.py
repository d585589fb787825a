"""Forms of the staff administration pages (issue 4): policy versions, nursing targets, the
working-day calendar, users and roles, the audit trail's filter.

They parse what the browser sent into what the services take (admissions/services/policy.py,
facilities/services.py, admissions/services/calendar.py) and put the services' refusals on the
fields they name. The rules — which parameters are valid, what a target may be, which calendar
days exist — are the services', not here.

The staff users' three audited acts (create, set roles, activate or deactivate) are services in
facilities/users.py, beside roles_assign.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from admissions.models import DayKind
from admissions.policy import PolicyError, PolicyParameters
from core.errors import DomainError, InvalidInput
from facilities.models import Facility, Role
from web.forms.base import StaffForm


# --- the base form -------------------------------------------------------------------------------
class AdminForm(StaffForm):
    """A form that carries its one-time token (web.formtokens), ties each input to its help
    and its error for screen readers, and takes a service's refusal onto its fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.described_by: dict[str, list[str]] = {}
        self.describe_help()

    def describe(self, name: str, element_id: str) -> None:
        """Tie the input to an element that explains it (help or error) for screen readers."""
        ids = self.described_by.setdefault(name, [])
        if element_id not in ids:
            ids.append(element_id)
        self.fields[name].widget.attrs["aria-describedby"] = " ".join(ids)

    def describe_help(self) -> None:
        """Each field's help text (rendered by staff/field.html as `<id>_help`); call again after
        adding fields."""
        for name, field in self.fields.items():
            if field.help_text:
                self.describe(name, f"{self[name].auto_id}_help")

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                self.describe(name, f"{self[name].auto_id}_error")
                self.fields[name].widget.attrs["aria-invalid"] = "true"


def _date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- policy versions (SPEC §9) -------------------------------------------------------------------
# The scalar parameters in the order of SPEC §9, with what each means to an administrator.
POLICY_SCALARS = {
    "min_age": (_("Minimum age"), _("years")),
    "max_choices": (_("Most homes an applicant may choose"), ""),
    "max_city_level_choices": (_("Most city-level homes among the choices"), ""),
    "nursing_target": (_("Nursing target"), _("a share from 0 to 1, e.g. 0.78")),
    "nursing_min_grade": (_("Lowest grade for nursing care"), _("grade 0–4")),
    "centenarian_age": (_("Age that gives the priority channel at least"), _("years")),
    "assessment_valid_days": (_("An assessment is valid for"), _("days")),
    "reassessment_reminder_days": (_("Reassessment reminder before expiry"), _("days")),
    "offer_response_working_days": (_("Time to answer an offer"), _("working days")),
    "admission_working_days": (_("Time to be admitted after accepting"), _("working days")),
    "refusal_limit": (_("Refusals that remove an application"), ""),
    "refusal_window_days": (_("Refusals are counted over"), _("days")),
    "bar_days": (_("A removal for refusals bars the person for"), _("days")),
    "retention_years": (_("Personal data kept after the last application closed"), _("years")),
    "vacancy_alert_days": (_("The watchdog report names beds vacant for longer than"), _("days")),
    "out_of_service_alert_days": (
        _("The watchdog report names beds out of service for longer than"),
        _("days"),
    ),
    "admission_extension_working_days": (
        _("One extension of the admission deadline, at most"),
        _("working days"),
    ),
    "admission_grace_working_days": (_("A missed admission becomes a no-show after"), _("working days")),
    # R-ASM-6, R-CHG-3, R-CPL-1.
    "review_request_days": (_("A re-review may be asked for within"), _("days after the outcome")),
    "review_decision_working_days": (_("A re-review is decided within"), _("working days of the request")),
    "reconfirm_interval_days": (_("Families confirm they still want to wait every"), _("days")),
    "reconfirm_grace_days": (_("Time to confirm before the application is suspended"), _("days")),
    "couples_together": (_("Couples may ask to be placed together"), ""),
}
CARE_GRADES = ("0", "1", "2", "3", "4")
FAMILY_WEIGHTS = {
    "no_spouse_no_children": _("No spouse and no living children (孤寡)"),
    "lives_alone": _("Lives alone (独居)"),
    "spouse_resident": _("Spouse resident in this home"),
}
AGE_ROWS_EXTRA = 1  # empty rows offered for a new age band


def parameter_label(name: str) -> str:
    label = POLICY_SCALARS.get(name)
    return str(label[0]) if label else name


class PolicyForm(AdminForm):
    """A new policy version: its effective date, a note, every scalar parameter of SPEC §9 and the
    score weights of R-Q-3, filled in from the latest version. The service validates them all."""

    effective_from = forms.DateField(
        label=_("Effective from"),
        widget=_date_input(),
        help_text=_("Decisions made on or after this date use the new version; it cannot be in the past."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the policy changes, for the audit trail."),
    )

    def __init__(self, *args, parameters: PolicyParameters, **kwargs):
        super().__init__(*args, **kwargs)
        # Errors the service gives for the score weights as a whole are shown on their fieldset.
        self.score_weights_errors: list[str] = []
        initial = {}
        for name, (label, unit) in POLICY_SCALARS.items():
            if name == "nursing_target":
                field = forms.CharField(
                    label=label, help_text=unit, widget=forms.TextInput(attrs={"inputmode": "decimal"})
                )
                initial[name] = str(parameters.nursing_target)
            elif name == "couples_together":
                field = forms.BooleanField(label=label, required=False)
                initial[name] = parameters.couples_together
            else:
                field = forms.IntegerField(label=label, help_text=unit)
                initial[name] = getattr(parameters, name)
            self.fields[name] = field
        weights = parameters.score_weights
        for grade in CARE_GRADES:
            self.fields[f"care_{grade}"] = forms.IntegerField(label=_("Grade %(grade)s") % {"grade": grade})
            initial[f"care_{grade}"] = weights["care"][grade]
        self.age_rows = max(len(weights["age"]), 4) + AGE_ROWS_EXTRA
        for index in range(self.age_rows):
            band = {"band": index + 1}
            self.fields[f"age_{index}_from"] = forms.IntegerField(
                label=_("Band %(band)s: from age") % band, required=False
            )
            self.fields[f"age_{index}_points"] = forms.IntegerField(
                label=_("Band %(band)s: points") % band, required=False
            )
            if index < len(weights["age"]):
                initial[f"age_{index}_from"], initial[f"age_{index}_points"] = weights["age"][index]
        for name, label in FAMILY_WEIGHTS.items():
            self.fields[f"family_{name}"] = forms.IntegerField(label=label)
            initial[f"family_{name}"] = weights["family"][name]
        self.fields["waiting_points"] = forms.IntegerField(label=_("Points per period"))
        self.fields["waiting_period_days"] = forms.IntegerField(label=_("Period (days)"))
        initial["waiting_points"] = weights["waiting"]["points"]
        initial["waiting_period_days"] = weights["waiting"]["period_days"]
        for name, value in initial.items():
            self.initial.setdefault(name, value)
        self.describe_help()

    # Groups of fields for the template.
    def scalar_fields(self):
        return [self[name] for name in POLICY_SCALARS]

    def care_fields(self):
        return [self[f"care_{grade}"] for grade in CARE_GRADES]

    def age_fields(self):
        return [(self[f"age_{i}_from"], self[f"age_{i}_points"]) for i in range(self.age_rows)]

    def family_fields(self):
        return [self[f"family_{name}"] for name in FAMILY_WEIGHTS]

    def waiting_fields(self):
        return [self["waiting_points"], self["waiting_period_days"]]

    def clean(self):
        data = super().clean()
        for index in range(self.age_rows):
            low, points = f"age_{index}_from", f"age_{index}_points"
            if (data.get(low) is None) != (data.get(points) is None) and low not in self.errors:
                if points not in self.errors:
                    missing = points if data.get(points) is None else low
                    self.add_error(missing, gettext("Fill in both the age and the points, or neither."))
        return data

    def parameter_errors(self) -> dict[str, list[str]]:
        """The parameters judged by the policy's own validation (admissions/policy.py): for when
        policy_create refused the date before it looked at them, so both are shown in one go."""
        try:
            PolicyParameters.from_json(self.parameters())
        except PolicyError as exc:
            return {name: [message] for name, message in exc.errors.items()}
        return {}

    def add_service_error(self, error: DomainError) -> None:
        weights = error.errors.get("score_weights")
        if weights:
            self.score_weights_errors.extend(str(m) for m in weights if str(m) not in self.score_weights_errors)
            # On the form too, so it counts as refused; the summary points to the fieldset.
            self.add_error(None, gettext("The score weights are not valid: see the score weights below."))
            error = InvalidInput(error.message, errors={k: v for k, v in error.errors.items() if k != "score_weights"})
            if not error.errors:
                return
        super().add_service_error(error)

    def has_score_weights_errors(self) -> bool:
        return bool(self.score_weights_errors) or any(
            name in self.errors for name in self.fields if name.startswith(("care_", "age_", "family_", "waiting_"))
        )

    def parameters(self) -> dict:
        """What policy_create takes: every scalar, and the score weights with the age bands
        highest first (the order the bands are typed in does not matter)."""
        data = self.cleaned_data
        values = {name: data[name] for name in POLICY_SCALARS}
        bands = [
            [data[f"age_{i}_from"], data[f"age_{i}_points"]]
            for i in range(self.age_rows)
            if data.get(f"age_{i}_from") is not None
        ]
        values["score_weights"] = {
            "care": {grade: data[f"care_{grade}"] for grade in CARE_GRADES},
            "age": sorted(bands, key=lambda band: band[0], reverse=True),
            "family": {name: data[f"family_{name}"] for name in FAMILY_WEIGHTS},
            "waiting": {"points": data["waiting_points"], "period_days": data["waiting_period_days"]},
        }
        return values


# --- facility nursing targets (R-NQ-1) -------------------------------------------------------------
class NursingTargetForm(AdminForm):
    """One home's own target; the page explains it once, in the element `help_id` names."""

    facility = forms.CharField(widget=forms.HiddenInput)
    nursing_target = forms.CharField(
        label=_("Own nursing target"),
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6}),
    )

    def __init__(self, *args, help_id: str = "targets-help", **kwargs):
        super().__init__(*args, **kwargs)
        self.describe("nursing_target", help_id)

    def target(self) -> str | None:
        """The typed value for the service, which judges it; empty means the policy's value."""
        value = self.cleaned_data["nursing_target"].strip()
        return value or None


# --- the working-day calendar (R-OFF-2) ------------------------------------------------------------
class CalendarDayForm(AdminForm):
    date = forms.DateField(label=_("Date"), widget=_date_input())
    kind = forms.ChoiceField(label=_("Kind"), choices=DayKind.choices)
    name = forms.CharField(
        label=_("Holiday or working-day name"),
        required=False,
        max_length=200,
        help_text=_("For example 国庆节 National Day."),
    )


class CalendarDayDeleteForm(AdminForm):
    date = forms.DateField(widget=forms.HiddenInput)


class CalendarYearForm(AdminForm):
    year = forms.IntegerField(label=_("Year"))
    source = forms.CharField(
        label=_("Source"),
        max_length=400,
        help_text=_("Where the year's holidays come from, e.g. the State Council notice."),
    )


class CalendarYearChoice(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1, max_value=9999)


# --- users and roles ---------------------------------------------------------------------------------
def _facility_field():
    return forms.ModelChoiceField(
        label=_("Home"),
        queryset=Facility.objects.order_by("code"),
        required=False,
        empty_label=_("— none —"),
        help_text=_("A facility officer works for one home."),
    )


def _roles_field():
    return forms.MultipleChoiceField(
        label=_("Roles"), choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )


class UserCreateForm(AdminForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[get_user_model().username_validator],
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    first_name = forms.CharField(label=_("Given name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Family name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("The user changes it after logging in."),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    field_aliases = {"password": "password1"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"] = _roles_field()
        self.fields["facility"] = _facility_field()
        self.describe_help()

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") is not None and data["password1"] != data["password2"]:
            self.add_error("password2", gettext("The two passwords differ."))
        return data


class UserRolesForm(AdminForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"] = _roles_field()
        self.fields["facility"] = _facility_field()
        self.describe_help()


class UserActiveForm(AdminForm):
    active = forms.BooleanField(required=False, widget=forms.HiddenInput)


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Username or name"), required=False, max_length=150)
    role = forms.ChoiceField(label=_("Role"), required=False, choices=[("", _("Any role")), *Role.choices])


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(label=_("What changed"), required=False)

    def __init__(self, *args, object_types: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", _("Everything"))] + [(t, t) for t in object_types]
