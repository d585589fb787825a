"""Reads for the staff pages' lists and boards: the intake officer's possible duplicates, the
dashboard's counts and deadlines, each home's figures and its bed board. The queue's rules (scores,
order, positions, estimated wait) are in admissions.selectors; these only list and count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.phones import InvalidPhone, normalise_phone
from core.typing import as_typed
from facilities.models import Bed, BedStatus, BedType, Facility
from facilities.selectors import NO_BEDS, BedCounts, Quota, bed_counts_by_facility, quota_from_counts

from .models import (
    LIVE_OFFER_STATES,
    QUEUED_STATES,
    Application,
    ApplicationState,
    Occupancy,
    Offer,
    OfferState,
)
from .models.applications import DuplicateMatch
from .policy import PolicyInForce
from .selectors import nursing_target_in_force, policy_in_force, refusals_counted


# --- the application lists: refusals in the window (R-OFF-5) per row -------------------------------
def with_refusals_in_window(
    applications: QuerySet[Application], *, policy: PolicyInForce | None = None
) -> QuerySet[Application]:
    """Each application annotated with `refusals_in_window`, in the one query that lists them
    (counting per row cost two queries an application on a list page)."""
    params = (policy or policy_in_force()).parameters
    counted = (
        # R-OFF-5: per person, across all of their applications (the applicant row, which
        # anonymising keeps, R-PRIV-3).
        Offer.objects.filter(refusals_counted(params=params), application__applicant=OuterRef("applicant"))
        .values("application__applicant")
        .annotate(count=Count("id"))
        .values("count")
    )
    return applications.annotate(refusals_in_window=Coalesce(Subquery(counted), 0))


# --- the staff pages: intake and the dashboard (issue 4) -------------------------------------------
@dataclass(frozen=True)
class PossibleDuplicate:
    """R-APP-10: another application that may be the same person, and what matched."""

    application: Application
    match: str  # DuplicateMatch: "name_dob" or "phone"


POSSIBLE_DUPLICATES_SHOWN = 20


def possible_duplicates(
    name: str | None,
    date_of_birth: dt.date | None,
    phone: str | None,
    exclude_application: Application | None = None,
) -> list[PossibleDuplicate]:
    """R-APP-10: applications (any state, newest first) of a person with the same name and birth
    date, or the same phone, for the intake officer to confirm or dismiss with a note."""
    name = (name or "").strip()
    phone = (phone or "").strip()
    try:  # phones are stored normalised (R-SEC-9): compare in that form when it is a phone number
        phone = normalise_phone(phone)
    except InvalidPhone:
        pass
    condition = Q()
    if name and date_of_birth:
        condition |= Q(applicant__name=name, applicant__date_of_birth=date_of_birth)
    if phone:
        condition |= Q(applicant__phone=phone)
    if not condition:
        return []
    found = Application.objects.filter(condition).select_related("applicant").order_by("-created_at", "-id")
    if exclude_application is not None:
        found = found.exclude(pk=exclude_application.pk)
    return [
        PossibleDuplicate(
            application=application,
            match=DuplicateMatch.NAME_AND_BIRTH_DATE
            if (application.applicant.name, application.applicant.date_of_birth) == (name, date_of_birth)
            else DuplicateMatch.PHONE,
        )
        for application in found[:POSSIBLE_DUPLICATES_SHOWN]
    ]


def application_counts_by_state(applications: QuerySet[Application]) -> dict[str, int]:
    """{state: count} for every state of the lifecycle (SPEC §5), zeros included, in its order."""
    counts = dict(applications.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in ApplicationState.values}


def admissions_overdue(*, facility: Facility | None = None, now: dt.datetime | None = None) -> QuerySet:
    """R-OFF-7: accepted offers whose (extended) admission deadline has passed without an admission,
    the longest overdue first (the facility's and the reviewers' dashboards)."""
    offers = Offer.objects.filter(state=OfferState.ACCEPTED, admit_by__lt=now or timezone.now())
    if facility is not None:
        offers = offers.filter(facility=facility)
    return offers.select_related("application", "facility", "bed").order_by("admit_by", "id")


def offers_due_by(until: dt.datetime, *, facility: Facility | None = None) -> QuerySet:
    """Live offers with a deadline at or before `until` (overdue ones included): a pending offer's
    response deadline, an accepted offer's admission deadline (R-OFF-1). Soonest first."""
    offers = Offer.objects.filter(
        Q(state=OfferState.PENDING, respond_by__lte=until) | Q(state=OfferState.ACCEPTED, admit_by__lte=until)
    )
    if facility is not None:
        offers = offers.filter(facility=facility)
    return (
        offers.annotate(
            deadline=Case(When(state=OfferState.PENDING, then=F("respond_by")), default=F("admit_by")),
        )
        .select_related("application", "application__applicant", "facility", "bed")
        .order_by("deadline", "id")
    )


