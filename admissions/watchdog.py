"""The watchdog report for the bureau (R-WATCH-1, SPEC §14): the product's answer to queue-jumping.

One selector module: the staff page, its CSV/XLSX downloads, the API (`GET /reports/watchdog/`) and
the monthly task all read these functions, so they never disagree. For each figure, per facility
and for the city:

- `long_vacant`: beds vacant for longer than `vacancy_alert_days` (§9: 14) while the facility's
  queue has a candidate for them: a waiting application (not suspended, not holding an offer) whose
  care level may take the bed's type (R-NQ-2: a general bed only a self-care applicant; a nursing bed
  anyone). Today's state, whatever the period.
- `long_out_of_service`: beds out of service for longer than `out_of_service_alert_days` (§9: 30).
  Today's state.
- `failed_checks`: offers accepted and then failed at the admission check in the period, with the
  reason (no_show, care_need_changed, other) and the officer who recorded it (from the event).
- `out_of_order`: admissions in the period of people who were not first in the order when the bed
  was allocated (the decision's chosen rank > 1), with the skip reasons of those passed over.
- `manual_allocations` / `automatic_allocations`: allocation decisions in the period started by a
  staff member's "allocate now" (trigger `staff_request`) against all others (R-ALLOC-3).
- time from approval (`queued_at`) to first offer, of the applications first offered a bed in the
  period: median and 90th percentile in days, by channel and care level (city) and per facility.
- `overdue_admissions`: accepted offers whose `admit_by` has passed without an admission (R-OFF-7).
  Today's state.
- `unconfirmed` (R-CHG-3): open queue entries whose family was asked to confirm they still want
  to wait and has not answered, or whose application is suspended `not_reconfirmed`. Today's state.
- `re_reviews` (R-ASM-6): re-reviews not decided by their due date, counted at each home the
  application chose (once for the city). Today's state.

Every count is a grouped query; only the rows of the period's events (failed checks, out-of-order
admissions, first offers) are read into Python, to match events, summarise skip reasons and take
percentiles the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from facilities.models import Bed, BedStatus, BedType, CareLevel, Facility

from .dashboard import admissions_overdue
from .models import (
    AllocationDecision,
    ApplicationEvent,
    ApplicationState,
    Channel,
    Occupancy,
    Offer,
    OfferState,
    ReviewRequest,
    ReviewRequestState,
)
from .models.queue import QueueEntry, QueueEntryStatus
from .models.reconfirmation import unconfirmed_applications
from .policy import PolicyParameters
from .selectors import policy_in_force

MANUAL_TRIGGER = "staff_request"  # "allocate now" on the facility page and the API (R-ALLOC-3)
FAIL_CHECK_TRANSITIONS = ("fail_admission_check", "fail_admission_check_care_need_changed")
FAIL_CHECK_REASONS = ("no_show", "care_need_changed", "other")
MAX_PERIOD_DAYS = 366  # a period is at most a year: the report is monthly, or on demand for a stretch

# The figures, in the order the report shows them.
FIGURES = (
    "long_vacant",
    "long_out_of_service",
    "failed_checks",
    "out_of_order",
    "manual_allocations",
    "automatic_allocations",
    "overdue_admissions",
    "unconfirmed",
    "re_reviews",
)
# Figures that describe today, not the period.
AS_OF_TODAY = frozenset({"long_vacant", "long_out_of_service", "overdue_admissions", "unconfirmed", "re_reviews"})
# Figures no data model records (shown as 0 with a note): none since re-confirmation (R-CHG-3) and
# re-review (R-ASM-6) are recorded.
NOT_RECORDED: frozenset[str] = frozenset()
# Figures with records to list (the others have none: NOT_RECORDED); plus the first offers.
RECORD_KINDS = tuple(f for f in FIGURES if f not in NOT_RECORDED) + ("first_offers",)


# --- the period ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    start: dt.date
    end: dt.date

    @property
    def since(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def until(self) -> dt.datetime:
        """The first moment after the period."""
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))


def month_before(today: dt.date) -> Period:
    """The last full calendar month before `today`: the monthly report's period."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return Period(start=end.replace(day=1), end=end)


def default_period(today: dt.date | None = None) -> Period:
    return month_before(today or timezone.localdate())


