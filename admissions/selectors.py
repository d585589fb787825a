"""Reads of the admission engine. The staff pages, the API and the public pages all call these,
so they can never disagree about a position, a score or a quota."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext

from assessments.models import Assessment
from core.errors import NotFound
from facilities.models import District, Facility, FacilityLevel
from facilities.selectors import (
    Quota,
    quota_for_facility,
)

from .identity import age_on
from .models import (
    ON_HOLD_STATES,
    Application,
    FacilityChoice,
    Occupancy,
    Offer,
    Policy,
    PolicyActivation,
    QueueEntry,
    QueueEntryStatus,
)
from .policy import PolicyInForce, PolicyParameters

BUILT_IN_POLICY = PolicyInForce(version=0, effective_from=dt.date(2000, 1, 1), parameters=PolicyParameters())


# --- policy (SPEC §9, R-POL-1) ---------------------------------------------------------------------
# R-POL-1: "any read or allocation that finds the act due runs it first". The act is a service
# (admissions/services/policy.py `policy_activate_due`), which reads may not import; AdmissionsConfig
# registers it here at start-up.
_activation = {"hook": None}
_activating = threading.local()


def policy_activation_register(hook: Callable[[], object] | None) -> None:
    _activation["hook"] = hook


@contextmanager
def policy_activation_running() -> Iterator[None]:
    """Inside the act: the reads it makes must not start it again."""
    previous = getattr(_activating, "on", False)
    _activating.on = True
    try:
        yield
    finally:
        _activating.on = previous


def _policy_versions(on: dt.date) -> QuerySet[Policy]:
    return (
        Policy.objects.filter(effective_from__lte=on)
        .annotate(activated=Exists(PolicyActivation.objects.filter(policy=OuterRef("pk"))))
        .order_by("-effective_from", "-version")
    )


def _in_force(policy: Policy | None) -> PolicyInForce:
    if policy is None:
        return BUILT_IN_POLICY
    return PolicyInForce(
        version=policy.version,
        effective_from=policy.effective_from,
        parameters=PolicyParameters.from_json(policy.parameters),
    )


def policy_in_force(on: dt.date | None = None) -> PolicyInForce:
    """The version with the latest `effective_from` on or before `on` (today by default).

    R-POL-1: for today (or later), a version whose date has come takes effect only when the act
    that brings every open entry under it has committed. The one query that finds the version also
    says whether it is activated; when it is not, the act runs first (once, whoever reads first),
    and while it cannot (inside the act itself) the previous version answers, so no answer mixes two
    versions. A past day is answered by date (the version its decisions used)."""
    today = timezone.localdate()
    on = on or today
    policy = _policy_versions(on).first()
    due = policy is not None and not policy.activated and policy.effective_from <= today and on >= today
    if not due:
        return _in_force(policy)
    hook = _activation["hook"]
    if hook is not None and not getattr(_activating, "on", False):
        with policy_activation_running():
            hook()
        policy = _policy_versions(on).first()
        if policy.activated:
            return _in_force(policy)
    return _in_force(_policy_versions(on).filter(Q(activated=True) | Q(effective_from__gt=today)).first())


def nursing_target_in_force(facility: Facility, policy: PolicyInForce | None = None):
    """R-NQ-1: the facility's own target, or the policy's."""
    if facility.nursing_target is not None:
        return facility.nursing_target
    return (policy or policy_in_force()).parameters.nursing_target


def facility_quota(facility: Facility, policy: PolicyInForce | None = None) -> Quota:
    return quota_for_facility(facility, nursing_target=nursing_target_in_force(facility, policy))


# --- refusals (R-OFF-4, R-OFF-5) ----------------------------------------------------------------
def refusals_counted(*, params: PolicyParameters, now: dt.datetime | None = None) -> Q:
    """The offers that count as refusals: declined, expired or not taken up, closed within the
    policy's window."""
    since = (now or timezone.now()) - dt.timedelta(days=params.refusal_window_days)
    return Q(is_refusal=True, closed_at__gte=since)


def refusals_of_person(application: Application, *, params: PolicyParameters, now: dt.datetime | None = None) -> int:
    """R-OFF-5: the person's refusals in the window, counted over every application of the same
    resident ID number (one Applicant row per person), so withdrawing and applying again does not
    reset it. The one count: the offer services, the API's `refusals.count` and the pages read it."""
    return Offer.objects.filter(
        refusals_counted(params=params, now=now), application__applicant_id=application.applicant_id
    ).count()


