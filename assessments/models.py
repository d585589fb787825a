"""Care-need assessments (GB/T 42195-2022, SPEC §4).

The items themselves are data in `instrument.py`; the arithmetic is in `grading.py`. The state
changes are made by `admissions.services.assessments`, which also moves the application along.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from facilities.models import CareLevel


class AssessmentState(models.TextChoices):
    DRAFT = "draft", _("draft")
    COMPLETED = "completed", _("completed")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class Assessment(ConcurrentTransitionMixin, models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="assessments")
    state = FSMField(_("state"), default=AssessmentState.DRAFT, choices=AssessmentState.choices, protected=True)
    assessed_on = models.DateField(_("assessed on"))
    assessor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    items = models.JSONField(_("item scores"), default=dict, blank=True)
    coma = models.BooleanField(_("in a coma"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    # Computed and frozen at completion (R-ASM-4).
    domain_totals = models.JSONField(null=True, blank=True)
    total = models.PositiveSmallIntegerField(null=True, blank=True)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set at approval, from the policy in force then (R-CARE-1, R-ASM-5).
    care_level = models.CharField(max_length=10, choices=CareLevel.choices, null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-assessed_on", "-id"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            # Four eyes (R-ASM-4): the reviewer is never the assessor.
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("assessor")), name="assessment_four_eyes"
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(total__isnull=False, grade__isnull=False, total__lte=90, grade__lte=4),
                name="assessment_total_and_grade_frozen_after_draft",
            ),
            models.CheckConstraint(
                condition=~Q(state="approved") | Q(care_level__isnull=False, valid_until__isnull=False),
                name="assessment_approved_has_care_level_and_validity",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_state_display()}"

    # The transitions hold no rules of their own: the services check, then call them.
    @transition(field=state, source=AssessmentState.DRAFT, target=AssessmentState.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=state, source=AssessmentState.COMPLETED, target=AssessmentState.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=state, source=AssessmentState.COMPLETED, target=AssessmentState.REJECTED)
    def reject(self) -> None:
        pass
