"""Reads of the admission engine. The staff pages, the API and the public pages all call these,
so they can never disagree about a position, a score or a quota."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import BigIntegerField, ExpressionWrapper, F, IntegerField, Q, QuerySet, Value
from django.utils import timezone

from facilities.models import Facility
from facilities.selectors import Quota, quota_for_facility

from .models import (
    Application,
    ApplicationState,
    Occupancy,
    Policy,
    QueueEntry,
    QueueEntryStatus,
)
from .policy import PolicyInForce, PolicyParameters

BUILT_IN_POLICY = PolicyInForce(version=0, effective_from=dt.date(2000, 1, 1), parameters=PolicyParameters())
ON_HOLD_STATES = (ApplicationState.SUSPENDED, ApplicationState.OFFERED, ApplicationState.ADMISSION_CHECK)


# --- policy (SPEC §9) ---------------------------------------------------------------------------
def policy_in_force(on: dt.date | None = None) -> PolicyInForce:
    """The version with the latest `effective_from` on or before `on` (today by default)."""
    on = on or timezone.localdate()
    policy = Policy.objects.filter(effective_from__lte=on).order_by("-effective_from", "-version").first()
    if policy is None:
        return BUILT_IN_POLICY
    return PolicyInForce(
        version=policy.version,
        effective_from=policy.effective_from,
        parameters=PolicyParameters.from_json(policy.parameters),
    )


def nursing_target_in_force(facility: Facility, policy: PolicyInForce | None = None):
    """R-NQ-1: the facility's own target, or the policy's."""
    if facility.nursing_target is not None:
        return facility.nursing_target
    return (policy or policy_in_force()).parameters.nursing_target


def facility_quota(facility: Facility, policy: PolicyInForce | None = None) -> Quota:
    return quota_for_facility(facility, nursing_target=nursing_target_in_force(facility, policy))


# --- scores (R-Q-3) -----------------------------------------------------------------------------
def waiting_points(*, queued_at: dt.datetime, now: dt.datetime, params: PolicyParameters) -> int:
    """+points for every full period since queued_at. Must agree with `_score_expression`."""
    elapsed = int(now.timestamp()) - int(queued_at.timestamp())
    return max(0, elapsed // (params.waiting_period_days * 86400)) * params.waiting_points


def _score_expression(now: dt.datetime, params: PolicyParameters):
    """The score as the database computes it: the stored base score plus the waiting points.
    Integer division on both SQLite and PostgreSQL, so the two agree with `waiting_points`."""
    period = params.waiting_period_days * 86400
    full_periods = ExpressionWrapper(
        (Value(int(now.timestamp())) - F("queued_epoch")) / Value(period), output_field=BigIntegerField()
    )
    return ExpressionWrapper(F("base_score") + full_periods * Value(params.waiting_points), output_field=IntegerField())


def score_breakdown(entry: QueueEntry, *, now: dt.datetime, params: PolicyParameters) -> dict[str, int]:
    """{care, age, family, waiting}: whole numbers that add up to the score (API.md)."""
    return {
        "care": entry.score_parts.get("care", 0),
        "age": entry.score_parts.get("age", 0),
        "family": entry.score_parts.get("family", 0),
        "waiting": waiting_points(queued_at=entry.queued_at, now=now, params=params),
    }


# --- the queue (R-Q-2, R-Q-4) ---------------------------------------------------------------------
QUEUE_ORDER = ("channel_rank", "-score", "queued_at", "application__reference")


def queue_for_facility(
    facility: Facility, *, now: dt.datetime | None = None, policy: PolicyInForce | None = None
) -> QuerySet[QueueEntry]:
    """The open entries of one facility in queue order (R-Q-2), each annotated with its `score`.
    The database sorts, using the queue_entry_order index to find the facility's open entries."""
    now = now or timezone.now()
    params = (policy or policy_in_force(now.date())).parameters
    return (
        QueueEntry.objects.filter(facility=facility, status=QueueEntryStatus.OPEN)
        .annotate(score=_score_expression(now, params))
        .select_related("application", "application__current_assessment")
        .order_by(*QUEUE_ORDER)
    )


