"""Django admin for assessments: to look at, never to edit.

A completed assessment is never edited (R-ASM-4), a draft is edited and every step taken through
admissions.services.assessments (which also moves the application along), and assessments are
history, so nothing is added, changed or deleted here. The state is read-only (R-FSM-1).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from facilities.admin import ReadOnlyAdmin

from .models import Assessment


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "application_reference",
        "state",
        "assessed_on",
        "total",
        "grade",
        "care_level",
        "valid_until",
        "assessor",
        "reviewer",
    )
    list_filter = ("state", "grade", "care_level", "assessed_on")
    search_fields = ("application__reference",)
    list_select_related = ("application", "assessor", "reviewer")
    raw_id_fields = ("application", "assessor", "reviewer")
    readonly_fields = ("state", "total", "grade", "domain_totals", "care_level", "valid_until", "completed_at")
    date_hierarchy = "assessed_on"
    show_full_result_count = False

    @admin.display(description=_("application"), ordering="application__reference")
    def application_reference(self, obj) -> str:
        return obj.application.reference
