"""Reads for the staff reports (issue 4): queue lengths, nursing share against target, median wait
and offer outcomes.

Selectors only: every figure is counted by the database (grouped aggregates, and for a median one
ordered slice per group), never by walking a large table in Python, so the page stays quick for a
city of 200 homes and 200,000 queue entries (SPEC §11). The quota arithmetic is that of
facilities.selectors (R-NQ-1), the target in force that of admissions.selectors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from facilities.models import CareLevel, Facility
from facilities.selectors import Quota

from .dashboard import facility_figures
from .models import Channel, Occupancy, Offer, OfferState, QueueEntry, QueueEntryStatus
from .models.applications import CHANNEL_RANK

# "The last 12 months", as R-Q-5 counts admissions for the estimated wait.
REPORT_WINDOW_DAYS = 365

CHANNELS = tuple(Channel.values)  # special, priority, ordinary: the order of R-Q-2
CARE_LEVELS = tuple(CareLevel.values)  # nursing, self_care
CHANNEL_OF_RANK = {rank: channel for channel, rank in CHANNEL_RANK.items()}
# The (channel, care level) pairs a queue is counted by, in the order of R-Q-2.
QUEUE_PARTS = tuple((channel, care_level) for channel in CHANNELS for care_level in CARE_LEVELS)


def window_start(today: dt.date | None = None) -> dt.date:
    """The first day of the report window: the last 365 days up to and including today."""
    return (today or timezone.localdate()) - dt.timedelta(days=REPORT_WINDOW_DAYS - 1)


# --- queue length by channel and care level, per facility ------------------------------------------
@dataclass(frozen=True)
class QueueLengthRow:
    facility: Facility
    counts: dict[tuple[str, str], int]  # (channel, care level) → open entries

    def count(self, channel: str, care_level: str) -> int:
        return self.counts.get((channel, care_level), 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def queue_lengths(facilities: QuerySet[Facility]) -> list[QueueLengthRow]:
    """Open queue entries (R-Q-1) of each facility by channel and care level: one grouped query."""
    grouped = (
        QueueEntry.objects.filter(status=QueueEntryStatus.OPEN, facility__in=facilities)
        .values("facility_id", "channel_rank", "care_level")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[tuple[str, str], int]] = {}
    for row in grouped:  # at most facilities × 3 channels × 2 care levels rows
        key = (CHANNEL_OF_RANK[row["channel_rank"]], row["care_level"])
        counts.setdefault(row["facility_id"], {})[key] = row["n"]
    return [QueueLengthRow(facility=f, counts=counts.get(f.pk, {})) for f in facilities]


# --- nursing share against target, per facility (R-NQ-1) -------------------------------------------
@dataclass(frozen=True)
class NursingShareRow:
    facility: Facility
    quota: Quota
    own_target: bool  # the facility's own target is in force, not the policy's
    beds_in_service: int

    @property
    def held(self) -> int:
        return self.quota.self_care_held + self.quota.nursing_held

    @property
    def below_target(self) -> bool | None:
        """None while no bed is held (no share to compare)."""
        share = self.quota.nursing_share
        return None if share is None else Decimal(str(share)) < self.quota.nursing_target


def nursing_shares(facilities: QuerySet[Facility]) -> list[NursingShareRow]:
    """Each facility's held beds by the holder's care level, the target in force and the quota, in
    two queries whatever the number of facilities."""
    return [
        NursingShareRow(
            facility=figures.facility,
            quota=figures.quota,
            own_target=figures.facility.nursing_target is not None,
            beds_in_service=figures.in_service,
        )
        for figures in facility_figures(facilities)
    ]


# --- median wait of those admitted in the last 12 months ----------------------------------------------
@dataclass(frozen=True)
class WaitRow:
    channel: str | None  # None: every channel
    care_level: str | None  # None: every care level
    admitted: int
    median_days: float | None  # None when nobody was admitted


def _median_days(waits: QuerySet, count: int) -> float | None:
    """The median of the annotated `wait` by one ordered slice: the middle one or two values."""
    if count == 0:
        return None
    middle = (count - 1) // 2
    values = list(waits.order_by("wait").values_list("wait", flat=True)[middle : middle + 2 - count % 2])
    days = [value.days if isinstance(value, dt.timedelta) else int(value) for value in values]
    return sum(days) / len(days)


def median_waits(facilities: QuerySet[Facility], *, today: dt.date | None = None) -> list[WaitRow]:
    """Days from `queued_at` (its local date) to the admission date, of the applications admitted
    in the last 12 months to these facilities: by channel and care level, then all together."""
    admitted = Occupancy.objects.filter(
        facility__in=facilities,
        admitted_on__gte=window_start(today),
        application__isnull=False,
        application__queued_at__isnull=False,
    ).annotate(
        wait=ExpressionWrapper(F("admitted_on") - TruncDate("application__queued_at"), output_field=DurationField())
    )
    groups = {
        (row["application__channel_code"], row["care_level"]): row["n"]
        for row in admitted.values("application__channel_code", "care_level").annotate(n=Count("id")).order_by()
    }
    rows = []
    for channel in CHANNELS:
        for care_level in CARE_LEVELS:
            n = groups.get((channel, care_level), 0)
            group = admitted.filter(application__channel_code=channel, care_level=care_level)
            rows.append(WaitRow(channel=channel, care_level=care_level, admitted=n, median_days=_median_days(group, n)))
    total = sum(groups.values())
    rows.append(WaitRow(channel=None, care_level=None, admitted=total, median_days=_median_days(admitted, total)))
    return rows


# --- offers accepted / declined / expired in the last 12 months ----------------------------------------
@dataclass(frozen=True)
class OfferOutcomeRow:
    facility: Facility | None  # None: all facilities together
    accepted: int
    declined: int
    expired: int


def offer_outcomes(facilities: QuerySet[Facility], *, now: dt.datetime | None = None) -> list[OfferOutcomeRow]:
    """Per facility, then all together: offers accepted (whatever happened after), declined and
    expired (R-OFF-4) in the last 12 months, by the moment of the answer. One grouped query."""
    now = now or timezone.now()
    since = timezone.make_aware(dt.datetime.combine(window_start(timezone.localdate(now)), dt.time.min))
    counts = {
        row["facility_id"]: row
        for row in Offer.objects.filter(facility__in=facilities)
        .filter(Q(accepted_at__gte=since) | Q(closed_at__gte=since))
        .values("facility_id")
        .annotate(
            accepted=Count("id", filter=Q(accepted_at__gte=since)),
            declined=Count("id", filter=Q(state=OfferState.DECLINED, closed_at__gte=since)),
            expired=Count("id", filter=Q(state=OfferState.EXPIRED, closed_at__gte=since)),
        )
        .order_by()
    }
    rows = [
        OfferOutcomeRow(
            facility=facility,
            accepted=counts.get(facility.pk, {}).get("accepted", 0),
            declined=counts.get(facility.pk, {}).get("declined", 0),
            expired=counts.get(facility.pk, {}).get("expired", 0),
        )
        for facility in facilities
    ]
    rows.append(
        OfferOutcomeRow(
            facility=None,
            accepted=sum(r.accepted for r in rows),
            declined=sum(r.declined for r in rows),
            expired=sum(r.expired for r in rows),
        )
    )
    return rows