def _ahead_of(*, channel_rank: int, score: int, queued_at: dt.datetime, reference: str) -> Q:
    """Entries that rank ahead of the given sort key (R-Q-2: the order is total)."""
    return (
        Q(channel_rank__lt=channel_rank)
        | Q(channel_rank=channel_rank, score__gt=score)
        | Q(channel_rank=channel_rank, score=score, queued_at__lt=queued_at)
        | Q(channel_rank=channel_rank, score=score, queued_at=queued_at, application__reference__lt=reference)
    )


@dataclass(frozen=True)
class Position:
    entry: QueueEntry
    position: int
    ahead_same_care_level: int
    ahead_on_hold: int
    score: int
    score_breakdown: dict[str, int]
    estimated_wait: dict[str, int] | None


def position_for_entry(
    entry: QueueEntry, *, now: dt.datetime | None = None, policy: PolicyInForce | None = None
) -> Position:
    """R-Q-4 by counting in the database, never by sorting the facility's queue in Python."""
    now = now or timezone.now()
    policy = policy or policy_in_force(now.date())
    params = policy.parameters
    score = entry.base_score + waiting_points(queued_at=entry.queued_at, now=now, params=params)
    ahead = (
        QueueEntry.objects.filter(facility_id=entry.facility_id, status=QueueEntryStatus.OPEN)
        .annotate(score=_score_expression(now, params))
        .filter(
            _ahead_of(
                channel_rank=entry.channel_rank,
                score=score,
                queued_at=entry.queued_at,
                reference=entry.application.reference,
            )
        )
    )
    from django.db.models import Count

    counts = ahead.aggregate(
        total=Count("id"),
        same_care_level=Count("id", filter=Q(care_level=entry.care_level)),
        on_hold=Count("id", filter=Q(application__state__in=ON_HOLD_STATES)),
    )
    return Position(
        entry=entry,
        position=counts["total"] + 1,
        ahead_same_care_level=counts["same_care_level"],
        ahead_on_hold=counts["on_hold"],
        score=score,
        score_breakdown=score_breakdown(entry, now=now, params=params),
        estimated_wait=estimated_wait(
            facility_id=entry.facility_id,
            care_level=entry.care_level,
            ahead=counts["same_care_level"],
            today=now.date(),
        ),
    )


def positions_for_application(application: Application, *, now: dt.datetime | None = None) -> list[Position]:
    """One Position per open entry, in the order of the applicant's choices."""
    now = now or timezone.now()
    policy = policy_in_force(now.date())
    entries = (
        QueueEntry.objects.filter(application=application, status=QueueEntryStatus.OPEN)
        .select_related("facility", "application")
        .order_by("facility__code")
    )
    ranks = {c.facility_id: c.rank for c in application.choices.all()}
    ordered = sorted(entries, key=lambda e: ranks.get(e.facility_id, 99))
    return [position_for_entry(entry, now=now, policy=policy) for entry in ordered]


# --- estimated wait (R-Q-5) ---------------------------------------------------------------------
MIN_ADMISSIONS_FOR_ESTIMATE = 6


def estimated_wait(*, facility_id: int, care_level: str, ahead: int, today: dt.date) -> dict[str, int] | None:
    """Open entries ahead with the same care level ÷ that facility's admissions of that care level
    per month over the last 365 days, as a range in months; None below 6 admissions ("not enough
    history"). The range is −25 %/+25 % around the point estimate: a hint, never a promise."""
    admissions = Occupancy.objects.filter(
        facility_id=facility_id, care_level=care_level, admitted_on__gt=today - dt.timedelta(days=365)
    ).count()
    if admissions < MIN_ADMISSIONS_FOR_ESTIMATE:
        return None
    months = ahead / (admissions / 12)
    low = max(0, math.floor(months * 0.75))
    high = max(low + 1, math.ceil(months * 1.25))
    return {"months_low": low, "months_high": high}
