"""Policy, calendar and webhooks in and out of the API (API.md "Policy, calendar, events, webhooks").

Shapes and types only. What a value may be beyond its type (SPEC §9 ranges, a URL's scheme, a
secret's length) is checked by the services, which answer with the field that is wrong.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from admissions.models import DayKind, WebhookDeliveryStatus, WebhookEventType
from admissions.policy import DEFAULT_CHANNEL_MAPPING, POSITIVE_PARAMETERS
from admissions.services.calendar import FIRST_YEAR, LAST_YEAR

from .fields import StrictCharField, StrictURLField

WHOLE = {"min_value": 0, "max_value": 100_000}
POINTS = {"min_value": 0, "max_value": 1000}
CHANNELS = ["special", "priority", "ordinary"]


# --- text fields that take text only -------------------------------------------------------------
# --- policy (SPEC §9) -----------------------------------------------------------------------------
@extend_schema_field({"type": "string", "pattern": "^(special|priority|ordinary)$"})
class ChannelField(serializers.ChoiceField):
    """A channel code. Described by a pattern so the seven categories do not make seven enums."""


ChannelMappingSerializer = type(
    "ChannelMappingSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Each category's channel (R-APP-8).",
        **{category: ChannelField(choices=CHANNELS) for category in DEFAULT_CHANNEL_MAPPING},
    },
)
CareWeightsSerializer = type(
    "CareWeightsSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Points for each grade, 0 to 4 (R-Q-3).",
        **{str(grade): serializers.IntegerField(**POINTS) for grade in range(5)},
    },
)


class FamilyWeightsSerializer(serializers.Serializer):
    no_spouse_no_children = serializers.IntegerField(**POINTS)
    lives_alone = serializers.IntegerField(**POINTS)
    spouse_resident = serializers.IntegerField(**POINTS)


class WaitingWeightsSerializer(serializers.Serializer):
    points = serializers.IntegerField(**POINTS)
    period_days = serializers.IntegerField(min_value=1, max_value=1000)


class ScoreWeightsSerializer(serializers.Serializer):
    care = CareWeightsSerializer()
    age = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(**POINTS), min_length=2, max_length=2),
        max_length=20,
        help_text="[lowest age, points] pairs, highest age first.",
    )
    family = FamilyWeightsSerializer()
    waiting = WaitingWeightsSerializer()


class PolicyParametersSerializer(serializers.Serializer):
    """Every parameter of SPEC §9, as in force."""

    min_age = serializers.IntegerField(**WHOLE)
    max_choices = serializers.IntegerField(**WHOLE)
    max_city_level_choices = serializers.IntegerField(**WHOLE)
    nursing_target = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=0, max_value=1, coerce_to_string=False
    )
    nursing_min_grade = serializers.IntegerField(min_value=0, max_value=4)
    centenarian_age = serializers.IntegerField(**WHOLE)
    channel_mapping = ChannelMappingSerializer()
    score_weights = ScoreWeightsSerializer()
    assessment_valid_days = serializers.IntegerField(**WHOLE)
    reassessment_reminder_days = serializers.IntegerField(**WHOLE)
    offer_response_working_days = serializers.IntegerField(**WHOLE)
    admission_working_days = serializers.IntegerField(**WHOLE)
    refusal_limit = serializers.IntegerField(**WHOLE)
    refusal_window_days = serializers.IntegerField(**WHOLE)
    bar_days = serializers.IntegerField(**WHOLE)
    retention_years = serializers.IntegerField(
        **WHOLE, help_text="R-PRIV-3: years after a person's last application closed before they are anonymised."
    )
    vacancy_alert_days = serializers.IntegerField(**WHOLE)
    out_of_service_alert_days = serializers.IntegerField(**WHOLE)
    admission_extension_working_days = serializers.IntegerField(**WHOLE)
    admission_grace_working_days = serializers.IntegerField(**WHOLE)


class PolicyVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="0 is the built-in defaults, in force until a version is created.")
    effective_from = serializers.DateField()
    parameters = PolicyParametersSerializer()
    note = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(allow_null=True, help_text="The administrator's username.")
    created_at = serializers.DateTimeField(allow_null=True)


class PolicyOverviewSerializer(serializers.Serializer):
    active = PolicyVersionSerializer(help_text="The version in force today.")
    upcoming = PolicyVersionSerializer(many=True, help_text="Versions that take effect later, soonest first.")


class PolicyCreateSerializer(PolicyParametersSerializer):
    """`effective_from` and any parameters to change; the rest carry over from the version in force then."""

    effective_from = serializers.DateField()
    note = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")
    # A name that is not a parameter is refused (validate below): the document says so (issue 16).
    openapi_request_rule = {"additionalProperties": False}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "effective_from":
                field.required = False

    def get_fields(self):
        fields = super().get_fields()
        # What the policy refuses below 1 (admissions.policy), so the document's minimum is the same.
        for name, low in POSITIVE_PARAMETERS.items():
            if name in fields:
                fields[name] = serializers.IntegerField(
                    min_value=low, max_value=WHOLE["max_value"], required=False, help_text=fields[name].help_text
                )
        return fields

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["is not a policy parameter"] for name in unknown})
        return attrs


# --- calendar (R-OFF-2) -----------------------------------------------------------------------------
# The years the calendar keeps (admissions.services.calendar refuses any other): OpenAPI 3.0 has no
# minimum or maximum for a date, so a pattern says it, its month and day those of a date too (issue 16).
CALENDAR_DATE_PATTERN = r"^(20[0-9][0-9]|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": CALENDAR_DATE_PATTERN,
        "description": f"A date of the years {FIRST_YEAR} to {LAST_YEAR}, the years the calendar keeps.",
    }
)
class CalendarDateField(serializers.DateField):
    """A day of the calendar: a date of the years it keeps."""


class CalendarDaySerializer(serializers.Serializer):
    date = CalendarDateField()
    kind = serializers.ChoiceField(choices=DayKind.choices)
    name = StrictCharField(max_length=120, allow_blank=True, required=False, default="")


# --- webhooks -----------------------------------------------------------------------------------
class WebhookSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = StrictURLField(max_length=500, help_text="http or https.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices), min_length=1, max_length=20
    )
    secret = StrictCharField(
        write_only=True,
        min_length=16,
        max_length=200,
        trim_whitespace=False,
        help_text="Signs every body (X-Signature: sha256=<hex HMAC-SHA256>); never shown again.",
    )
    active = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField(help_text="The body's `id`: receivers dedupe on it.")
    type = serializers.CharField(help_text="One of the event types of the subscription.")
    data = serializers.DictField(source="payload")
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="The next retry, while pending.")
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
