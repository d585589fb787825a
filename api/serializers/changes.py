"""Bodies of the changes after approval (API.md "Life while waiting", R-CHG-2). Only the shape is
checked here; every rule is the service's (admissions/services/changes.py)."""

from __future__ import annotations

from rest_framework import serializers

from admissions.models import Category, Sex
from admissions.models.applications import Language
from api.serializers import fields
from api.serializers.applications import PositionOutput

VERSION_HELP = "The version you read (or send If-Match); a stale one gets 409."
REASON_HELP = "Why; kept with the event."


class _Versioned(serializers.Serializer):
    version = fields.StrictIntegerField(required=False, min_value=1, help_text=VERSION_HELP)


class ContactApplicantInput(serializers.Serializer):
    phone = fields.PhoneField(max_length=30, required=False, allow_blank=True)
    email = fields.EmailTextField(max_length=254, required=False, allow_blank=True)
    address = fields.StrictCharField(max_length=255, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices, required=False)


class ContactPersonInput(serializers.Serializer):
    name = fields.StrictCharField(max_length=100, required=False, allow_blank=True)
    relation = fields.StrictCharField(max_length=40, required=False, allow_blank=True)
    phone = fields.PhoneField(max_length=30, required=False, allow_blank=True)
    email = fields.EmailTextField(max_length=254, required=False, allow_blank=True)


def _one_of_these(*names: str) -> dict:
    return {"anyOf": [{"required": [name]} for name in names]}


class ContactChangeInput(_Versioned):
    applicant = ContactApplicantInput(required=False)
    contact = ContactPersonInput(required=False)
    reason = fields.StrictCharField(max_length=2000, required=False, allow_blank=True, help_text=REASON_HELP)

    # A change changes something: at least one detail of the applicant or of the contact person (the
    # service refuses a body with none, naming `applicant`), which the document says too (api/openapi.py).
    openapi_request_rule = {
        "anyOf": [
            {"required": ["applicant"], "properties": {"applicant": _one_of_these(*ContactApplicantInput().fields)}},
            {"required": ["contact"], "properties": {"contact": _one_of_these(*ContactPersonInput().fields)}},
        ]
    }


class PersonalDetailsInput(serializers.Serializer):
    name = fields.WrittenTextField(max_length=100, required=False)
    id_number = fields.StrictCharField(max_length=30, required=False, help_text="18 characters (GB 11643).")
    date_of_birth = serializers.DateField(required=False)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)


class PersonalDetailsChangeInput(_Versioned):
    applicant = PersonalDetailsInput()
    reason = fields.ReasonField(help_text=REASON_HELP)


class DistrictsChangeInput(_Versioned):
    hukou_district = fields.StrictCharField(max_length=40, required=False, help_text="A district code, or `other`.")
    residence_district = fields.StrictCharField(max_length=40, required=False)
    reason = fields.ReasonField(help_text=REASON_HELP)
    confirm_dropped_choices = fields.StrictBooleanField(
        required=False,
        default=False,
        help_text="Without it, a change that would drop choices is refused with 422 listing them.",
    )


class FamilySituationChangeInput(_Versioned):
    lives_alone = fields.StrictBooleanField()
    no_spouse_no_children = fields.StrictBooleanField()
    spouse_resident_in = serializers.ListField(
        child=fields.StrictCharField(max_length=20), max_length=10, help_text="Chosen homes where the spouse lives."
    )
    reason = fields.ReasonField(help_text=REASON_HELP)


class NewCategoryClaimInput(_Versioned):
    code = serializers.ChoiceField(choices=Category.choices)
    evidence = fields.WrittenTextField(
        max_length=255, help_text="A document reference (R-APP-8): a claim needs evidence."
    )


class CategoryVerifyInput(_Versioned):
    verified = fields.StrictBooleanField()
    note = fields.StrictCharField(max_length=2000, required=False, allow_blank=True)


class CategoryEndInput(_Versioned):
    reason = fields.ReasonField(help_text=REASON_HELP)


class ChoicesChangeInput(_Versioned):
    choices = serializers.ListField(
        child=fields.StrictCharField(max_length=20),
        max_length=10,
        allow_empty=True,
        help_text="Facility codes, in order.",
    )
    reason = fields.ReasonField(help_text=REASON_HELP)


class ChangedApplicationPositions(serializers.Serializer):
    """Added to the application in the answer of a change that moves the queue."""

    positions = PositionOutput(many=True)
