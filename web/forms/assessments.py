"""Forms of the staff assessment pages: the GB/T 42195 form and the review page (SPEC §4, §5).

They parse what the browser sent into what the services take, and put the services' refusals on
the fields they name. The rules — which scores are valid, when an assessment may be completed,
four eyes, what the exemption needs — are the services' and assessments.grading's, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from admissions.selectors import policy_in_force
from assessments.grading import GRADE_LABELS, domain_totals, grade_for, item_errors, total_points
from assessments.instrument import CHINESE, DOMAINS, ITEMS, ITEMS_BY_CODE, MAX_TOTAL, Domain, Item
from facilities.models import CareLevel
from web.forms.base import StaffForm


def _language() -> str:
    return get_language() or CHINESE


def item_field_name(code: str) -> str:
    """ "B1.1" → "item_B1_1": a name that is also a plain HTML id."""
    return "item_" + code.replace(".", "_")


ITEM_FIELDS = {item_field_name(item.code): item for item in ITEMS}


def grade_label(grade: int | None) -> str:
    """The grade's name in the page language (GRADE_LABELS holds both)."""
    if grade is None:
        return ""
    chinese, english = GRADE_LABELS[grade]
    return chinese if _language().lower() == CHINESE else english


class TokenForm(StaffForm):
    """Every form that changes something carries its one-time token (web.formtokens). The
    service's message heads the form; a dotted path goes on a field only through `field_aliases`
    (a hidden field such as `assessment` must never swallow an error)."""

    message_heads_form = True

    def field_for_path(self, path: str) -> str | None:
        name = self.field_aliases.get(path)
        return name if name in self.fields else None