def homes_to_choose(district: District | None) -> QuerySet[Facility]:
    """R-APP-7: the homes an applicant of `district` may choose (services.applications
    choice_district): every city-level home and the district-level homes of that district, each
    accepting applications. None (no district given yet): the city-level homes only. The intake form
    lists these; the service still checks whatever is posted."""
    level = Q(level=FacilityLevel.CITY)
    if district is not None:
        level |= Q(level=FacilityLevel.DISTRICT, district=district)
    return Facility.objects.filter(level, accepting_applications=True).select_related("district")


def get_application(reference: str) -> Application:
    """The application with this reference, or NotFound naming the reference."""
    try:
        return Application.objects.select_related("applicant").get(reference=reference)
    except Application.DoesNotExist as exc:
        raise NotFound(
            gettext("No application with reference %(reference)s.") % {"reference": repr(str(reference)[:40])}
        ) from exc


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


def base_score_parts(
    *, application: Application, assessment: Assessment, choice: FacilityChoice, params: PolicyParameters
) -> dict[str, int]:
    """R-Q-3 without the waiting points, which the queue adds as time passes. Stored on each entry
    by the services (admissions/services/queue.py); the previews of a change (R-CHG-2) compute it
    for the application as it would be after the change."""
    return score_parts_of(
        params=params,
        grade=assessment.grade,
        age=age_on(application.applicant.date_of_birth, assessment.assessed_on),
        no_spouse_no_children=application.no_spouse_no_children,
        lives_alone=application.lives_alone,
        spouse_resident=choice.spouse_resident,
    )


def score_parts_of(
    *,
    params: PolicyParameters,
    grade: int,
    age: int,
    no_spouse_no_children: bool,
    lives_alone: bool,
    spouse_resident: bool,
) -> dict[str, int]:
    """R-Q-3's parts from the plain values (the policy act reads them in one query, R-POL-1)."""
    return {
        "care": params.care_points(grade),
        "age": params.age_points(age),
        "family": params.family_points(
            no_spouse_no_children=no_spouse_no_children, lives_alone=lives_alone, spouse_resident=spouse_resident
        ),
    }


# --- the queue (R-Q-2, R-Q-4) ---------------------------------------------------------------------
QUEUE_ORDER = ("channel_rank", "-score", "queued_at", "application__reference")
QUEUE_DEFERRED = (
    "application__address",
    "application__channel_reason",
    "application__contributor_exemption_note",
    "application__lookup_code_hash",
    "application__current_assessment__items",
    "application__current_assessment__domain_totals",
    "application__current_assessment__notes",
    "application__current_assessment__rejection_reason",
)


def queue_for_facility(
    facility: Facility, *, now: dt.datetime | None = None, policy: PolicyInForce | None = None
) -> QuerySet[QueueEntry]:
    """The open entries of one facility in queue order (R-Q-2), each annotated with its `score`.
    The database sorts, using the queue_entry_order index to find the facility's open entries."""
    now = now or timezone.now()
    params = (policy or policy_in_force(timezone.localdate(now))).parameters
    return (
        QueueEntry.objects.filter(facility=facility, status=QueueEntryStatus.OPEN)
        .annotate(score=_score_expression(now, params))
        .select_related("application", "application__current_assessment")
        # The queue's readers use neither the item scores nor the long texts; left out, every row
        # the database sorts is a third of the size (the queue API page at 5,000 entries: 14 → 10 ms).
        .defer(*QUEUE_DEFERRED)
        .order_by(*QUEUE_ORDER)
    )


@dataclass(frozen=True, slots=True)
class QueueStep:
    """One entry as the allocation's walk sees it (R-ALLOC-1): what the skip reasons need, no more."""

    entry_id: int
    application_id: int
    reference: str
    application_state: str
    assessment_valid_until: dt.date | None
    care_level: str
    score: int


QUEUE_WALK_FIRST = 100  # a top-N sort: most walks stop within the first few dozen entries


def queue_walk(
    facility: Facility, *, now: dt.datetime | None = None, policy: PolicyInForce | None = None
) -> Iterator[QueueStep]:
    """`queue_for_facility` in the same order, as narrow rows for the allocation's walk.

    Building a model instance (entry, application, assessment) for every entry walked past cost
    more than the sort itself (an allocation at the largest home of 100,000 applications walks
    ~80 entries: issue 7 bench), so the walk reads plain values and the allocation loads the one
    entry it chooses. A walk that gets past the first page reads the rest in one more sort."""
    ordered = queue_for_facility(facility, now=now, policy=policy).values_list(
        "id",
        "application_id",
        "application__reference",
        "application__state",
        "application__current_assessment__valid_until",
        "care_level",
        "score",
    )
    first = list(ordered[:QUEUE_WALK_FIRST])
    yield from (QueueStep(*row) for row in first)
    if len(first) == QUEUE_WALK_FIRST:
        yield from (QueueStep(*row) for row in ordered[QUEUE_WALK_FIRST:].iterator(chunk_size=500))


