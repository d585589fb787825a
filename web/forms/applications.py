"""Forms of the staff application pages (issue 4): intake, the list's filters, the transitions.

They parse what the browser sent into what the services take, and put the services' refusals on
the fields they name (`applicant.id_number`, `choices.1`, `categories.0.evidence`, …). The rules
of SPEC §3 and §5 — identity, age, residence, choices, evidence, reasons — are checked by
admissions.services.applications, never here. What a form checks itself is only what no service
can: that a date parses, and that an uploaded file is what it claims to be before it is stored.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _

from admissions.dashboard import PossibleDuplicate
from admissions.evidence import EVIDENCE_MAX_BYTES, evidence_content_type, evidence_too_large
from admissions.identity import birth_date_from_id_number, id_number_errors, normalise_id_number, sex_from_id_number
from admissions.models import ApplicationState, Category, Channel, Sex
from admissions.models.applications import DuplicateDecision, Language
from admissions.policy import PolicyParameters
from admissions.selectors import homes_to_choose
from admissions.services.applications import STAFF_REMOVAL_REASONS, IntakeData, choice_district
from facilities.models import District, Facility, FacilityLevel
from web.forms.base import StaffForm

OTHER_DISTRICT = "other"


def _chinese() -> bool:
    return (get_language() or "zh-hans").lower().startswith("zh")


def district_name(district: District) -> str:
    return district.name_zh if _chinese() else district.name_en


# --- intake ----------------------------------------------------------------------------------------
def evidence_file_problem(upload) -> str | None:
    """What is wrong with an uploaded evidence file, or None: at most 10 MiB, and a PDF, JPEG or
    PNG by its first bytes (admissions.evidence: the API's upload applies the same rule)."""
    if evidence_too_large(upload):
        return str(
            _("The file is larger than %(size)s MiB. Scan it at a lower resolution or attach a smaller copy.")
            % {"size": EVIDENCE_MAX_BYTES // (1024 * 1024)}
        )
    if evidence_content_type(upload) is None:
        return str(_("The file must be a PDF, JPEG or PNG (checked on its content, not its name)."))
    return None


def facility_choices(homes, *, blank=True) -> list:
    """Homes for a choice's list, grouped: city level, then district level by district."""
    city, by_district = [], {}
    for facility in sorted(homes, key=lambda f: (f.name, f.code)):
        label = f"{facility.local_name} ({district_name(facility.district)})"
        if facility.level == FacilityLevel.CITY:
            city.append((facility.code, label))
        else:
            by_district.setdefault(district_name(facility.district), []).append((facility.code, label))
    groups: list = [("", _("— none —"))] if blank else []
    if city:
        groups.append((str(_("City level")), city))
    for name in sorted(by_district):
        groups.append((str(_("District level: %(district)s") % {"district": name}), by_district[name]))
    return groups


def typed_code(value) -> str:
    """A district or home code as the browser sent it, for a look-up, never longer than a code. A
    NUL never reaches here: config/malformed_input.py answers any request holding one 400 (R-SEC-1)."""
    return str(value or "")[:20]


def district_for_choices(hukou_code: str, residence_code: str) -> District | None:
    """The district whose district-level homes are listed (R-APP-7 with R-APP-3, as the service
    reads it: services.applications.choice_district), from the codes the form holds."""
    known = {d.code: d for d in District.objects.filter(code__in={hukou_code, residence_code} - {"", OTHER_DISTRICT})}
    return choice_district(known.get(hukou_code), known.get(residence_code))


class IntakeForm(StaffForm):
    """The new-application form. Every field the service checks is optional here, so that a
    refusal names every problem at once in the service's words (R-APP-1…8)."""

    # The applicant
    name = forms.CharField(label=_("Name"), max_length=100)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=30,
        help_text=_("18 characters; the last may be X. Birth date and sex are filled in from it."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=[("", _("— choose —")), *Sex.choices])
    phone = forms.CharField(
        label=_("Phone"), max_length=30, required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    # Not needed to save a draft (R-CHG-1): the service asks for it at submission.
    hukou_district = forms.ChoiceField(
        label=_("Hukou district"),
        required=False,
        help_text=_(
            "Choose “other” for a hukou outside the city: then request the contributor exemption and give the "
            "residence district."
        ),
    )
    contributor_exemption_requested = forms.BooleanField(
        label=_("Contributor exemption requested (对本市有重大贡献)"), required=False
    )
    residence_district = forms.ChoiceField(label=_("Residence district"), required=False)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    language = forms.ChoiceField(
        label=_("Language for messages to the family"), choices=Language.choices, initial=Language.ZH_HANS
    )
    lives_alone = forms.BooleanField(label=_("Lives alone (独居)"), required=False)
    no_spouse_no_children = forms.BooleanField(label=_("No spouse and no living children (孤寡)"), required=False)
    # The contact
    contact_name = forms.CharField(label=_("Contact name"), max_length=100, required=False)
    contact_relation = forms.CharField(label=_("Relation to the applicant"), max_length=40, required=False)
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=30,
        required=False,
        help_text=_("Messages to the family go to this number, or else to the applicant's phone."),
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    # Checked by the service, which names the rule (R-OFF-6); the browser checks the format first.
    contact_email = forms.CharField(
        label=_("Contact email"),
        max_length=254,
        required=False,
        help_text=_("Optional: messages to the family also go to this address by email."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # Health declarations (R-APP-4)
    no_infectious_disease = forms.BooleanField(
        label=_("Free of infectious disease, or certified non-infectious"), required=False
    )
    no_serious_mental_disorder = forms.BooleanField(
        label=_("No serious mental disorder with a risk of harm to self or others"), required=False
    )

    def __init__(
        self,
        *args,
        params: PolicyParameters | None = None,
        duplicates: list[PossibleDuplicate] = (),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        params = params or PolicyParameters()
        districts = list(District.objects.order_by("code"))
        named = [(d.code, district_name(d)) for d in districts]
        self.fields["hukou_district"].choices = [
            ("", _("— choose —")),
            *named,
            (OTHER_DISTRICT, _("other (outside the city)")),
        ]
        self.fields["residence_district"].choices = [("", _("— none —")), *named]
        for code, label in Category.choices:
            # Its evidence is shown once the box is ticked (static/css/applications.css, GOV.UK's
            # conditional reveal without a script).
            self.fields[f"category_{code}"] = forms.BooleanField(
                label=label, required=False, widget=forms.CheckboxInput(attrs={"aria-controls": f"evidence-{code}"})
            )
            self.fields[f"evidence_{code}"] = forms.CharField(
                label=_("Document reference"), max_length=255, required=False
            )
            self.fields[f"evidence_file_{code}"] = forms.FileField(
                label=_("Evidence file"),
                required=False,
                help_text=_("PDF, JPEG or PNG, at most %(size)s MiB.") % {"size": EVIDENCE_MAX_BYTES // (1024 * 1024)},
                widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
            )
        self.choice_count = params.max_choices
        # The lists offer the homes this applicant may choose (R-APP-7), and each list the home it
        # holds: a draft may hold another (R-CHG-1), and a home posted by hand reaches the service,
        # which refuses it in words on its field.
        district = district_for_choices(self._value("hukou_district"), self._value("residence_district"))
        self.district_chosen = district is not None
        allowed = list(homes_to_choose(district))
        allowed_codes = {home.code for home in allowed}
        for n in range(1, params.max_choices + 1):
            chosen = self._value(f"choice_{n}")
            kept = (
                [] if chosen in allowed_codes else list(Facility.objects.filter(code=chosen).select_related("district"))
            )
            self.fields[f"choice_{n}"] = forms.ChoiceField(
                label=_("Home choice %(n)s") % {"n": n}, required=False, choices=facility_choices([*allowed, *kept])
            )
            self.fields[f"spouse_resident_{n}"] = forms.BooleanField(
                label=_("The spouse already lives in this home"), required=False
            )
        self.fields["choice_1"].help_text = self.choice_rule(params)
        self.duplicates = list(duplicates)
        for duplicate in self.duplicates:
            pk = duplicate.application.pk
            self.fields[f"duplicate_{pk}_decision"] = forms.ChoiceField(
                label=_("Is %(reference)s the same person?") % {"reference": duplicate.application.reference},
                required=False,
                choices=[("", _("not decided yet")), *DuplicateDecision.choices],
            )
            self.fields[f"duplicate_{pk}_note"] = forms.CharField(
                label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
            )
        # Filled by clean(): which category and choice each position of the service's lists came from.
        self._category_at: list[str] = []
        self._choice_at: list[int] = []

    def _value(self, name: str) -> str:
        """What the form holds for `name`: as sent, or else as it was filled in."""
        value = self.data.get(self.add_prefix(name)) if self.is_bound else self.initial.get(name)
        return typed_code(value)

    @staticmethod
    def homes_after_district_change(query, *, choice_count: int) -> tuple[dict, list[str]]:
        """The home lists' part of the form (staff:intake_homes, htmx) after the district changed:
        its initial values, with the homes the applicant may no longer choose (R-APP-7) taken off,
        and those homes' names, to say so."""
        initial = {name: typed_code(query.get(name)) for name in ("hukou_district", "residence_district")}
        allowed = set(
            homes_to_choose(district_for_choices(initial["hukou_district"], initial["residence_district"])).values_list(
                "code", flat=True
            )
        )
        dropped = []
        for n in range(1, choice_count + 1):
            code = typed_code(query.get(f"choice_{n}"))
            spouse = query.get(f"spouse_resident_{n}") == "on"
            if code and code not in allowed:
                home = Facility.objects.filter(code=code).first()
                dropped.append(home.local_name if home else code)
                code, spouse = "", False
            initial.update({f"choice_{n}": code, f"spouse_resident_{n}": spouse})
        return initial, dropped

    @staticmethod
    def choice_rule(params: PolicyParameters) -> str:
        """R-APP-7 in words, with the numbers of the policy in force (the service enforces it)."""
        return " ".join(
            [
                ngettext(
                    "Choose %(max)s home.",
                    "Choose 1 to %(max)s homes, in order of preference.",
                    params.max_choices,
                )
                % {"max": params.max_choices},
                ngettext(
                    "At most %(city)s of them may be city level;",
                    "At most %(city)s of them may be city level;",
                    params.max_city_level_choices,
                )
                % {"city": params.max_city_level_choices},
                gettext(
                    "a district-level home must be in the applicant's own hukou district (or the residence district "
                    "under the contributor exemption). Only homes accepting applications are listed."
                ),
            ]
        )

    def enable_live_checks(self, url: str) -> None:
        """htmx: the ID number is checked as it is typed; name, birth date and phone look for
        possible duplicates when they change (staff:check_identity)."""
        include = "#id_name, #id_id_number, #id_date_of_birth, #id_sex, #id_phone, #duplicates"
        for name in ("name", "id_number", "date_of_birth", "phone"):
            attrs = self.fields[name].widget.attrs
            attrs.update({"hx-post": url, "hx-include": include, "hx-sync": "this:replace"})
            if name == "id_number":
                attrs.update({"hx-trigger": "input changed delay:600ms, change", "hx-target": "#id-check"})
            else:
                attrs.update({"hx-trigger": "change", "hx-swap": "none"})

    def enable_home_filter(self, url: str) -> None:
        """htmx: the homes' lists follow the district (R-APP-7). A change of the hukou or residence
        district asks staff:intake_homes for the "Homes chosen" part again, by GET with the district
        and home codes only (no personal data in the address, R-PRIV-2)."""
        for name in ("hukou_district", "residence_district"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": url,
                    "hx-trigger": "change",
                    "hx-target": "#homes-chosen",
                    "hx-swap": "outerHTML",
                    "hx-include": "#id_hukou_district, #id_residence_district, #homes-chosen",
                    "aria-controls": "homes-chosen",
                }
            )

    # --- the sections, for the template ---------------------------------------------------------
    def categories(self) -> list[dict]:
        return [
            {
                "code": code,
                "claimed": self[f"category_{code}"],
                "evidence": self[f"evidence_{code}"],
                "file": self[f"evidence_file_{code}"],
            }
            for code in Category.values
        ]

    def choices(self) -> list[dict]:
        return [
            {"n": n, "facility": self[f"choice_{n}"], "spouse": self[f"spouse_resident_{n}"]}
            for n in range(1, self.choice_count + 1)
        ]

    def duplicate_rows(self) -> list[dict]:
        return [
            {
                "duplicate": d,
                "decision": self[f"duplicate_{d.application.pk}_decision"],
                "note": self[f"duplicate_{d.application.pk}_note"],
            }
            for d in self.duplicates
        ]

    # --- parsing ------------------------------------------------------------------------------------
    def clean(self):
        data = super().clean()
        id_number = data.get("id_number") or ""
        # The ID number holds the birth date and sex (R-APP-1): fill in what the officer left empty.
        if id_number and not id_number_errors(id_number, date_of_birth=None, sex=None):
            if not data.get("date_of_birth") and "date_of_birth" not in self.errors:
                data["date_of_birth"] = birth_date_from_id_number(id_number)
            if not data.get("sex"):
                data["sex"] = sex_from_id_number(id_number)
        if not data.get("date_of_birth") and "date_of_birth" not in self.errors:
            self.add_error("date_of_birth", _("Enter the date of birth, or a valid ID number to fill it in."))
        for code in Category.values:
            has_evidence = data.get(f"evidence_{code}") or data.get(f"evidence_file_{code}")
            if has_evidence and not data.get(f"category_{code}"):
                self.add_error(f"category_{code}", _("Tick the category to claim it, or remove its evidence."))
            upload = data.get(f"evidence_file_{code}")
            if upload and (problem := evidence_file_problem(upload)):
                self.add_error(f"evidence_file_{code}", problem)
        for duplicate in self.duplicates:
            pk = duplicate.application.pk
            if data.get(f"duplicate_{pk}_note") and not data.get(f"duplicate_{pk}_decision"):
                self.add_error(f"duplicate_{pk}_decision", _("Choose whether it is the same person."))
        return data

    def intake_data(self) -> IntakeData:
        data = self.cleaned_data
        categories = []
        self._category_at = []
        for code in Category.values:
            if data.get(f"category_{code}"):
                self._category_at.append(code)
                categories.append(
                    {
                        "code": code,
                        "evidence": data.get(f"evidence_{code}") or "",
                        "evidence_file": data.get(f"evidence_file_{code}") or None,
                    }
                )
        choices, spouse_in = [], []
        self._choice_at = []
        for n in range(1, self.choice_count + 1):
            code = data.get(f"choice_{n}")
            if code:
                self._choice_at.append(n)
                choices.append(code)
                if data.get(f"spouse_resident_{n}"):
                    spouse_in.append(code)
        return IntakeData(
            name=data["name"],
            id_number=data["id_number"],
            date_of_birth=data["date_of_birth"],
            sex=data.get("sex") or "",
            phone=data.get("phone") or "",
            hukou_district=data.get("hukou_district") or "",
            residence_district=data.get("residence_district") or None,
            address=data.get("address") or "",
            language=data["language"],
            lives_alone=data["lives_alone"],
            no_spouse_no_children=data["no_spouse_no_children"],
            contributor_exemption_requested=data["contributor_exemption_requested"],
            contact_name=data.get("contact_name") or "",
            contact_relation=data.get("contact_relation") or "",
            contact_phone=data.get("contact_phone") or "",
            contact_email=data.get("contact_email") or "",
            no_infectious_disease=data["no_infectious_disease"],
            no_serious_mental_disorder=data["no_serious_mental_disorder"],
            categories=categories,
            choices=choices,
            spouse_resident_in=spouse_in,
        )

    def duplicate_decisions(self) -> list[dict]:
        """The possible duplicates the officer decided on, as duplicate_review_record takes them."""
        decided = []
        for duplicate in self.duplicates:
            pk = duplicate.application.pk
            decision = self.cleaned_data.get(f"duplicate_{pk}_decision")
            if decision:
                decided.append(
                    {
                        "other_reference": duplicate.application.reference,
                        "match": duplicate.match,
                        "decision": decision,
                        "note": self.cleaned_data.get(f"duplicate_{pk}_note") or "",
                        "field": f"duplicate_{pk}",
                    }
                )
        return decided

    def field_for_path(self, path: str) -> str | None:
        parts = path.split(".")
        name = None
        if parts[0] in ("applicant", "declarations") and len(parts) == 2:
            name = parts[1]
        elif parts[0] == "contact" and len(parts) == 2:
            name = f"contact_{parts[1]}"
        elif parts[0] == "choices":
            index = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else 0
            name = f"choice_{self._choice_at[index]}" if index < len(self._choice_at) else "choice_1"
        elif parts[0] == "spouse_resident_in":
            name = "spouse_resident_1"
        elif parts[0] == "categories" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(self._category_at):
                code = self._category_at[index]
                name = f"category_{code}" if parts[2] == "code" else f"evidence_{code}"
        else:
            name = path
        return name if name in self.fields else None


class CorrectionForm(IntakeForm):
    """R-CHG-1: the intake form again, to correct an application before approval or to finish a
    draft; prefilled from the stored intake (`initial_from`). The reason is asked for on the same
    form and is needed only when the ID number changes (the service says so, naming `reason`)."""

    reason = forms.CharField(
        label=_("Reason for changing the ID number"),
        required=False,
        max_length=2000,
        help_text=_("Needed only when the ID number changes. It is kept in the application's history."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The version this form was filled from: a change made meanwhile by someone else is not overwritten.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2_147_483_647)

    @staticmethod
    def initial_from(data: IntakeData, *, version: int) -> dict:
        initial = {
            "version": version,
            "name": data.name,
            "id_number": data.id_number,
            "date_of_birth": data.date_of_birth,
            "sex": data.sex,
            "phone": data.phone,
            "hukou_district": data.hukou_district,
            "contributor_exemption_requested": data.contributor_exemption_requested,
            "residence_district": data.residence_district or "",
            "address": data.address,
            "language": data.language,
            "lives_alone": data.lives_alone,
            "no_spouse_no_children": data.no_spouse_no_children,
            "contact_name": data.contact_name,
            "contact_relation": data.contact_relation,
            "contact_phone": data.contact_phone,
            "contact_email": data.contact_email,
            "no_infectious_disease": data.no_infectious_disease,
            "no_serious_mental_disorder": data.no_serious_mental_disorder,
        }
        for claim in data.categories or []:
            initial[f"category_{claim['code']}"] = True
            initial[f"evidence_{claim['code']}"] = claim.get("evidence") or ""
        spouse_in = set(data.spouse_resident_in or [])
        for n, code in enumerate(data.choices or [], start=1):
            initial[f"choice_{n}"] = code
            initial[f"spouse_resident_{n}"] = code in spouse_in
        return initial

    def keep_stored_files(self, data: IntakeData, stored: IntakeData) -> None:
        """A claim kept without a new file keeps the file it had."""
        files = {claim["code"]: claim.get("evidence_file") for claim in stored.categories or []}
        for claim in data.categories or []:
            if not claim.get("evidence_file") and files.get(claim["code"]):
                claim["evidence_file"] = files[claim["code"]]

    def mark_stored_files(self, stored: IntakeData) -> None:
        for claim in stored.categories or []:
            if claim.get("evidence_file"):
                field = self.fields[f"evidence_file_{claim['code']}"]
                field.help_text = _("A file is attached and kept; choose another only to replace it.")


# --- the list's filters -------------------------------------------------------------------------------
class ApplicationSearchForm(forms.Form):
    """The list's search and filters; values are handed to the API's filter, so both read them alike."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Part of the name, or the whole reference (e.g. 2026-000123)."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    state = forms.ChoiceField(label=_("State"), required=False)
    facility = forms.ChoiceField(label=_("Home chosen"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    district = forms.ChoiceField(label=_("District"), required=False)

    def __init__(self, *args, facilities=None, **kwargs):
        super().__init__(*args, **kwargs)
        everything = [("", _("all"))]
        self.fields["state"].choices = [*everything, *ApplicationState.choices]
        self.fields["channel"].choices = [*everything, *Channel.choices]
        homes = facilities if facilities is not None else Facility.objects.order_by("name", "code")
        self.fields["facility"].choices = [*everything, *[(f.code, f"{f.name} ({f.code})") for f in homes]]
        self.fields["district"].choices = [
            *everything,
            *[(d.code, district_name(d)) for d in District.objects.order_by("code")],
        ]

    def filters(self) -> dict[str, str]:
        """The chosen filters, without the empty ones (an invalid value is dropped, not an error page)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: value for name, value in cleaned.items() if value}


# --- the transitions on an application's page -------------------------------------------------------------
# The staff removal's reasons (SPEC §5) in words: the form's choices and its confirmation page.
REMOVAL_REASON_WORDS = {"deceased": _("deceased"), "ineligible": _("ineligible"), "other": _("other")}


class TransitionForm(StaffForm):
    """One transition's form: a reason where the transition takes one (the service says when it is
    required), and for a removal the reason code and a note."""

    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, transition: str, action: str = "", reason_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.auto_id = f"id_{transition}_%s"
        if action:  # several of these forms share a page: each label names its action
            self.fields["reason"].label = _("%(action)s: reason") % {"action": action}
        if transition == "remove":
            self.fields["reason"] = forms.ChoiceField(
                label=_("Reason for removal"),
                choices=[
                    ("", _("— choose —")),
                    *[(code, REMOVAL_REASON_WORDS.get(code, code)) for code in STAFF_REMOVAL_REASONS],
                ],
                required=False,
            )
            self.fields["note"] = forms.CharField(
                label=_("Note on the removal"),
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        if reason_required:
            self.fields["reason"].widget.attrs["required"] = True
        self.reason_required = reason_required


class DuplicateReviewForm(StaffForm):
    """R-APP-10 on the application's page: a possible duplicate confirmed or dismissed, with a note."""

    other_reference = forms.CharField(widget=forms.HiddenInput, max_length=20)
    match = forms.CharField(widget=forms.HiddenInput, max_length=10)
    decision = forms.ChoiceField(
        label=_("Same person?"), required=False, choices=[("", _("— choose —")), *DuplicateDecision.choices]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Several of these forms share one page: ids must differ.
        reference = (self.initial.get("other_reference") or self.data.get("other_reference") or "x")[:20]
        self.auto_id = f"id_duplicate_{reference}_%s"


class IdNumberSearchForm(forms.Form):
    """R-PRIV-2: a person found by their whole ID number, posted (web/views/privacy.py)."""

    id_number = forms.CharField(
        label=_("Find by resident ID number"),
        max_length=40,
        help_text=_("The whole number, 18 characters. Sent by POST, so it is kept in no address or log."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "text"}),
    )

    def clean_id_number(self):
        value = self.cleaned_data["id_number"].replace("\x00", "")
        errors = id_number_errors(value, date_of_birth=None, sex=None)
        if errors:
            raise forms.ValidationError([text for texts in errors.values() for text in texts])
        return normalise_id_number(value)
