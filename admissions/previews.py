"""What a change after approval would do to the queue (R-CHG-2), read without writing anything.

The staff pages show, before a change is confirmed, the score and the position at each chosen home
now and as they would be after the change. The "after" entries are built in memory the way the
services of admissions/services/changes.py would store them (base score from `base_score_parts`, a
kept home keeps its `queued_at`, a new home is queued from now) and counted against the home's
queue without the application's own stored entries (`position_for_entry`, R-Q-4).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from facilities.models import Facility

from .models import Application, FacilityChoice, QueueEntry, QueueEntryStatus
from .models.applications import CHANNEL_RANK
from .selectors import Position, base_score_parts, policy_in_force, position_for_entry, positions_for_application


@dataclass(frozen=True)
class PreviewRow:
    """One home: where the application stands now (None: not chosen now) and after (None: dropped)."""

    facility: Facility
    before: Position | None
    after: Position | None

    @property
    def score_change(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after.score - self.before.score

    @property
    def position_change(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after.position - self.before.position


def change_preview(
    application: Application,
    *,
    lives_alone: bool | None = None,
    no_spouse_no_children: bool | None = None,
    spouse_resident_in: list[str] | None = None,
    choices: list[str] | None = None,
    channel: str | None = None,
    date_of_birth: dt.date | None = None,
    now: dt.datetime | None = None,
) -> list[PreviewRow]:
    """Before/after score and position at each home, for the change given by the keyword arguments
    (those left None stay as stored). `choices`: the new ordered list of facility codes."""
    now = now or timezone.now()
    policy = policy_in_force(timezone.localdate(now))
    before = {p.entry.facility_id: p for p in positions_for_application(application, now=now)}
    future = copy.copy(application)
    future.applicant = copy.copy(application.applicant)
    if lives_alone is not None:
        future.lives_alone = lives_alone
    if no_spouse_no_children is not None:
        future.no_spouse_no_children = no_spouse_no_children
    if date_of_birth is not None:
        future.applicant.date_of_birth = date_of_birth
    channel = channel or application.channel_code
    stored = {c.facility_id: c for c in application.choices.select_related("facility").order_by("rank")}
    if choices is None:
        facilities = [c.facility for c in stored.values()]
    else:
        known = {f.code: f for f in Facility.objects.filter(code__in=choices)}
        facilities = [known[code] for code in choices if code in known]
    open_entries = {
        e.facility_id: e
        for e in QueueEntry.objects.filter(application=application, status=QueueEntryStatus.OPEN).only(
            "facility_id", "queued_at"
        )
    }
    assessment = application.current_assessment
    rows = []
    for facility in facilities:
        if facility.pk in stored:
            choice = copy.copy(stored[facility.pk])
        else:
            choice = FacilityChoice(application=application, facility=facility, rank=0)
        if spouse_resident_in is not None:
            choice.spouse_resident = facility.code in spouse_resident_in
        parts = base_score_parts(application=future, assessment=assessment, choice=choice, params=policy.parameters)
        kept = open_entries.get(facility.pk)
        queued_at = kept.queued_at if kept is not None else now
        entry = QueueEntry(
            application=future,
            facility=facility,
            channel_rank=CHANNEL_RANK[channel],
            care_level=assessment.care_level,
            base_score=sum(parts.values()),
            score_parts=parts,
            policy_version=policy.version,
            queued_at=queued_at,
            queued_epoch=int(queued_at.timestamp()),
        )
        after = position_for_entry(entry, now=now, policy=policy, exclude_application_id=application.pk)
        rows.append(PreviewRow(facility=facility, before=before.get(facility.pk), after=after))
    chosen = {f.pk for f in facilities}
    for facility_id, position in before.items():
        if facility_id not in chosen:
            rows.append(PreviewRow(facility=position.entry.facility, before=position, after=None))
    return rows
