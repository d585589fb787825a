"""Reads about homes and beds. R-NQ-1's figures are computed here, once: the beds each care level holds
(`HELD_BY_SELF_CARE`, `HELD_BY_NURSING`, counted by `bed_counts_by_facility`), the cap
(`self_care_cap`) and the quota built from them (`quota_from_counts`). The allocation enforces the rule
(admissions/services/allocation.py); every page, the API, the public board, the reports and the
simulator read these figures through admissions.dashboard.facility_figures / admissions.selectors.facility_quota."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from .models import Bed, BedStatus, BedType, CareLevel, District, Facility


@dataclass(frozen=True)
class BedCounts:
    total: int
    in_service: int
    nursing: int
    general: int
    vacant: int
    reserved: int
    occupied: int
    out_of_service: int
    held_by_self_care: int
    held_by_nursing: int
    vacant_nursing: int = 0
    vacant_general: int = 0


@dataclass(frozen=True)
class Quota:
    """R-NQ-1 for one facility at one moment."""

    nursing_target: Decimal
    self_care_cap: int
    self_care_held: int
    nursing_held: int

    @property
    def headroom(self) -> int:
        return max(0, self.self_care_cap - self.self_care_held)

    @property
    def nursing_share(self) -> float | None:
        held = self.self_care_held + self.nursing_held
        return round(self.nursing_held / held, 4) if held else None

    def figures(self) -> dict:
        """What an allocation decision records before and after (R-ALLOC-2)."""
        return {"self_care_cap": self.self_care_cap, "self_care_held": self.self_care_held}


def self_care_cap(*, in_service_beds: int, nursing_target: Decimal) -> int:
    """R-NQ-1: ⌊in-service beds × (1 − nursing_target)⌋, in exact decimal arithmetic
    (0.22 × 100 must be 22, not 21.999…)."""
    return math.floor(Decimal(in_service_beds) * (Decimal(1) - Decimal(nursing_target)))


# A bed is held by its holder's care level while reserved for or occupied by them (R-NQ-1).
HELD = Q(status__in=[BedStatus.RESERVED, BedStatus.OCCUPIED])
HELD_BY_SELF_CARE = HELD & Q(holder_care_level=CareLevel.SELF_CARE)
HELD_BY_NURSING = HELD & Q(holder_care_level=CareLevel.NURSING)
_VACANT = Q(status=BedStatus.VACANT)

# Every count of BedCounts, as aggregates over a facility's beds.
_COUNTS = {
    "total": Count("id"),
    "in_service": Count("id", filter=~Q(status=BedStatus.OUT_OF_SERVICE)),
    "nursing": Count("id", filter=Q(bed_type=BedType.NURSING)),
    "general": Count("id", filter=Q(bed_type=BedType.GENERAL)),
    "vacant": Count("id", filter=_VACANT),
    "reserved": Count("id", filter=Q(status=BedStatus.RESERVED)),
    "occupied": Count("id", filter=Q(status=BedStatus.OCCUPIED)),
    "out_of_service": Count("id", filter=Q(status=BedStatus.OUT_OF_SERVICE)),
    "held_by_self_care": Count("id", filter=HELD_BY_SELF_CARE),
    "held_by_nursing": Count("id", filter=HELD_BY_NURSING),
    "vacant_nursing": Count("id", filter=_VACANT & Q(bed_type=BedType.NURSING)),
    "vacant_general": Count("id", filter=_VACANT & Q(bed_type=BedType.GENERAL)),
}
NO_BEDS = BedCounts(**{name: 0 for name in _COUNTS})


def bed_counts(facility: Facility) -> BedCounts:
    """One facility's bed counts, in one query (the allocation reads it under the facility's lock)."""
    return BedCounts(**Bed.objects.filter(facility=facility).aggregate(**_COUNTS))


def bed_counts_by_facility(facilities) -> dict[int, BedCounts]:
    """facility id → its bed counts, in one query whatever the number of facilities; a facility
    without beds is missing (use NO_BEDS)."""
    rows = Bed.objects.filter(facility__in=facilities).values("facility_id").annotate(**_COUNTS).order_by()
    return {row.pop("facility_id"): BedCounts(**row) for row in rows}


def quota_from_counts(counts: BedCounts, *, nursing_target: Decimal) -> Quota:
    """R-NQ-1 for a facility with these beds and the target in force."""
    return Quota(
        nursing_target=Decimal(nursing_target),
        self_care_cap=self_care_cap(in_service_beds=counts.in_service, nursing_target=nursing_target),
        self_care_held=counts.held_by_self_care,
        nursing_held=counts.held_by_nursing,
    )


def quota_for_facility(facility: Facility, *, nursing_target: Decimal) -> Quota:
    """`nursing_target` is the value in force: the facility's own, or the policy's (admissions
    knows the policy; see admissions.selectors.facility_quota)."""
    return quota_from_counts(bed_counts(facility), nursing_target=nursing_target)


def intake_offices() -> list[District]:
    """The districts whose intake office administrators have filled in (an address or a phone), for
    the public start page and the receipt (issue 15)."""
    return list(District.objects.exclude(office_address="", office_phone="").order_by("code"))
