"""Serializers of the assessments part of API.md: the instrument, and assessments in and out.

Item scores are checked with the instrument's own check (assessments.grading.item_errors), so the
API, the staff form and the services agree on every range; the lifecycle rules (R-ASM-3…5, four
eyes) are the services'.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers.fields import ReasonField, StrictBooleanField, StrictCharField
from assessments.grading import GRADE_LABELS, GRADE_THRESHOLDS, item_errors
from assessments.instrument import DOMAINS, ITEMS, MAX_TOTAL
from assessments.models import AssessmentState
from facilities.models import CareLevel

ITEM_SCORES_SCHEMA = {
    "type": "object",
    "description": "Item code → whole points, within the item's range (SPEC §4). A draft may lack items.",
    "properties": {
        item.code: {"type": "integer", "minimum": item.min_points, "maximum": item.max_points} for item in ITEMS
    },
    "additionalProperties": False,
}


@extend_schema_field(ITEM_SCORES_SCHEMA)
class ItemScoresField(serializers.Field):
    """{"B1.1": 4, …}: known item codes with whole points in range; errors at `items.<code>`."""

    default_error_messages = {"not_a_dict": 'Expected an object of item code → points, not "{input_type}".'}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        errors = {f"{code!s:.20}": [message] for code, message in item_errors(data, coma=False).items() if code in data}
        if errors:
            raise serializers.ValidationError(errors)
        return dict(data)

    def to_representation(self, value):
        return dict(value or {})


class DomainTotalsOutput(serializers.Serializer):
    B1 = serializers.IntegerField()
    B2 = serializers.IntegerField()
    B3 = serializers.IntegerField()
    B4 = serializers.IntegerField()


class AssessmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.CharField(source="application.reference", help_text="The application's reference.")
    state = serializers.ChoiceField(choices=AssessmentState.choices)
    assessed_on = serializers.DateField()
    assessor = serializers.CharField(source="assessor.username")
    items = ItemScoresField()
    coma = serializers.BooleanField()
    notes = serializers.CharField()
    domain_totals = DomainTotalsOutput(allow_null=True, help_text="Null until completed.")
    total = serializers.IntegerField(allow_null=True, help_text="0–90; null until completed.")
    grade = serializers.IntegerField(allow_null=True, help_text="0–4 (R-ASM-1, R-ASM-2); null until completed.")
    care_level = serializers.ChoiceField(choices=CareLevel.choices, allow_null=True, help_text="Set at approval.")
    valid_until = serializers.DateField(allow_null=True, help_text="Set at approval (R-ASM-5).")
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True)
    rejection_reason = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class AssessmentCreateInput(serializers.Serializer):
    assessed_on = serializers.DateField()
    items = ItemScoresField(required=False, default=dict)
    coma = StrictBooleanField(default=False)
    notes = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    complete = StrictBooleanField(default=False, help_text="true completes it at once (→ `completed`).")


class AssessmentPatchInput(serializers.Serializer):
    assessed_on = serializers.DateField(required=False)
    items = ItemScoresField(required=False, help_text="Merged into the draft's items.")
    coma = StrictBooleanField(required=False)
    notes = StrictCharField(max_length=2000, required=False, allow_blank=True)


class AssessmentRejectInput(serializers.Serializer):
    reason = ReasonField()


# --- the instrument ----------------------------------------------------------------------------
LocalisedText = type(
    "LocalisedText",
    (serializers.Serializer,),
    {
        "__doc__": "The same text in Simplified Chinese and English.",
        "zh-hans": serializers.CharField(),
        "en": serializers.CharField(),
    },
)


def _text(zh: str, en: str) -> dict[str, str]:
    return {"zh-hans": zh, "en": en}


class InstrumentLevelOutput(serializers.Serializer):
    points = serializers.IntegerField()
    label = serializers.SerializerMethodField()

    @extend_schema_field(LocalisedText)
    def get_label(self, level):
        return _text(level.label_zh, level.label_en)


class InstrumentItemOutput(serializers.Serializer):
    code = serializers.CharField()
    domain = serializers.CharField()
    name = serializers.SerializerMethodField()
    min = serializers.IntegerField(source="min_points")
    max = serializers.IntegerField(source="max_points")
    levels = InstrumentLevelOutput(many=True)

    @extend_schema_field(LocalisedText)
    def get_name(self, item):
        return _text(item.name_zh, item.name_en)


class InstrumentDomainOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.SerializerMethodField()
    max = serializers.IntegerField(source="max_points")

    @extend_schema_field(LocalisedText)
    def get_name(self, domain):
        return _text(domain.name_zh, domain.name_en)


class InstrumentGradeOutput(serializers.Serializer):
    grade = serializers.IntegerField()
    min_total = serializers.IntegerField(help_text="The lowest total of this grade (R-ASM-1).")
    label = LocalisedText()


class InstrumentOutput(serializers.Serializer):
    """GB/T 42195-2022 as the assessment form shows it (SPEC §4)."""

    max_total = serializers.IntegerField()
    domains = InstrumentDomainOutput(many=True)
    items = InstrumentItemOutput(many=True)
    grades = InstrumentGradeOutput(many=True)


def instrument_document() -> dict:
    return {
        "max_total": MAX_TOTAL,
        "domains": DOMAINS,
        "items": ITEMS,
        "grades": [
            {"grade": grade, "min_total": lowest, "label": _text(*GRADE_LABELS[grade])}
            for lowest, grade in GRADE_THRESHOLDS
        ],
    }