def period_problem(start: dt.date, end: dt.date) -> str | None:
    """Why a period cannot be reported on, in plain words, or None."""
    from django.utils.translation import gettext as _

    if start > end:
        return _("The start of the period must not be after its end.")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        return _("The period may be at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}
    return None


# --- percentiles -----------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float | None:
    """The `fraction` percentile by linear interpolation between the closest ranks (PostgreSQL's
    percentile_cont, the 'inclusive' method): position (n − 1) × fraction in the sorted values.
    None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """Days from approval to first offer of a group: how many, the median and the 90th percentile."""

    count: int
    median_days: float | None
    p90_days: float | None

    @classmethod
    def of(cls, days: list[float]) -> Spread:
        return cls(count=len(days), median_days=percentile(days, 0.5), p90_days=percentile(days, 0.9))


# --- the report --------------------------------------------------------------------------------------
@dataclass
class Row:
    """One facility's figures (facility None: the city)."""

    facility: Facility | None
    counts: dict[str, int]
    first_offer: Spread
    skip_reasons: Counter = field(default_factory=Counter)
    failed_by_reason: Counter = field(default_factory=Counter)

    def count(self, figure: str) -> int:
        return self.counts.get(figure, 0)


@dataclass(frozen=True)
class FailedCheck:
    facility_id: int
    reason: str
    officer: str  # the actor name of the event, "" when no event was found


@dataclass(frozen=True)
class FirstOfferGroup:
    channel: str
    care_level: str
    spread: Spread


@dataclass
class WatchdogReport:
    period: Period
    as_of: dt.datetime
    vacancy_alert_days: int
    out_of_service_alert_days: int
    rows: list[Row]  # one per facility, in the order given
    city: Row
    failed_checks: list[tuple[str, str, int]]  # (reason, officer, count) for the city, most first
    failed_checks_by_facility: dict[int, list[tuple[str, str, int]]]
    first_offers: list[FirstOfferGroup]  # by channel and care level, for the city


def _params(params: PolicyParameters | None) -> PolicyParameters:
    return params or policy_in_force().parameters


def _grouped(queryset: QuerySet) -> dict[int, int]:
    return dict(queryset.values("facility_id").annotate(n=Count("id")).order_by().values_list("facility_id", "n"))


# --- the records behind each figure (the report counts these; the record pages list them) ----------
def _candidate_exists(care_levels: Iterable[str]) -> Exists:
    return Exists(
        QueueEntry.objects.filter(
            facility_id=OuterRef("facility_id"),
            status=QueueEntryStatus.OPEN,
            care_level__in=list(care_levels),
            application__state=ApplicationState.WAITING,
        )
    )


def long_vacant_beds(facilities: QuerySet[Facility], *, now: dt.datetime, params: PolicyParameters) -> QuerySet:
    """Beds vacant since before now − vacancy_alert_days whose facility's queue has a candidate."""
    limit = now - dt.timedelta(days=params.vacancy_alert_days)
    return (
        Bed.objects.filter(facility__in=facilities, status=BedStatus.VACANT, status_since__lt=limit)
        .alias(
            has_nursing_candidate=_candidate_exists([CareLevel.NURSING]),
            has_self_care_candidate=_candidate_exists([CareLevel.SELF_CARE]),
        )
        .filter(Q(bed_type=BedType.NURSING, has_nursing_candidate=True) | Q(has_self_care_candidate=True))
    )


def long_out_of_service_beds(facilities: QuerySet[Facility], *, now: dt.datetime, params: PolicyParameters) -> QuerySet:
    limit = now - dt.timedelta(days=params.out_of_service_alert_days)
    return Bed.objects.filter(facility__in=facilities, status=BedStatus.OUT_OF_SERVICE, status_since__lt=limit)


def failed_check_offers(facilities: QuerySet[Facility], period: Period) -> QuerySet:
    return Offer.objects.filter(
        facility__in=facilities,
        state=OfferState.FAILED_CHECK,
        closed_at__gte=period.since,
        closed_at__lt=period.until,
    )


def out_of_order_admissions(facilities: QuerySet[Facility], period: Period) -> QuerySet:
    """Admissions in the period whose offer's decision chose someone below rank 1 (R-ALLOC-1/2)."""
    return Occupancy.objects.filter(
        facility__in=facilities,
        offer__isnull=False,
        admitted_on__gte=period.start,
        admitted_on__lte=period.end,
        offer__decision__chosen__rank__gt=1,
    )


def allocation_decisions(facilities: QuerySet[Facility], period: Period, *, manual: bool) -> QuerySet:
    decisions = AllocationDecision.objects.filter(
        facility__in=facilities, made_at__gte=period.since, made_at__lt=period.until
    )
    return decisions.filter(trigger=MANUAL_TRIGGER) if manual else decisions.exclude(trigger=MANUAL_TRIGGER)


def overdue_admissions(facilities: QuerySet[Facility], *, now: dt.datetime) -> QuerySet:
    """R-OFF-7: accepted offers whose admission deadline has passed, not yet admitted or failed: the
    dashboards' selector (admissions.dashboard.admissions_overdue) for these homes, longest overdue first."""
    return admissions_overdue(now=now).filter(facility__in=facilities)


def unconfirmed_entries(facilities: QuerySet[Facility]) -> QuerySet:
    """R-CHG-3: open queue entries of unconfirmed applications (asked and not answered, or
    suspended `not_reconfirmed`)."""
    return QueueEntry.objects.filter(
        facility__in=facilities,
        status=QueueEntryStatus.OPEN,
        application__in=unconfirmed_applications(),
    )


def overdue_re_reviews(facilities: QuerySet[Facility], *, now: dt.datetime) -> QuerySet:
    """R-ASM-6: re-reviews not decided by their due date, of applications that chose these homes."""
    return (
        ReviewRequest.objects.exclude(state=ReviewRequestState.DECIDED)
        .filter(due_by__lt=now, application__choices__facility__in=facilities)
        .distinct()
    )


def _re_reviews_by_facility(facilities: QuerySet[Facility], *, now: dt.datetime) -> dict[int, int]:
    pairs = (
        ReviewRequest.objects.exclude(state=ReviewRequestState.DECIDED)
        .filter(due_by__lt=now, application__choices__facility__in=facilities)
        .values_list("application__choices__facility_id", "pk")
        .distinct()
    )
    return dict(Counter(fid for fid, _pk in pairs))


def first_offers(facilities: QuerySet[Facility], period: Period) -> QuerySet:
    """Offers made in the period that were their application's first offer, anywhere."""
    earlier = Offer.objects.filter(application_id=OuterRef("application_id"), made_at__lt=OuterRef("made_at"))
    return Offer.objects.filter(
        facility__in=facilities,
        made_at__gte=period.since,
        made_at__lt=period.until,
        application__queued_at__isnull=False,
    ).exclude(Exists(earlier))


def records(
    kind: str,
    facilities: QuerySet[Facility],
    period: Period,
    *,
    now: dt.datetime | None = None,
    params: PolicyParameters | None = None,
) -> QuerySet:
    """The records behind one figure (RECORD_KINDS), for the pages that list them."""
    now = now or timezone.now()
    params = _params(params)
    if kind == "long_vacant":
        return long_vacant_beds(facilities, now=now, params=params).select_related("facility").order_by("status_since")
    if kind == "long_out_of_service":
        beds = long_out_of_service_beds(facilities, now=now, params=params)
        return beds.select_related("facility").order_by("status_since")
    if kind == "failed_checks":
        return (
            failed_check_offers(facilities, period)
            .select_related("facility", "bed", "application")
            .order_by("-closed_at")
        )
    if kind == "out_of_order":
        admissions = out_of_order_admissions(facilities, period)
        return admissions.select_related("facility", "bed", "application", "offer__decision").order_by("-admitted_on")
    if kind in ("manual_allocations", "automatic_allocations"):
        decisions = allocation_decisions(facilities, period, manual=kind == "manual_allocations")
        return decisions.select_related("facility", "bed").order_by("-made_at")
    if kind == "overdue_admissions":
        return overdue_admissions(facilities, now=now)
    if kind == "unconfirmed":
        return unconfirmed_entries(facilities).select_related("facility", "application").order_by("queued_at", "pk")
    if kind == "re_reviews":
        return (
            ReviewRequest.objects.filter(pk__in=overdue_re_reviews(facilities, now=now).values("pk"))
            .select_related("application", "assessor")
            .order_by("due_by", "id")
        )
    if kind == "first_offers":
        offers = first_offers(facilities, period).select_related("facility", "bed", "application")
        return offers.annotate(queued_at=F("application__queued_at")).order_by("-made_at")
    raise ValueError(f"no records for {kind!r}")


def officers_of_failed_checks(offers: QuerySet) -> dict[int, str]:
    """Offer id → the name of who recorded its failed admission check (the event's actor)."""
    events = ApplicationEvent.objects.filter(
        application_id__in=offers.values("application_id"), transition__in=FAIL_CHECK_TRANSITIONS
    ).values_list("data", "actor_name")
    officers: dict[int, str] = {}
    for data, actor in events:
        offer_id = data.get("offer") if isinstance(data, dict) else None
        if isinstance(offer_id, int):
            officers[offer_id] = actor
    return officers


def _days_between(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 86400


# --- the whole report ----------------------------------------------------------------------------
def watchdog_report(
    facilities: QuerySet[Facility],
    period: Period,
    *,
    now: dt.datetime | None = None,
    params: PolicyParameters | None = None,
) -> WatchdogReport:
    now = now or timezone.now()
    params = _params(params)
    facility_list = list(facilities)
    counts: dict[str, dict[int, int]] = {
        "long_vacant": _grouped(long_vacant_beds(facilities, now=now, params=params)),
        "long_out_of_service": _grouped(long_out_of_service_beds(facilities, now=now, params=params)),
        "manual_allocations": _grouped(allocation_decisions(facilities, period, manual=True)),
        "automatic_allocations": _grouped(allocation_decisions(facilities, period, manual=False)),
        "overdue_admissions": _grouped(overdue_admissions(facilities, now=now)),
        "unconfirmed": _grouped(unconfirmed_entries(facilities)),
        "re_reviews": _re_reviews_by_facility(facilities, now=now),
    }

    # Failed admission checks, by reason and by the officer who recorded each.
    failed = failed_check_offers(facilities, period)
    officers = officers_of_failed_checks(failed)
    checks = [
        FailedCheck(facility_id=fid, reason=reason, officer=officers.get(pk, ""))
        for pk, fid, reason in failed.values_list("pk", "facility_id", "reason")
    ]
    counts["failed_checks"] = Counter(c.facility_id for c in checks)
    by_officer: dict[int | None, Counter] = defaultdict(Counter)
    for check in checks:
        by_officer[check.facility_id][(check.reason, check.officer)] += 1
        by_officer[None][(check.reason, check.officer)] += 1

    # Admissions of people who were not first in the order, and why those above them were passed.
    skips: dict[int | None, Counter] = defaultdict(Counter)
    out_of_order: Counter = Counter()
    for fid, skipped in out_of_order_admissions(facilities, period).values_list(
        "facility_id", "offer__decision__skipped"
    ):
        out_of_order[fid] += 1
        for row in skipped or []:
            reason = row.get("reason", "") if isinstance(row, dict) else ""
            skips[fid][reason] += 1
            skips[None][reason] += 1
    counts["out_of_order"] = out_of_order

    # Time from approval to first offer.
    days_by_facility: dict[int, list[float]] = defaultdict(list)
    days_by_group: dict[tuple[str, str], list[float]] = defaultdict(list)
    every: list[float] = []
    for fid, channel, care_level, queued_at, made_at in first_offers(facilities, period).values_list(
        "facility_id", "application__channel_code", "care_level", "application__queued_at", "made_at"
    ):
        days = max(0.0, _days_between(queued_at, made_at))
        days_by_facility[fid].append(days)
        days_by_group[(channel or "", care_level)].append(days)
        every.append(days)

    def ordered(counter: Counter) -> list[tuple[str, str, int]]:
        return sorted(
            ((reason, officer, n) for (reason, officer), n in counter.items()), key=lambda t: (-t[2], t[0], t[1])
        )

    rows = []
    for facility in facility_list:
        row_counts = {figure: counts[figure].get(facility.pk, 0) for figure in counts}
        row_counts.update({figure: 0 for figure in NOT_RECORDED})
        failed_by_reason = Counter()
        for (reason, _officer), n in by_officer[facility.pk].items():
            failed_by_reason[reason] += n
        rows.append(
            Row(
                facility=facility,
                counts=row_counts,
                first_offer=Spread.of(days_by_facility[facility.pk]),
                skip_reasons=skips[facility.pk],
                failed_by_reason=failed_by_reason,
            )
        )
    city_counts = {figure: sum(r.count(figure) for r in rows) for figure in FIGURES}
    # A re-review is one per application, whichever homes it chose.
    city_counts["re_reviews"] = overdue_re_reviews(facilities, now=now).count()
    city_failed = Counter()
    for row in rows:
        city_failed.update(row.failed_by_reason)
    city = Row(
        facility=None,
        counts=city_counts,
        first_offer=Spread.of(every),
        skip_reasons=skips[None],
        failed_by_reason=city_failed,
    )
    groups = [
        FirstOfferGroup(channel=channel, care_level=care_level, spread=Spread.of(days_by_group[(channel, care_level)]))
        for channel in Channel.values
        for care_level in CareLevel.values
    ]
    return WatchdogReport(
        period=period,
        as_of=now,
        vacancy_alert_days=params.vacancy_alert_days,
        out_of_service_alert_days=params.out_of_service_alert_days,
        rows=rows,
        city=city,
        failed_checks=ordered(by_officer[None]),
        failed_checks_by_facility={fid: ordered(c) for fid, c in by_officer.items() if fid is not None},
        first_offers=groups,
    )


# --- what the figures are called (the page, the files and the monthly email say the same) --------
def figure_labels() -> dict[str, str]:
    return {
        "long_vacant": gettext("Beds vacant too long while the queue has candidates"),
        "long_out_of_service": gettext("Beds out of service too long"),
        "failed_checks": gettext("Accepted offers that failed the admission check"),
        "out_of_order": gettext("Admissions not first in the order"),
        "manual_allocations": gettext("Allocations started by staff (allocate now)"),
        "automatic_allocations": gettext("Automatic allocations"),
        "overdue_admissions": gettext("Overdue admissions"),
        "unconfirmed": gettext("Unconfirmed entries"),
        "re_reviews": gettext("Re-reviews overdue"),
        "first_offers": gettext("First offers"),
    }


def not_recorded_note() -> str:
    return gettext("Some figures are shown as 0: the system does not record them yet.")