def assessments_expiring(
    *, today: dt.date, within_days: int, applications: QuerySet[Application] | None = None
) -> QuerySet[Application]:
    """Queued applications (R-Q-1) whose assessment in force expires within `within_days` of
    `today` (R-ASM-5: after that they are skipped until a new one is approved). Soonest first."""
    applications = Application.objects.all() if applications is None else applications
    return (
        applications.filter(
            state__in=QUEUED_STATES,
            current_assessment__valid_until__gte=today,
            current_assessment__valid_until__lte=today + dt.timedelta(days=within_days),
        )
        .select_related("applicant", "current_assessment")
        .order_by("current_assessment__valid_until", "reference")
    )


# --- facility figures (R-NQ-1): one read for the dashboard, bed board, API, public board, reports and
# the simulator; the counting itself is facilities.selectors.bed_counts_by_facility ----------------------
@dataclass(frozen=True)
class FacilityFigures:
    """A facility with its figures: the nursing target in force, its bed counts and its quota
    (cap, held beds by care level, headroom, nursing share)."""

    facility: Facility
    nursing_target: Decimal
    beds: BedCounts
    quota: Quota

    @property
    def in_service(self) -> int:
        return self.beds.in_service

    @property
    def vacant(self) -> int:
        return self.beds.vacant

    @property
    def vacant_nursing(self) -> int:
        return self.beds.vacant_nursing

    @property
    def vacant_general(self) -> int:
        return self.beds.vacant_general


def facility_figures(facilities, *, policy: PolicyInForce | None = None) -> list[FacilityFigures]:
    """The figures of each facility, in order, with one query for all their beds."""
    policy = policy or policy_in_force()
    facilities = list(facilities)
    counts = bed_counts_by_facility(facilities)
    figures = []
    for facility in facilities:
        beds = counts.get(facility.pk, NO_BEDS)
        target = nursing_target_in_force(facility, policy)
        figures.append(
            FacilityFigures(
                facility=facility,
                nursing_target=target,
                beds=beds,
                quota=quota_from_counts(beds, nursing_target=target),
            )
        )
    return figures


# --- beds -----------------------------------------------------------------------------------------------
def beds_with_occupants(beds: QuerySet[Bed]) -> QuerySet[Bed]:
    """Each bed with `occupant`: the reference of the application living in it (an open
    occupancy); null for a vacant, reserved or out-of-service bed, or an occupant with no
    application (one recorded before the system)."""
    current = Occupancy.objects.filter(bed=OuterRef("pk"), discharged_on__isnull=True)
    return beds.select_related("facility").annotate(occupant=Subquery(current.values("application__reference")[:1]))


def bed_search_term(value) -> str:
    """What a person typed in the bed board's search box (core.typing)."""
    return as_typed(value or "")


def bed_board(
    facility: Facility, *, search: str = "", status: str = "", bed_type: str = "", grouped: bool = False
) -> QuerySet[Bed]:
    """One home's beds for its bed board (issue 15), in bed-code order, each with `occupant` (the
    reference) and `occupant_name` (the resident's name) of its open occupancy. `search` finds a bed
    by its code, or by the reference or name of its occupant or of the applicant a live offer of it is
    made to; `status` and `bed_type` narrow. `grouped`: by type, then status, in the order of their
    choices, then code, so the board's groups run on across its pages. All in the database query, so
    a 450- or 1,500-bed home pages."""
    current = Occupancy.objects.filter(bed=OuterRef("pk"), discharged_on__isnull=True)
    beds = beds_with_occupants(Bed.objects.filter(facility=facility)).annotate(
        occupant_name=Subquery(current.values("application__applicant__name")[:1])
    )
    if status:
        beds = beds.filter(status=status)
    if bed_type:
        beds = beds.filter(bed_type=bed_type)
    term = bed_search_term(search)
    if term:
        person = Q(application__reference__icontains=term) | Q(application__applicant__name__icontains=term)
        offered = Offer.objects.filter(bed=OuterRef("pk"), state__in=LIVE_OFFER_STATES).filter(person)
        beds = beds.filter(Q(code__icontains=term) | Exists(current.filter(person)) | Exists(offered))
    if grouped:
        return beds.order_by(
            _choice_order("bed_type", BedType.values), _choice_order("status", BedStatus.values), "code"
        )
    return beds.order_by("code")


def _choice_order(field: str, values: list[str]) -> Case:
    return Case(*[When(**{field: value}, then=Value(i)) for i, value in enumerate(values)], default=Value(len(values)))


def bed_board_counts(facility: Facility) -> dict[tuple[str, str], int]:
    """(bed type, status) → number of the home's beds, in one query (the summary above the board)."""
    rows = Bed.objects.filter(facility=facility).values("bed_type", "status").annotate(n=Count("id")).order_by()
    return {(row["bed_type"], row["status"]): row["n"] for row in rows}
