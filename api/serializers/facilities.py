"""Facilities, beds, queues and allocation decisions in the shapes of API.md ("Facilities and beds").

Input serializers parse and type the body (so the OpenAPI document says what is accepted); the
rules themselves (codes, targets, bed states, the quota) are checked by the services they feed.
Output serializers render what the selectors return.
"""

from __future__ import annotations

from rest_framework import serializers

from admissions.models.applications import Channel
from admissions.models.offers import DischargeReason
from admissions.services.beds import MAX_BATCH
from facilities.models import (
    FACILITY_CODE_VALIDATOR,
    Bed,
    BedStatus,
    BedType,
    CareLevel,
    District,
    Facility,
    FacilityLevel,
)

from .fields import PhoneField, StrictBooleanField, StrictCharField, StrictIntegerField, WrittenTextField


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


class StrictNumberField(serializers.FloatField):
    """Only a JSON number, as the schema says (DRF would also take "0.5" or true)."""

    default_error_messages = {"not_a_number": "Must be a number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_a_number")
        return super().to_internal_value(data)


# --- facility ---------------------------------------------------------------------------------
NAME_EN_HELP = "The home's name in English, shown on English pages and in English messages; blank: the Chinese name."
ADDRESS_EN_HELP = "The address in English, shown on English pages and in English messages; blank: the Chinese address."


class BedCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    in_service = serializers.IntegerField()
    nursing = serializers.IntegerField()
    general = serializers.IntegerField()
    vacant = serializers.IntegerField()
    reserved = serializers.IntegerField()
    occupied = serializers.IntegerField()
    out_of_service = serializers.IntegerField()


class QuotaSerializer(serializers.Serializer):
    """R-NQ-1 now: headroom = cap − held (never below 0); nursing_share of held beds, null when none."""

    self_care_cap = serializers.IntegerField()
    self_care_held = serializers.IntegerField()
    headroom = serializers.IntegerField()
    nursing_share = serializers.FloatField(allow_null=True)


class FacilitySerializer(serializers.Serializer):
    code = serializers.CharField(source="facility.code")
    name = serializers.CharField(source="facility.name")
    name_en = serializers.CharField(source="facility.name_en", help_text=NAME_EN_HELP)
    district = serializers.CharField(source="facility.district.code")
    level = serializers.ChoiceField(source="facility.level", choices=FacilityLevel.choices)
    address = serializers.CharField(source="facility.address")
    address_en = serializers.CharField(source="facility.address_en", help_text=ADDRESS_EN_HELP)
    phone = serializers.CharField(source="facility.phone")
    accepting_applications = serializers.BooleanField(source="facility.accepting_applications")
    nursing_target = serializers.FloatField(help_text="The target in force: the facility's own, or the policy's.")
    own_nursing_target = serializers.FloatField(
        source="facility.nursing_target",
        allow_null=True,
        help_text="The facility's own target, set by an administrator; null when the policy's is in force.",
    )
    beds = BedCountsSerializer()
    quota = QuotaSerializer()


class FacilityUpdateSerializer(serializers.Serializer):
    """PATCH: any of the writable fields. `nursing_target: null` returns to the policy's value."""

    # A name, a bed's code and a batch's prefix that DRF trims to nothing are refused: the document says
    # so (WrittenTextField's pattern), or "\x1c", blank to Python's strip(), was valid in it (issue 16).
    name = WrittenTextField(max_length=_max_length(Facility, "name"))
    name_en = StrictCharField(
        max_length=_max_length(Facility, "name_en"), allow_blank=True, required=False, help_text=NAME_EN_HELP
    )
    district = StrictCharField(max_length=_max_length(District, "code"))
    level = serializers.ChoiceField(choices=FacilityLevel.choices)
    address = StrictCharField(max_length=_max_length(Facility, "address"), allow_blank=True, required=False)
    address_en = StrictCharField(
        max_length=_max_length(Facility, "address_en"), allow_blank=True, required=False, help_text=ADDRESS_EN_HELP
    )
    phone = PhoneField(max_length=_max_length(Facility, "phone"), allow_blank=True, required=False)
    accepting_applications = StrictBooleanField(required=False)
    nursing_target = StrictNumberField(min_value=0, max_value=1, allow_null=True, required=False)


class FacilityCreateSerializer(FacilityUpdateSerializer):
    code = StrictCharField(max_length=20, validators=[FACILITY_CODE_VALIDATOR])


