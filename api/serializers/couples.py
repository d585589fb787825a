"""Couples in and out of the API (API.md "couples", R-CPL-1). Shapes only: the rules are in
admissions/services/couples.py."""

from rest_framework import serializers

from admissions.models import CoupleMode

from .fields import ReasonField, StrictCharField


class CoupleCreateSerializer(serializers.Serializer):
    applications = serializers.ListField(
        child=StrictCharField(max_length=40),
        min_length=2,
        max_length=2,
        help_text="The references of the two applications, in any order.",
    )
    mode = serializers.ChoiceField(choices=CoupleMode.choices)
    reason = ReasonField()


class CoupleUnlinkSerializer(serializers.Serializer):
    reason = ReasonField()


class CoupleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    applications = serializers.SerializerMethodField(help_text="The two application references.")
    mode = serializers.ChoiceField(choices=CoupleMode.choices)
    linked_at = serializers.DateTimeField()
    unlinked_at = serializers.DateTimeField(allow_null=True)

    def get_applications(self, couple) -> list[str]:
        return [m.application.reference for m in couple.members.select_related("application").order_by("id")]
