"""Queue entries: opened at approval, rescored at reassessment or under a new policy, closed when
the application ends (R-Q-1, R-Q-3)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from admissions.models import Application, QueueEntry, QueueEntryOutcome, QueueEntryStatus
from admissions.models.applications import CHANNEL_RANK
from admissions.policy import PolicyInForce
from admissions.selectors import base_score_parts

__all__ = [
    "base_score_parts",
    "entries_close",
    "entries_open_or_refresh",
    "entries_rescore",
    "entries_rescore_for_policy",
]


def entries_open_or_refresh(*, application: Application, policy: PolicyInForce) -> list[QueueEntry]:
    """One open entry per choice, with scores from the current assessment (R-Q-1). An entry that
    was closed for a reassessment reopens with its original queued_at."""
    assessment = application.current_assessment
    care_level = policy.parameters.care_level_for_grade(assessment.grade)
    if application.care_level != care_level:
        application.care_level = care_level
        Application.objects.filter(pk=application.pk).update(care_level=care_level)
    entries = []
    for choice in application.choices.select_related("facility"):
        parts = base_score_parts(
            application=application, assessment=assessment, choice=choice, params=policy.parameters
        )
        values = {
            "status": QueueEntryStatus.OPEN,
            "outcome": "",
            "closed_at": None,
            "channel_rank": CHANNEL_RANK[application.channel_code],
            # R-POL-1, R-CARE-1: the level under the policy in force, not the one the assessment
            # was written under.
            "care_level": policy.parameters.care_level_for_grade(assessment.grade),
            "base_score": sum(parts.values()),
            "score_parts": parts,
            "policy_version": policy.version,
        }
        # A home dropped before and chosen again has a new entry (R-CHG-2); the dropped one stays closed.
        entry = (
            QueueEntry.objects.filter(application=application, facility=choice.facility)
            .exclude(outcome=QueueEntryOutcome.CHOICE_DROPPED)
            .order_by("-pk")
            .first()
        )
        if entry is None:
            entry = QueueEntry.objects.create(
                application=application,
                facility=choice.facility,
                queued_at=application.queued_at,
                queued_epoch=int(application.queued_at.timestamp()),
                **values,
            )
        else:
            for name, value in values.items():
                setattr(entry, name, value)
            entry.save()
        entries.append(entry)
    return entries


def entries_rescore(*, application: Application, policy: PolicyInForce) -> list[QueueEntry]:
    """R-CHG-2: the application's open entries rescored at once from its stored data (family
    situation, categories, personal details), under `policy`: base score, channel and care level
    recomputed, `queued_at` kept."""
    assessment = application.current_assessment
    choices = {c.facility_id: c for c in application.choices.all()}
    entries = list(application.queue_entries.filter(status=QueueEntryStatus.OPEN).order_by("pk"))
    for entry in entries:
        parts = base_score_parts(
            application=application, assessment=assessment, choice=choices[entry.facility_id], params=policy.parameters
        )
        entry.score_parts = parts
        entry.base_score = sum(parts.values())
        entry.channel_rank = CHANNEL_RANK[application.channel_code]
        # R-POL-1, R-CARE-1: the level under the policy in force (the assessment keeps its own).
        entry.care_level = policy.parameters.care_level_for_grade(assessment.grade)
        entry.policy_version = policy.version
        entry.save(update_fields=["score_parts", "base_score", "channel_rank", "care_level", "policy_version"])
    return entries


def entries_close(
    *, application: Application, outcome_here: str, facility_id: int | None = None, outcome_elsewhere: str | None = None
) -> None:
    """Close every open entry, keeping the outcome (R-Q-1: entries are never deleted)."""
    now = timezone.now()
    for entry in application.queue_entries.filter(status=QueueEntryStatus.OPEN):
        here = facility_id is None or entry.facility_id == facility_id
        entry.status = QueueEntryStatus.CLOSED
        entry.outcome = outcome_here if here else (outcome_elsewhere or outcome_here)
        entry.closed_at = now
        entry.save(update_fields=["status", "outcome", "closed_at"])


def entries_rescore_for_policy(*, entries: QuerySet[QueueEntry], policy: PolicyInForce) -> int:
    """Recompute base scores of entries scored under another policy version (§9: the active
    version applies to decisions made on or after its date). Returns how many changed."""
    changed = 0
    # Two ranges rather than "not equal", so the queue_entry_policy index finds the (usually no)
    # stale entries without reading the facility's whole queue at every allocation.
    stale = (
        entries.filter(Q(policy_version__lt=policy.version) | Q(policy_version__gt=policy.version))
        .select_related("application__applicant", "application__current_assessment")
        .order_by("pk")
    )
    for entry in stale:
        application = entry.application
        choice = application.choices.get(facility_id=entry.facility_id)
        parts = base_score_parts(
            application=application, assessment=application.current_assessment, choice=choice, params=policy.parameters
        )
        entry.score_parts = parts
        entry.base_score = sum(parts.values())
        entry.policy_version = policy.version
        entry.save(update_fields=["score_parts", "base_score", "policy_version"])
        changed += 1
    return changed
