"""Serializers of re-reviews (复核, R-ASM-6; API.md "Life while waiting, re-review, couples").

The rules (window, one per assessment, who may assess and decide) are the services'.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from admissions.models import ReviewOutcome, ReviewRequestState
from api.serializers.fields import ReasonField, StrictCharField


class ReviewRequestOutput(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.CharField(source="application.reference", help_text="The application's reference.")
    assessment = serializers.IntegerField(source="assessment_id", help_text="The assessment re-reviewed.")
    state = serializers.ChoiceField(choices=ReviewRequestState.choices)
    reason = serializers.CharField(help_text="Why the family asked.")
    requested_at = serializers.DateTimeField()
    due_by = serializers.DateTimeField(
        help_text="The end of the 20th working day after the request (review_decision_working_days)."
    )
    overdue = serializers.SerializerMethodField(help_text="Not decided and past `due_by`.")
    assessor = serializers.CharField(source="assessor.username", allow_null=True, default=None)
    new_assessment = serializers.IntegerField(
        source="new_assessment_id", allow_null=True, help_text="The re-review's assessment, once recorded."
    )
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices, allow_null=True)
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    applied = serializers.SerializerMethodField(
        help_text="A changed outcome has been applied (false while it waits for a live offer to end)."
    )

    def get_overdue(self, review_request) -> bool:
        return review_request.state != ReviewRequestState.DECIDED and review_request.due_by < timezone.now()

    def get_applied(self, review_request) -> bool:
        return review_request.applied_at is not None


class ReviewRequestCreateInput(serializers.Serializer):
    reason = ReasonField(help_text="Why the family asks for a re-review.")


class ReviewRequestAssignInput(serializers.Serializer):
    assessor = StrictCharField(max_length=150, help_text="The username of an assessor who took no part.")
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")


class ReviewRequestDecideInput(serializers.Serializer):
    assessment = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The re-review's assessment, approved by this decision.",
    )
    outcome = serializers.ChoiceField(
        choices=ReviewOutcome.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Without it: changed when the grade differs from the first assessment's, else upheld.",
    )
    reason = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
