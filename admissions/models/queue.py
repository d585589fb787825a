"""Queue entries (SPEC §6): one per chosen facility of an approved application.

Order (R-Q-2) is computed by the database from the columns here: `channel_rank`, the score
(`base_score` plus waiting points, which the database derives from `queued_epoch` at query time,
see admissions/selectors/queue.py), `queued_at`, then the application's reference.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from facilities.models import CareLevel, Facility


class QueueEntryStatus(models.TextChoices):
    OPEN = "open", _("open")
    CLOSED = "closed", _("closed")


class QueueEntryOutcome(models.TextChoices):
    ADMITTED = "admitted", _("admitted here")
    ADMITTED_ELSEWHERE = "admitted_elsewhere", _("admitted elsewhere")
    WITHDRAWN = "withdrawn", _("withdrawn")
    REMOVED = "removed", _("removed")
    REASSESSMENT = "reassessment", _("paused for a new assessment")
    # R-CHG-2: the home was dropped from the choices (by the reviewer, or a change of district).
    CHOICE_DROPPED = "choice_dropped", _("choice dropped")


class QueueEntry(models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="queue_entries")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="queue_entries")
    status = models.CharField(max_length=10, choices=QueueEntryStatus.choices, default=QueueEntryStatus.OPEN)
    outcome = models.CharField(max_length=20, choices=QueueEntryOutcome.choices, blank=True)
    # Copied from the application when it is approved or reassessed, so one facility's queue is
    # ordered and counted from one table with one index.
    channel_rank = models.PositiveSmallIntegerField()  # 0 special, 1 priority, 2 ordinary
    care_level = models.CharField(max_length=10, choices=CareLevel.choices)
    # R-Q-3 without the waiting points: care + age + family (spouse here counted per facility).
    base_score = models.PositiveSmallIntegerField()
    score_parts = models.JSONField(default=dict)  # {"care": 20, "age": 5, "family": 3}
    policy_version = models.PositiveIntegerField()  # the policy the base score was computed with
    queued_at = models.DateTimeField()
    # queued_at as whole seconds since the epoch: lets SQLite and PostgreSQL compute "full
    # periods since queued_at" with the same integer arithmetic.
    queued_epoch = models.BigIntegerField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["facility", "channel_rank", "-base_score", "queued_epoch"]
        verbose_name = _("queue entry")
        verbose_name_plural = _("queue entries")
        constraints = [
            # R-Q-1: one open entry per application and facility; a home chosen again after it was
            # dropped gets a new entry queued from then (R-CHG-2), beside the closed one.
            models.UniqueConstraint(
                fields=["application", "facility"],
                condition=Q(status="open"),
                name="queue_entry_open_once_per_facility",
            ),
            models.CheckConstraint(condition=Q(channel_rank__lte=2), name="queue_entry_channel_rank_valid"),
            models.CheckConstraint(
                condition=Q(status="open", outcome="") | Q(status="closed") & ~Q(outcome=""),
                name="queue_entry_closed_iff_outcome",
            ),
        ]
        indexes = [
            models.Index(
                fields=["facility", "status", "channel_rank", "-base_score", "queued_epoch"],
                name="queue_entry_order",
            ),
            models.Index(fields=["facility", "status", "care_level", "channel_rank"], name="queue_entry_care_level"),
            # Every column a position count (R-Q-4) reads, so the count over thousands of entries is
            # answered from the index alone instead of a heap page per entry (issue 7 bench).
            models.Index(
                fields=[
                    "facility",
                    "status",
                    "channel_rank",
                    "base_score",
                    "queued_epoch",
                    "queued_at",
                    "care_level",
                    "application",
                    "id",
                ],
                name="queue_entry_counts",
            ),
            # Entries scored under another policy version, looked for at every allocation (§9).
            models.Index(fields=["facility", "status", "policy_version"], name="queue_entry_policy"),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code}: {self.application.reference}"


class QueueChange(models.Model):
    """One row for each transaction (and savepoint) that changed a home's queue or anything the
    public lookup shows of it (issue 18). A home's queue version is the sum of its rows' `weight`
    (1 each as written): rows are only ever inserted, so the sum grows with every commit that
    changed the queue, and a reader never sees it go back. `queue_changes_fold` (hourly) replaces a
    home's old rows by one whose weight is theirs summed, in one transaction, so the sum (index-only,
    `queue_change_version`) reads a row or two per home however long the system runs. An UPDATE of
    one counter row per home would do the same, but a transaction changing two homes' queues in one
    order and another in the other would deadlock on those rows (an allocation at one home changes
    the on-hold counts at the applicant's other choice); inserts never wait for each other. No
    foreign-key constraint either: checking it locks the home's row (KEY SHARE), which waits behind
    every allocation holding that home FOR UPDATE and broke the one lock order of services/locks.py
    (deadlocks under concurrent allocations)."""

    facility = models.ForeignKey(
        Facility, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    weight = models.PositiveIntegerField(default=1)  # how many changes this row stands for

    class Meta:
        verbose_name = _("queue change")
        verbose_name_plural = _("queue changes")
        indexes = [models.Index(fields=["facility", "weight"], name="queue_change_version")]

    def __str__(self) -> str:
        return f"{self.facility_id}: change {self.pk}"