# --- beds -------------------------------------------------------------------------------------
class BedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    facility = serializers.CharField(source="facility.code")
    code = serializers.CharField()
    bed_type = serializers.ChoiceField(choices=BedType.choices)
    status = serializers.ChoiceField(choices=BedStatus.choices)
    occupant = serializers.CharField(allow_null=True, help_text="The reference of the occupying application.")


class BedCreateSerializer(serializers.Serializer):
    code = WrittenTextField(max_length=_max_length(Bed, "code"))
    bed_type = serializers.ChoiceField(choices=BedType.choices)


class BedBatchSerializer(serializers.Serializer):
    bed_type = serializers.ChoiceField(choices=BedType.choices)
    count = StrictIntegerField(min_value=1, max_value=MAX_BATCH)
    prefix = WrittenTextField(max_length=30, help_text="Beds are coded prefix-001, prefix-002, …")


class DischargeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DischargeReason.choices)
    date = serializers.DateField(required=False, help_text="The day the occupant left; today when left out.")


class BedReasonSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=_max_length(Bed, "out_of_service_reason"), allow_blank=True, required=False)


# --- allocation decisions (R-ALLOC-2) -------------------------------------------------------------
class ChosenSerializer(serializers.Serializer):
    reference = serializers.CharField()
    rank = serializers.IntegerField()
    score = serializers.IntegerField()


class SkippedSerializer(ChosenSerializer):
    reason = serializers.CharField(help_text="A skip reason of R-ALLOC-1, e.g. nursing_quota_full.")


class QuotaFiguresSerializer(serializers.Serializer):
    self_care_cap = serializers.IntegerField()
    self_care_held = serializers.IntegerField()


class DecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    facility = serializers.CharField(source="facility.code")
    sequence = serializers.IntegerField(help_text="1, 2, 3 … per facility: the hash chain's order.")
    bed = serializers.IntegerField(source="bed_id")
    bed_code = serializers.CharField(source="bed.code")
    made_at = serializers.DateTimeField()
    policy_version = serializers.IntegerField()
    trigger = serializers.CharField(help_text="What started the allocation (R-ALLOC-3).")
    chosen = ChosenSerializer(allow_null=True)
    skipped = SkippedSerializer(many=True)
    quota_before = QuotaFiguresSerializer()
    quota_after = QuotaFiguresSerializer()
    hash = serializers.CharField()
    previous_hash = serializers.CharField(allow_null=True)
    seq = serializers.IntegerField(source="sequence", help_text="The same as sequence (API.md's name).")
    key_id = serializers.CharField(allow_null=True, help_text="The id of the key of the keyed chain (R-VER-1).")
    keyed_hash = serializers.CharField(allow_null=True, help_text="HMAC-SHA256 under that key (R-VER-1).")
    public_hash = serializers.CharField(allow_null=True, help_text="The public log's hash (R-VER-2).")
    prev_public_hash = serializers.CharField(allow_null=True)
    last_confirmed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="R-ALLOC-2: when a later attempt last found nobody for this bed for the same reasons "
        "and quota (no new decision is written then); null if never.",
    )
    partner_decision = serializers.IntegerField(
        source="partner_decision_id",
        allow_null=True,
        help_text="On the partner's bed of a couple's joint offer, the id of the first decision (R-CPL-2).",
    )


class DischargeResultSerializer(serializers.Serializer):
    bed = BedSerializer()
    decision = DecisionSerializer(help_text="The allocation of the discharged bed (R-BED-2).")
    decisions = DecisionSerializer(
        many=True,
        help_text="Every decision the vacancy set off: several beds may be walked again (R-CPL-2, R-ALLOC-3).",
    )


class AllocateResultSerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)


# --- the queue (R-Q-2, R-Q-4) ---------------------------------------------------------------------
class ScoreBreakdownSerializer(serializers.Serializer):
    care = serializers.IntegerField()
    age = serializers.IntegerField()
    family = serializers.IntegerField()
    waiting = serializers.IntegerField()


class QueueRowSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="R-Q-4: 1 + the open entries ahead, in the whole queue.")
    reference = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    care_level = serializers.ChoiceField(choices=CareLevel.choices)
    score = serializers.IntegerField()
    score_breakdown = ScoreBreakdownSerializer()
    queued_at = serializers.DateTimeField()


class QueuePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueRowSerializer(many=True)


class QueueQuerySerializer(serializers.Serializer):
    care_level = serializers.ChoiceField(choices=CareLevel.choices, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=500, required=False)
