"""Offers in and out of the API (API.md "Offers"). Shapes only: the rules are in
admissions/services/offers.py."""

from rest_framework import serializers

from admissions.models import OfferState
from admissions.services.offers import FAIL_CHECK_REASONS

from .fields import ReasonField, StrictCharField


class OfferSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    application = serializers.CharField(source="application.reference", read_only=True)
    facility = serializers.CharField(source="facility.code", read_only=True)
    bed = serializers.IntegerField(source="bed_id", read_only=True)
    bed_code = serializers.CharField(source="bed.code", read_only=True)
    state = serializers.ChoiceField(choices=OfferState.choices, read_only=True)
    made_at = serializers.DateTimeField(read_only=True)
    respond_by = serializers.DateTimeField(read_only=True)
    admit_by = serializers.DateTimeField(read_only=True, allow_null=True)
    decision = serializers.IntegerField(source="decision_id", read_only=True, help_text="The allocation decision's id.")
    partner_offer = serializers.IntegerField(
        source="partner_offer_id",
        read_only=True,
        allow_null=True,
        help_text="For a couple's joint offer, the partner's offer (R-CPL-2); otherwise null.",
    )
    overdue = serializers.BooleanField(
        read_only=True,
        help_text="Accepted, and the (extended) admission deadline has passed without an admission (R-OFF-7).",
    )


class OfferDeclineSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")


class OfferAdmitSerializer(serializers.Serializer):
    admitted_on = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="The day of admission; today when left out."
    )


class OfferExtendAdmissionSerializer(serializers.Serializer):
    reason = ReasonField(help_text="Why, e.g. a hospital stay (R-OFF-7).")
    admit_by = serializers.DateField(
        help_text="The new admission deadline (the end of that day), at most admission_extension_working_days "
        "working days after the current one (R-OFF-7)."
    )


class OfferFailCheckSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=FAIL_CHECK_REASONS)
    note = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")
