"""The rules a run must leave intact, checked over the whole database in a few queries (issue 7).

`bench` runs these after its concurrent allocations; the generator's tests run them on the city it
writes. Each returns human-readable violations, empty when the rule holds.
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q

from admissions.dashboard import facility_figures
from admissions.models import Application, Occupancy, Offer
from facilities.models import Bed, Facility

LIVE = Q(state__in=["pending", "accepted"])


def nursing_quota_violations() -> list[str]:
    """R-NQ-1: no home has more beds held by self-care people than ⌊in service × (1 − target)⌋."""
    return [
        f"R-NQ-1 {f.facility.code}: {f.quota.self_care_held} self-care holders, cap {f.quota.self_care_cap}"
        for f in facility_figures(Facility.objects.order_by("code"))
        if f.quota.self_care_held > f.quota.self_care_cap
    ]


def bed_violations() -> list[str]:
    """R-BED-1: at most one live offer and one occupant per bed, and the status says which:
    reserved ⇔ a live offer, occupied ⇔ an occupant, vacant or out of service ⇔ neither."""
    problems = []
    for row in Offer.objects.filter(LIVE).values("bed_id").annotate(n=Count("id")).filter(n__gt=1)[:10]:
        problems.append(f"R-BED-1 bed {row['bed_id']}: {row['n']} live offers")
    current = Occupancy.objects.filter(discharged_on__isnull=True)
    for row in current.values("bed_id").annotate(n=Count("id")).filter(n__gt=1)[:10]:
        problems.append(f"R-BED-1 bed {row['bed_id']}: {row['n']} occupants")
    beds = Bed.objects.annotate(
        offered=Exists(Offer.objects.filter(LIVE, bed=OuterRef("pk"))),
        occupied_now=Exists(current.filter(bed=OuterRef("pk"))),
    )
    wrong = beds.filter(
        Q(status="reserved", offered=False)
        | Q(status="occupied", occupied_now=False)
        | Q(~Q(status="reserved"), offered=True)
        | Q(~Q(status="occupied"), occupied_now=True)
    )
    for bed in wrong.select_related("facility")[:10]:
        problems.append(
            f"R-BED-1 {bed.facility.code}/{bed.code}: {bed.status} with live offer={bed.offered}, "
            f"occupant={bed.occupied_now}"
        )
    return problems


def offer_violations() -> list[str]:
    """R-OFF-3: an application holds at most one live offer; offered and admission_check ones hold
    exactly one, every other state none."""
    problems = []
    for row in Offer.objects.filter(LIVE).values("application_id").annotate(n=Count("id")).filter(n__gt=1)[:10]:
        problems.append(f"R-OFF-3 application {row['application_id']}: {row['n']} live offers")
    holding = Exists(Offer.objects.filter(LIVE, application=OuterRef("pk")))
    wrong = Application.objects.annotate(holding=holding).filter(
        Q(state__in=["offered", "admission_check"], holding=False)
        | Q(~Q(state__in=["offered", "admission_check"]), holding=True)
    )
    for application in wrong[:10]:
        problems.append(f"R-OFF-3 {application.reference}: {application.state} with live offer={application.holding}")
    return problems


def rule_violations() -> dict[str, list[str]]:
    return {"R-NQ-1": nursing_quota_violations(), "R-BED-1": bed_violations(), "R-OFF-3": offer_violations()}
