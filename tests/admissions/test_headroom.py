"""R-ALLOC-3 (amended): when a facility's self-care headroom under R-NQ-1 grows, every vacant bed the
quota had blocked is allocated again, through the one allocation service."""

import pytest

from admissions.models import AllocationDecision, Offer
from admissions.services.beds import bed_discharge
from facilities.models import Bed
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db


def test_a_self_care_holder_leaving_refills_the_general_bed_the_quota_blocked():
    # 100 beds at 0.78 → cap 22 (SPEC's example); 22 held by self-care residents, one of them in a
    # nursing bed; one general bed held by a nursing-level resident.
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=77, holder="nursing")
    add_beds(home, nursing=1, holder="self_care")
    add_beds(home, general=21, holder="self_care")
    add_beds(home, general=1, holder="nursing")
    self_care = queued_application(grade=0, choices=["YX01"])
    nursing = queued_application(grade=3, choices=["YX01"], name="王芳")
    general = Bed.objects.get(facility=home, bed_type="general", holder_care_level="nursing")
    bed_discharge(bed=general, reason="discharged")
    blocked = AllocationDecision.objects.filter(bed=general).latest("sequence")
    assert blocked.chosen is None
    assert {r["reference"]: r["reason"] for r in blocked.skipped}[self_care.reference] == "nursing_quota_full"
    # The self-care resident in the nursing bed leaves: that bed goes to the nursing-level applicant,
    # and the headroom it frees refills the blocked general bed.
    leaving = Bed.objects.get(facility=home, bed_type="nursing", holder_care_level="self_care")
    bed_discharge(bed=leaving, reason="deceased")
    assert Offer.objects.get(application=nursing, state="pending").bed_id == leaving.pk
    refill = Offer.objects.get(application=self_care, state="pending")
    assert refill.bed_id == general.pk
    assert Bed.objects.get(pk=general.pk).status == "reserved"


def test_lowering_a_homes_nursing_target_refills_the_general_bed_the_quota_blocked():
    """R-ALLOC-3: "the target is lowered" grows the headroom. 100 beds at 0.78 → cap 22, all held;
    at 0.77 → cap 23 (SPEC's rounding), so the blocked general bed goes to the self-care applicant."""
    from decimal import Decimal

    from facilities.services import facility_update
    from tests.spec import NURSING_TARGET

    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=77, holder="nursing")
    add_beds(home, general=22, holder="self_care")
    add_beds(home, general=1, status="vacant")
    self_care = queued_application(grade=0, choices=["YX01"])
    general = Bed.objects.get(facility=home, status="vacant")
    assert AllocationDecision.objects.filter(bed=general).latest("sequence").chosen is None  # blocked
    assert not Offer.objects.filter(application=self_care).exists()

    facility_update(facility=home, values={"nursing_target": "0.95"}, actor_name="admin")  # higher: nothing
    assert not Offer.objects.filter(application=self_care).exists()
    facility_update(facility=home, values={"nursing_target": str(NURSING_TARGET - Decimal("0.01"))}, actor_name="admin")

    offer = Offer.objects.get(application=self_care, state="pending")
    assert offer.bed_id == general.pk
    assert AllocationDecision.objects.filter(bed=general).latest("sequence").trigger == "nursing_target_lowered"


def test_a_home_target_equal_to_the_policys_allocates_nothing_r_alloc_3():
    """R-ALLOC-3: only a *lower* target grows the headroom; writing down the target already in force
    (the policy's, §9) walks no bed: no decision and no confirmation is written."""
    from admissions.models import DecisionConfirmation
    from facilities.services import facility_update
    from tests.spec import NURSING_TARGET

    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=77, holder="nursing")
    add_beds(home, general=22, holder="self_care")
    add_beds(home, general=1, status="vacant")
    queued_application(grade=0, choices=["YX01"])  # blocked by the quota: one empty decision
    before = (AllocationDecision.objects.count(), DecisionConfirmation.objects.count())
    facility_update(facility=home, values={"nursing_target": str(NURSING_TARGET)}, actor_name="admin")
    assert (AllocationDecision.objects.count(), DecisionConfirmation.objects.count()) == before
