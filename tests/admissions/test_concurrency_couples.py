"""R-CPL-2 under real concurrency: 20 threads allocating at one home with together couples in the
queue, against PostgreSQL, asserting only on the final state: no joint offer split, the self-care
cap never passed, no bed double-booked. SQLite serialises every writer; this runs in the
PostgreSQL pass of .ci/run."""

import datetime as dt

import pytest
from django.db import connection

from admissions.models import CoupleMember, Offer
from admissions.services.allocation import allocation_run
from admissions.services.couples import couple_link
from facilities.models import Bed
from tests.admissions.test_concurrency import RACERS, assert_invariants, race
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers"),
]


def test_racing_allocations_with_couples_never_split_a_joint_offer_pass_the_cap_or_double_book():
    """R-CPL-2, R-NQ-1, R-BED-1: four together couples and six singles, ten vacant beds, 20 racers
    (whole-home runs and single-bed runs, which walk every vacant bed again)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=40, holder="nursing")
    add_beds(home, general=10, holder="self_care")
    couples = []
    for i in range(4):
        wife = queued_application(grade=2, choices=["YX01"], name=f"妻{i}", date_of_birth=dt.date(1940, 1, 1 + i))
        husband = queued_application(
            grade=0, choices=["YX01"], name=f"夫{i}", date_of_birth=dt.date(1939, 1, 1 + i), sex="M"
        )
        couple_link(
            applications=[wife.reference, husband.reference], mode="together", reason="x", actor=actor("intake")
        )
        couples.append((wife.pk, husband.pk))
    for i in range(6):
        queued_application(grade=2, choices=["YX01"], name=f"单{i}", date_of_birth=dt.date(1945, 1, 1 + i))
    add_beds(home, nursing=5, status="vacant")  # straight into the table: nobody allocated yet
    add_beds(home, general=5, status="vacant")
    vacant = list(Bed.objects.filter(facility=home, status="vacant"))

    calls = []
    for i in range(RACERS):
        if i % 2:
            calls.append(lambda: allocation_run(facility=home, trigger="staff_request"))
        else:
            bed = vacant[i // 2]
            calls.append(lambda bed=bed: allocation_run(facility=home, bed=bed, trigger="staff_request"))
    _results, errors = race(*calls)

    assert errors == []
    assert_invariants()
    live = Offer.objects.filter(state__in=["pending", "accepted"])
    assert live.count() >= 5  # the beds did go out
    together = set(CoupleMember.objects.filter(live=True).values_list("application_id", flat=True))
    joint = 0
    for offer in live.filter(application_id__in=together):
        partner = offer.partner_offer
        assert partner is not None, "a together member holds an offer without the partner's"
        assert partner.partner_offer_id == offer.pk and partner.state == offer.state
        assert partner.facility_id == offer.facility_id and partner.respond_by == offer.respond_by
        assert partner.bed_id != offer.bed_id
        joint += 1
    assert joint >= 2  # at least one couple was placed together
