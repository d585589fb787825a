"""Reads about homes and beds. The quota arithmetic of R-NQ-1 lives here, once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from .models import Bed, BedStatus, BedType, CareLevel, Facility


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


def bed_counts(facility: Facility) -> BedCounts:
    held = Q(status__in=[BedStatus.RESERVED, BedStatus.OCCUPIED])
    row = Bed.objects.filter(facility=facility).aggregate(
        total=Count("id"),
        in_service=Count("id", filter=~Q(status=BedStatus.OUT_OF_SERVICE)),
        nursing=Count("id", filter=Q(bed_type=BedType.NURSING)),
        general=Count("id", filter=Q(bed_type=BedType.GENERAL)),
        vacant=Count("id", filter=Q(status=BedStatus.VACANT)),
        reserved=Count("id", filter=Q(status=BedStatus.RESERVED)),
        occupied=Count("id", filter=Q(status=BedStatus.OCCUPIED)),
        out_of_service=Count("id", filter=Q(status=BedStatus.OUT_OF_SERVICE)),
        held_by_self_care=Count("id", filter=held & Q(holder_care_level=CareLevel.SELF_CARE)),
        held_by_nursing=Count("id", filter=held & Q(holder_care_level=CareLevel.NURSING)),
    )
    return BedCounts(**row)


def quota_for_facility(facility: Facility, *, nursing_target: Decimal) -> Quota:
    """`nursing_target` is the value in force: the facility's own, or the policy's (admissions
    knows the policy; see admissions.selectors.facility_quota)."""
    counts = bed_counts(facility)
    return Quota(
        nursing_target=Decimal(nursing_target),
        self_care_cap=self_care_cap(in_service_beds=counts.in_service, nursing_target=nursing_target),
        self_care_held=counts.held_by_self_care,
        nursing_held=counts.held_by_nursing,
    )
