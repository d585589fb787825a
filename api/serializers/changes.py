"""Bodies of the changes after approval (API.md "Life while waiting", R-CHG-2). Only the shape is
checked here; every rule is the service's (admissions/services/changes.py)."""

from __future__ import annotations

from rest_framework import serializers

from admissions.models import Category, Sex
from admissions.models.applications import Language
from api.serializers.applications import PositionOutput
from api.serializers.fields import (
    EmailTextField,
    PhoneField,
    ReasonField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    WrittenTextField,
)

VERSION_HELP = "The version you read (or send If-Match); a stale one gets 409."
REASON_HELP = "Why; kept with the event."


class _Versioned(serializers.Serializer):
    version = StrictIntegerField(required=False, min_value=1, help_text=VERSION_HELP)


class ContactApplicantInput(serializers.Serializer):
    phone = PhoneField(max_length=30, required=False, allow_blank=True)
    email = EmailTextField(max_length=254, required=False, allow_blank=True)
    address = StrictCharField(max_length=255, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices, required=False)


class ContactPersonInput(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False, allow_blank=True)
    relation = StrictCharField(max_length=40, required=False, allow_blank=True)
    phone = PhoneField(max_length=30, required=False, allow_blank=True)
    email = EmailTextField(max_length=254, required=False, allow_blank=True)


class ContactChangeInput(_Versioned):
    applicant = ContactApplicantInput(required=False)
    contact = ContactPersonInput(required=False)
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True, help_text=REASON_HELP)


class PersonalDetailsInput(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False)
    id_number = StrictCharField(max_length=30, required=False, help_text="18 characters (GB 11643).")
    date_of_birth = serializers.DateField(required=False)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)


class PersonalDetailsChangeInput(_Versioned):
    applicant = PersonalDetailsInput()
    reason = ReasonField(help_text=REASON_HELP)


class DistrictsChangeInput(_Versioned):
    hukou_district = StrictCharField(max_length=40, required=False, help_text="A district code, or `other`.")
    residence_district = StrictCharField(max_length=40, required=False)
    reason = ReasonField(help_text=REASON_HELP)
    confirm_dropped_choices = StrictBooleanField(
        required=False,
        default=False,
        help_text="Without it, a change that would drop choices is refused with 422 listing them.",
    )


class FamilySituationChangeInput(_Versioned):
    lives_alone = StrictBooleanField()
    no_spouse_no_children = StrictBooleanField()
    spouse_resident_in = serializers.ListField(
        child=StrictCharField(max_length=20), max_length=10, help_text="Chosen homes where the spouse lives."
    )
    reason = ReasonField(help_text=REASON_HELP)


class NewCategoryClaimInput(_Versioned):
    code = serializers.ChoiceField(choices=Category.choices)
    evidence = WrittenTextField(max_length=255, help_text="A document reference (R-APP-8): a claim needs evidence.")


class CategoryVerifyInput(_Versioned):
    verified = StrictBooleanField()
    note = StrictCharField(max_length=2000, required=False, allow_blank=True)


class CategoryEndInput(_Versioned):
    reason = ReasonField(help_text=REASON_HELP)


class ChoicesChangeInput(_Versioned):
    choices = serializers.ListField(
        child=StrictCharField(max_length=20), max_length=10, allow_empty=True, help_text="Facility codes, in order."
    )
    reason = ReasonField(help_text=REASON_HELP)


class ChangedApplicationPositions(serializers.Serializer):
    """Added to the application in the answer of a change that moves the queue."""

    positions = PositionOutput(many=True)