def _ahead_of(*, channel_rank: int, score: int, queued_at: dt.datetime) -> Q:
    """Entries that rank ahead of the given sort key on everything but the reference, the last
    tie-break (R-Q-2); `_tied_ahead_of` counts those tied on all else, so the count of the whole
    queue never joins its entries to their applications (see `position_for_entry`)."""
    return (
        Q(channel_rank__lt=channel_rank)
        | Q(channel_rank=channel_rank, score__gt=score)
        | Q(channel_rank=channel_rank, score=score, queued_at__lt=queued_at)
    )


def _tied_ahead_of(*, channel_rank: int, score: int, queued_at: dt.datetime, reference: str) -> Q:
    return Q(channel_rank=channel_rank, score=score, queued_at=queued_at, application__reference__lt=reference)


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
    entry: QueueEntry,
    *,
    now: dt.datetime | None = None,
    policy: PolicyInForce | None = None,
    exclude_application_id: int | None = None,
    with_wait: bool = True,
) -> Position:
    """R-Q-4 by counting in the database, never by sorting the facility's queue in Python. An
    entry not (yet) saved may be given, with `exclude_application_id` its application's stored
    entries left out: where it would stand after a change (R-CHG-2 previews)."""
    now = now or timezone.now()
    policy = policy or policy_in_force(timezone.localdate(now))
    params = policy.parameters
    score = entry.base_score + waiting_points(queued_at=entry.queued_at, now=now, params=params)
    key = {"channel_rank": entry.channel_rank, "score": score, "queued_at": entry.queued_at}
    queue = QueueEntry.objects.filter(facility_id=entry.facility_id, status=QueueEntryStatus.OPEN).annotate(
        score=_score_expression(now, params)
    )
    if exclude_application_id is not None:
        queue = queue.exclude(application_id=exclude_application_id)
    # Two counts: those ahead before the last tie-break, read from the queue's own rows (with the
    # held applications as one subquery); then the few tied on everything but the reference, joined
    # to their applications. One count joining the whole queue took 10–50 ms at 5,000 entries.
    held = Application.objects.filter(state__in=ON_HOLD_STATES).values("pk")
    counts = Counter()
    for ahead, on_hold in (
        (queue.filter(_ahead_of(**key)), Q(application_id__in=held)),
        (
            queue.filter(_tied_ahead_of(**key, reference=entry.application.reference)),
            Q(application__state__in=ON_HOLD_STATES),
        ),
    ):
        counts.update(
            ahead.aggregate(
                total=Count("id"),
                same_care_level=Count("id", filter=Q(care_level=entry.care_level)),
                on_hold=Count("id", filter=on_hold),
            )
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
        )
        if with_wait
        else None,
    )


def positions_for_application(application: Application, *, now: dt.datetime | None = None) -> list[Position]:
    """One Position per open entry, in the order of the applicant's choices."""
    now = now or timezone.now()
    policy = policy_in_force(timezone.localdate(now))
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
    admissions = admissions_by_care_level(facility_id=facility_id, today=today).get(care_level, 0)
    return estimated_wait_from(admissions=admissions, ahead=ahead)


def admissions_by_care_level(*, facility_id: int, today: dt.date) -> dict[str, int]:
    """R-Q-5's denominator for every care level of one home at once: its admissions over the last
    365 days (what `estimated_wait` counts for one level)."""
    rows = (
        Occupancy.objects.filter(facility_id=facility_id, admitted_on__gt=today - dt.timedelta(days=365))
        .order_by()
        .values_list("care_level")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def estimated_wait_from(*, admissions: int, ahead: int) -> dict[str, int] | None:
    """R-Q-5's arithmetic, given the home's admissions of the care level over the last 365 days."""
    if admissions < MIN_ADMISSIONS_FOR_ESTIMATE:
        return None
    months = ahead / (admissions / 12)
    low = max(0, math.floor(months * 0.75))
    high = max(low + 1, math.ceil(months * 1.25))
    return {"months_low": low, "months_high": high}
