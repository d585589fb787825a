"""Serializers of the public API (API.md "Public"): the lookup question and answer, the homes'
public figures and the queue boards. Read-only renderings of admissions.services.lookup and
admissions.public; no rule lives here."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from admissions.models import ApplicationState, Channel, OfferState, ReviewOutcome, ReviewRequestState
from facilities.models import BedType, CareLevel, FacilityLevel

from .facilities import ADDRESS_EN_HELP, NAME_EN_HELP
from .fields import StrictCharField

# Long enough for any mistyped reference or code: within it, a wrong length or a bad character is
# the lookup's business (the same 404 as a wrong code, counted as a failure); beyond it the body is
# simply not a lookup (400).
LOOKUP_FIELD_MAX_LENGTH = 64


def inline_enum(values: list[str]):
    """A ChoiceField documented with its enum inline: several parts of the API call different
    choice sets "state", and one shared component name for them would be ambiguous."""

    @extend_schema_field({"type": "string", "enum": list(values)})
    class InlineChoiceField(serializers.ChoiceField):
        pass

    return InlineChoiceField(choices=list(values))


class PublicLookupRequestSerializer(serializers.Serializer):
    reference = StrictCharField(
        max_length=LOOKUP_FIELD_MAX_LENGTH,
        allow_blank=True,
        help_text="The application's reference, as printed on the receipt (e.g. 2026-000023).",
    )
    code = StrictCharField(
        max_length=LOOKUP_FIELD_MAX_LENGTH,
        allow_blank=True,
        help_text="The 6-character lookup code (letters and digits without 0, O, 1, I; any case).",
    )


class PublicScoreBreakdownSerializer(serializers.Serializer):
    care = serializers.IntegerField()
    age = serializers.IntegerField()
    family = serializers.IntegerField()
    waiting = serializers.IntegerField()


class PublicEstimatedWaitSerializer(serializers.Serializer):
    months_low = serializers.IntegerField()
    months_high = serializers.IntegerField()


class PublicLookupOfferSerializer(serializers.Serializer):
    facility = serializers.CharField(help_text="The home's code.")
    facility_name = serializers.CharField()
    address = serializers.CharField()
    phone = serializers.CharField()
    state = inline_enum([OfferState.PENDING, OfferState.ACCEPTED])
    respond_by = serializers.DateTimeField()
    admit_by = serializers.DateTimeField(allow_null=True, help_text="Set once the offer is accepted.")


class PublicLookupPositionSerializer(serializers.Serializer):
    facility = serializers.CharField(help_text="The home's code.")
    facility_name = serializers.CharField()
    care_level = serializers.ChoiceField(choices=CareLevel.choices)
    position = serializers.IntegerField(help_text="1 + the open entries ranked ahead (R-Q-4).")
    ahead_same_care_level = serializers.IntegerField()
    ahead_on_hold = serializers.IntegerField(help_text="Of those ahead, how many are suspended or hold an offer.")
    score = serializers.IntegerField()
    score_breakdown = PublicScoreBreakdownSerializer()
    queued_at = serializers.DateTimeField()
    estimated_wait = PublicEstimatedWaitSerializer(allow_null=True, help_text="Null when there is not enough history.")


class PublicReviewRequestSerializer(serializers.Serializer):
    """A re-review as the family sees it: no staff names (R-PUB-3)."""

    state = serializers.ChoiceField(choices=ReviewRequestState.choices)
    state_label = serializers.CharField()
    requested_at = serializers.DateTimeField()
    due_by = serializers.DateTimeField(help_text="When the decision is due.")
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices, allow_null=True)
    outcome_label = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    applied = serializers.BooleanField(
        help_text="A changed outcome has been applied (false while it waits for a live offer to end)."
    )


class PublicLookupResultSerializer(serializers.Serializer):
    reference = serializers.CharField()
    state = inline_enum(ApplicationState.values)
    state_label = serializers.CharField(help_text="The state in plain words, in the request's language.")
    applicant_name_masked = serializers.CharField(help_text="张*明: never the full name, never the ID number.")
    channel = serializers.ChoiceField(choices=Channel.choices, allow_null=True)
    channel_label = serializers.CharField(allow_null=True)
    channel_reason = serializers.CharField(allow_null=True, help_text="Why this channel, in plain words.")
    care_level = serializers.ChoiceField(choices=CareLevel.choices, allow_null=True)
    assessment_valid_until = serializers.DateField(allow_null=True)
    offer = PublicLookupOfferSerializer(allow_null=True, help_text="The live offer (pending or accepted), if any.")
    positions = PublicLookupPositionSerializer(many=True)
    next_steps = serializers.ListField(child=serializers.CharField())
    reconfirm_due = serializers.DateField(
        allow_null=True,
        help_text="R-CHG-3: while the family is asked to confirm they still want to wait, the day by which they "
        "must (past once the application is paused for want of it); otherwise, while waiting, the day of the next "
        "ask; else null.",
    )
    reconfirm_requested = serializers.BooleanField(
        help_text="The family is asked now: POST /public/reconfirm/ with the same reference and code confirms."
    )
    review_requests = PublicReviewRequestSerializer(
        source="re_reviews", many=True, help_text="Re-reviews of the assessment, newest first (R-ASM-6)."
    )


def lookup_data(result) -> dict:
    """The API's shape of a lookup's answer, which `lookup_result` caches as it is (issue 18)."""
    return dict(PublicLookupResultSerializer(result).data)


class PublicFacilitySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField(help_text=NAME_EN_HELP)
    district = serializers.CharField()
    district_name = serializers.CharField()
    level = serializers.ChoiceField(choices=FacilityLevel.choices)
    address = serializers.CharField()
    address_en = serializers.CharField(help_text=ADDRESS_EN_HELP)
    phone = serializers.CharField()
    accepting_applications = serializers.BooleanField()
    beds_in_service = serializers.IntegerField()
    vacant = serializers.IntegerField()
    queue_length = serializers.IntegerField()
    nursing_share = serializers.FloatField(
        allow_null=True, help_text="Share of held beds held by nursing-level people; null when none are held."
    )


class PublicBoardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    reference_masked = serializers.CharField(help_text="e.g. 2026-00**23")
    channel = serializers.ChoiceField(choices=Channel.choices)
    care_level = serializers.ChoiceField(choices=CareLevel.choices)
    score = serializers.IntegerField()
    queued_month = serializers.CharField(help_text="YYYY-MM")


class PublicBoardDecisionRowSerializer(serializers.Serializer):
    reference_masked = serializers.CharField()
    rank = serializers.IntegerField()
    score = serializers.IntegerField()


class PublicBoardSkippedRowSerializer(PublicBoardDecisionRowSerializer):
    reason = serializers.CharField(help_text="Why it was skipped (R-ALLOC-1), e.g. reserved_for_nursing.")


class PublicQuotaFiguresSerializer(serializers.Serializer):
    self_care_cap = serializers.IntegerField()
    self_care_held = serializers.IntegerField()


class PublicBoardDecisionSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    made_at = serializers.DateTimeField()
    bed_code = serializers.CharField()
    bed_type = serializers.ChoiceField(choices=BedType.choices)
    trigger = serializers.CharField()
    policy_version = serializers.IntegerField()
    chosen = PublicBoardDecisionRowSerializer(allow_null=True)
    skipped = PublicBoardSkippedRowSerializer(many=True)
    quota_before = PublicQuotaFiguresSerializer()
    quota_after = PublicQuotaFiguresSerializer()
    public_hash = serializers.CharField(allow_null=True, help_text="Its hash in the public log (R-VER-2).")
    prev_public_hash = serializers.CharField(allow_null=True, help_text="The hash of the decision before it.")


class PublicBoardSerializer(serializers.Serializer):
    facility = serializers.CharField()
    facility_name = serializers.CharField()
    entries = PublicBoardEntrySerializer(many=True)
    recent_decisions = PublicBoardDecisionSerializer(many=True)


# --- the verifiable log (SPEC §15) ---------------------------------------------------------------
class PublicLogRowSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="Masked, e.g. 2026-00**23.")
    rank = serializers.IntegerField()
    score = serializers.IntegerField()
    channel = serializers.CharField(allow_null=True)
    care_level = serializers.CharField(allow_null=True)


class PublicLogSkippedSerializer(PublicLogRowSerializer):
    reason = serializers.CharField(help_text="Why it was skipped (R-ALLOC-1).")


class PublicFormSerializer(serializers.Serializer):
    """Documentation of the stored public form; the view returns it exactly as stored, since its hash
    covers it byte for byte (after RFC 8785)."""

    facility = serializers.CharField()
    bed = serializers.CharField(help_text="The bed's code when the decision was made.")
    made_at = serializers.CharField(help_text="ISO 8601 with offset, as hashed.")
    policy_version = serializers.IntegerField()
    trigger = serializers.CharField(help_text="What started the allocation (R-ALLOC-3).")
    chosen = PublicLogRowSerializer(allow_null=True)
    skipped = PublicLogSkippedSerializer(many=True)
    quota_before = PublicQuotaFiguresSerializer()
    quota_after = PublicQuotaFiguresSerializer()


@extend_schema_field(PublicFormSerializer)
class StoredPublicForm(serializers.Field):
    def to_representation(self, value):
        return value


class PublicLogDecisionSerializer(serializers.Serializer):
    seq = serializers.IntegerField(source="sequence", help_text="1, 2, 3 … in the home's chain.")
    public = StoredPublicForm()
    public_hash = serializers.CharField()
    prev_public_hash = serializers.CharField(allow_null=True, help_text="Null for the home's first decision.")


class PublicCheckpointHeadSerializer(serializers.Serializer):
    facility = serializers.CharField()
    seq = serializers.IntegerField()
    public_hash = serializers.CharField()


@extend_schema_field({"type": "string", "format": "date-time"})
class SignedTimeField(serializers.CharField):
    pass


class PublicCheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    made_at = SignedTimeField(source="made_at_text", help_text="ISO 8601 with offset, exactly as signed.")
    heads = PublicCheckpointHeadSerializer(many=True)
    signature = serializers.CharField(
        help_text="base64 Ed25519 signature over the RFC 8785 form of {id, made_at, heads}."
    )
    key_id = serializers.CharField()