# --- the assessment form ---------------------------------------------------------------------------
class AssessmentForm(TokenForm):
    """The 26 items as radio groups, the coma box, the notes and the date. Every item may be left
    empty in a draft; completing one with items missing is refused by the service (R-ASM-3)."""

    assessed_on = forms.DateField(
        label=_("Date of the assessment"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    coma = forms.BooleanField(
        label=_("In a coma"),
        required=False,
        help_text=_("Tick only for stupor or coma, scored 0 under consciousness (B3.9)."),
    )
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        language = _language()
        for name, item in ITEM_FIELDS.items():
            self.fields[name] = forms.TypedChoiceField(
                label=f"{item.code} {item.name(language)}",
                choices=[(level.points, level.label(language)) for level in item.levels],
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
            )
        if not self.is_bound and "assessed_on" not in self.initial:
            self.initial["assessed_on"] = timezone.localdate()

    @classmethod
    def initial_from(cls, assessment) -> dict:
        initial = {item_field_name(code): points for code, points in (assessment.items or {}).items()}
        initial.update(assessed_on=assessment.assessed_on, coma=assessment.coma, notes=assessment.notes)
        return initial

    def items(self) -> dict[str, int]:
        """The scores given, item code → points: the items scored with a valid level (after
        validation, even of a form refused for another field), or those of the initial data."""
        if not self.is_bound:
            return {
                item.code: self.initial[name]
                for name, item in ITEM_FIELDS.items()
                if self.initial.get(name) is not None
            }
        data = getattr(self, "cleaned_data", {})
        return {item.code: data[name] for name, item in ITEM_FIELDS.items() if data.get(name) is not None}

    def entered_coma(self) -> bool:
        if not self.is_bound:
            return bool(self.initial.get("coma"))
        return bool(getattr(self, "cleaned_data", {}).get("coma"))

    def domains(self) -> list[dict]:
        """The item fields grouped by domain, for the template."""
        language = _language()
        return [
            {
                "domain": domain,
                "name": domain.name(language),
                "items": [self[name] for name, item in ITEM_FIELDS.items() if item.domain == domain.code],
            }
            for domain in DOMAINS
        ]

    field_aliases = {
        **{f"items.{item.code}": name for name, item in ITEM_FIELDS.items()},
        **{"coma": "coma", "assessed_on": "assessed_on", "notes": "notes"},
    }


# --- the running totals ------------------------------------------------------------------------------
@dataclass
class DomainLine:
    domain: Domain
    name: str
    points: int
    max_points: int


@dataclass
class RunningTotals:
    """What the assessor sees while filling the form: the points so far per domain and in all,
    and — once every item is scored — the grade and the care level it gives (R-ASM-1, R-ASM-2,
    R-CARE-1). All of it is computed by assessments.grading and the policy in force."""

    domains: list[DomainLine]
    total: int
    max_total: int
    scored: int
    item_count: int
    missing: list[Item]
    grade: int | None = None
    grade_label: str = ""
    care_level: str | None = None
    care_level_label: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.grade is not None


def running_totals(items: dict[str, int], *, coma: bool) -> RunningTotals:
    """The totals of the scores entered so far. An item not scored yet adds nothing, so the sums
    run up as the form fills; the grade waits for every item to be scored (R-ASM-3)."""
    language = _language()
    errors = item_errors(items, coma=coma)
    valid = {code: points for code, points in items.items() if code in ITEMS_BY_CODE and code not in errors}
    so_far = {item.code: 0 for item in ITEMS} | valid
    per_domain = domain_totals(so_far)
    total = total_points(so_far)
    missing = [item for item in ITEMS if item.code not in valid]
    result = RunningTotals(
        domains=[DomainLine(d, d.name(language), per_domain[d.code], d.max_points) for d in DOMAINS],
        total=total,
        max_total=MAX_TOTAL,
        scored=len(valid),
        item_count=len(ITEMS),
        missing=missing,
        problems=[message for code, message in errors.items() if code == "coma"],
    )
    if not errors:
        result.grade = grade_for(total, coma=coma)
        result.grade_label = grade_label(result.grade)
        result.care_level = policy_in_force().parameters.care_level_for_grade(result.grade)
        result.care_level_label = CareLevel(result.care_level).label
    return result


def frozen_totals(assessment) -> RunningTotals:
    """The totals and grade frozen at completion (R-ASM-4), in the same shape as running_totals.
    The care level is the one set at approval, or — before that — the one the grade gives under
    the policy in force."""
    language = _language()
    stored = assessment.domain_totals or {}
    care_level = assessment.care_level or policy_in_force().parameters.care_level_for_grade(assessment.grade)
    return RunningTotals(
        domains=[DomainLine(d, d.name(language), stored.get(d.code, 0), d.max_points) for d in DOMAINS],
        total=assessment.total,
        max_total=MAX_TOTAL,
        scored=len(ITEMS),
        item_count=len(ITEMS),
        missing=[],
        grade=assessment.grade,
        grade_label=grade_label(assessment.grade),
        care_level=care_level,
        care_level_label=CareLevel(care_level).label,
    )


def scored_items(assessment) -> list[dict]:
    """Every item with its score and the words of that level, grouped by domain (read-only view)."""
    language = _language()
    items = assessment.items or {}
    groups = []
    for domain in DOMAINS:
        rows = []
        for item in ITEMS:
            if item.domain != domain.code:
                continue
            points = items.get(item.code)
            level = next((lv for lv in item.levels if lv.points == points), None)
            rows.append(
                {
                    "item": item,
                    "name": item.name(language),
                    "points": points,
                    "max_points": item.max_points,
                    "level": level.label(language) if level else "",
                }
            )
        groups.append({"domain": domain, "name": domain.name(language), "rows": rows})
    return groups


# --- the review page ---------------------------------------------------------------------------------
class ReasonForm(TokenForm):
    """A reason, as the rejection of an assessment and the return for assessment need (the
    services say when it is missing)."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required: say what must change, for the assessor and the record."),
    )

    field_aliases = {"reason": "reason"}


class AssessmentDecisionForm(TokenForm):
    """Approve the completed assessment shown (four eyes: the service refuses its assessor)."""

    assessment = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class RejectAssessmentForm(ReasonForm):
    assessment = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


DECISION_CHOICES = [("verified", _("verified")), ("refused", _("refused"))]
EXEMPTION_CHOICES = [("granted", _("granted")), ("refused", _("refused"))]


class ApproveApplicationForm(TokenForm):
    """The verification of each claimed category (R-APP-8) and, when it was requested, the
    contributor exemption (R-APP-3), sent with the approval into the queue."""

    def __init__(self, *args, claims=(), exemption_requested: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.claims = list(claims)
        for claim in self.claims:
            self.fields[f"claim_{claim.pk}_decision"] = forms.ChoiceField(
                label=claim.get_code_display(), choices=DECISION_CHOICES, widget=forms.RadioSelect
            )
            self.fields[f"claim_{claim.pk}_note"] = forms.CharField(
                label=_("Note"), required=False, max_length=2000, widget=forms.TextInput
            )
        self.exemption_requested = exemption_requested
        if exemption_requested:
            self.fields["exemption_decision"] = forms.ChoiceField(
                label=_("Contributor exemption"), choices=EXEMPTION_CHOICES, widget=forms.RadioSelect, required=False
            )
            self.fields["exemption_note"] = forms.CharField(
                label=_("Note on the exemption"),
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("Refusing the exemption rejects the application."),
            )

    def claim_rows(self) -> list[dict]:
        return [
            {"claim": claim, "decision": self[f"claim_{claim.pk}_decision"], "note": self[f"claim_{claim.pk}_note"]}
            for claim in self.claims
        ]

    def categories(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "code": claim.code,
                "verified": data[f"claim_{claim.pk}_decision"] == "verified",
                "note": data.get(f"claim_{claim.pk}_note", ""),
            }
            for claim in self.claims
        ]

    def exemption(self) -> dict | None:
        if not self.exemption_requested:
            return None
        decision = self.cleaned_data.get("exemption_decision")
        granted = {"granted": True, "refused": False}.get(decision)
        return {"granted": granted, "note": self.cleaned_data.get("exemption_note", "")}

    @property
    def field_aliases(self) -> dict[str, str]:
        fields = {f"categories.{index}.code": f"claim_{claim.pk}_decision" for index, claim in enumerate(self.claims)}
        fields.update({f"categories.{index}.note": f"claim_{claim.pk}_note" for index, claim in enumerate(self.claims)})
        fields.update(exemption="exemption_decision")
        return fields
