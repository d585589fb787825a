"""Allocation: order, skip reasons, bed matching and the nursing quota (SPEC §7)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, models, transaction

from admissions.decisions import first_chain_break
from admissions.models import AllocationDecision, Application, Offer
from admissions.services import applications as app_services
from admissions.services.allocation import allocation_run
from admissions.services.beds import bed_create, bed_discharge, bed_return_to_service, bed_take_out_of_service
from admissions.services.offers import offer_decline
from core.actor import SYSTEM
from core.errors import Conflict
from facilities.models import Bed
from facilities.selectors import self_care_cap
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db


def home_full(code="YX01", *, nursing=78, general=22, self_care_held=None, **kwargs):
    """A home with every bed occupied; `self_care_held` of the general beds held by self-care people."""
    home = FacilityFactory(code=code, **kwargs)
    add_beds(home, nursing=nursing, holder="nursing")
    held = general if self_care_held is None else self_care_held
    add_beds(home, general=held, holder="self_care")
    add_beds(home, general=general - held, holder="nursing")
    return home


def latest_decision(home) -> AllocationDecision:
    return AllocationDecision.objects.filter(facility=home).order_by("-sequence").first()


def skipped_reasons(decision) -> dict[str, str]:
    return {row["reference"]: row["reason"] for row in decision.skipped}


# --- R-NQ-1 arithmetic --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("beds", "target", "cap"),
    [(100, "0.78", 22), (4, "0.78", 0), (50, "0.78", 11), (1000, "0.78", 220), (9, "0.78", 1), (100, "0.9", 10)],
)
def test_self_care_cap_is_the_floor_of_in_service_beds_times_one_minus_target(beds, target, cap):
    """R-NQ-1: ⌊in-service beds × (1 − nursing_target)⌋ in exact arithmetic."""
    assert self_care_cap(in_service_beds=beds, nursing_target=Decimal(target)) == cap


# --- R-ALLOC-1 and R-NQ-2 -------------------------------------------------------------------------
def test_a_nursing_bed_goes_to_the_first_nursing_level_applicant_and_self_care_ones_above_are_reserved_for_nursing():
    """R-NQ-2 / R-ALLOC-1 reserved_for_nursing (STORIES 4)."""
    home = home_full(nursing=9, general=1)
    self_care = queued_application(
        grade=1, choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "cert"}]
    )
    nursing = queued_application(grade=2, choices=["YX01"])
    bed = Bed.objects.filter(facility=home, bed_type="nursing").first()
    bed_discharge(bed=bed, reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == nursing.reference
    assert skipped_reasons(decision) == {self_care.reference: "reserved_for_nursing"}
    assert Application.objects.get(pk=self_care.pk).state == "waiting"


def test_a_self_care_applicant_gets_a_nursing_bed_when_no_nursing_level_applicant_can_take_it():
    """R-NQ-2: only when no nursing-level entry could be offered the bed now, and the quota allows."""
    home = home_full(nursing=78, general=22, self_care_held=10)
    self_care = queued_application(grade=0, choices=["YX01"])
    suspended_nursing = queued_application(grade=3, choices=["YX01"])
    app_services.application_suspend(application=suspended_nursing, reason="in hospital", actor=actor("intake"))
    bed = Bed.objects.filter(facility=home, bed_type="nursing").first()
    bed_discharge(bed=bed, reason="discharged")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == self_care.reference
    assert Offer.objects.get(application=self_care).care_level == "self_care"
    assert decision.quota_after["self_care_held"] == decision.quota_before["self_care_held"] + 1


def test_a_nursing_level_applicant_is_skipped_for_a_general_bed():
    """R-ALLOC-1 bed_type_mismatch; R-NQ-2: a nursing applicant gets only a nursing bed."""
    home = home_full(nursing=78, general=22, self_care_held=5)
    nursing = queued_application(grade=3, choices=["YX01"])
    self_care = queued_application(grade=1, choices=["YX01"])
    bed = Bed.objects.filter(facility=home, bed_type="general").first()
    bed_discharge(bed=bed, reason="discharged")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == self_care.reference
    assert skipped_reasons(decision) == {nursing.reference: "bed_type_mismatch"}


def test_self_care_applicant_is_skipped_when_quota_is_full_and_the_general_bed_stays_vacant():
    """R-NQ-1 / R-ALLOC-1 nursing_quota_full (STORIES 7: 22 of 22 taken)."""
    # 100 beds: 22 general beds held by self-care residents (the cap), one held by a nursing-level one.
    home = home_full(nursing=77, general=23, self_care_held=22)
    self_care = queued_application(grade=0, choices=["YX01"])
    bed = Bed.objects.get(facility=home, bed_type="general", holder_care_level="nursing")
    bed_discharge(bed=bed, reason="discharged")
    decision = latest_decision(home)
    assert decision.chosen is None
    assert skipped_reasons(decision) == {self_care.reference: "nursing_quota_full"}
    assert decision.quota_before == {"self_care_cap": 22, "self_care_held": 22}
    assert Bed.objects.get(pk=bed.pk).status == "vacant"


def test_a_nursing_bed_is_not_offered_to_self_care_applicants_when_the_quota_is_full_and_no_one_else_waits():
    """R-NQ-1 / R-NQ-2 on a nursing bed: the self-care applicants held aside (no nursing-level one
    could take the bed) still meet the quota. 100 beds at 0.78 → cap 22 (SPEC's own example), all 22
    held by self-care residents: nobody is offered the bed, each is skipped nursing_quota_full."""
    home = home_full(nursing=78, general=22, self_care_held=22)
    first = queued_application(grade=0, choices=["YX01"])
    second = queued_application(grade=1, choices=["YX01"])
    bed = Bed.objects.filter(facility=home, bed_type="nursing").first()
    bed_discharge(bed=bed, reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen is None
    assert skipped_reasons(decision) == {first.reference: "nursing_quota_full", second.reference: "nursing_quota_full"}
    assert [row["rank"] for row in decision.skipped] == [1, 2]
    assert decision.quota_before == decision.quota_after == {"self_care_cap": 22, "self_care_held": 22}
    assert Bed.objects.get(pk=bed.pk).status == "vacant"
    assert not Offer.objects.filter(application__in=[first, second]).exists()
    assert Bed.objects.filter(facility=home, holder_care_level="self_care").count() == 22


def test_a_nursing_bed_goes_to_a_self_care_applicant_while_one_place_of_the_quota_is_left():
    """R-NQ-1: the cap is 22 for 100 beds; with 21 held the first self-care applicant takes the bed
    (the counterpart of the test above: the quota blocks at the cap, not before)."""
    home = home_full(nursing=78, general=22, self_care_held=21)
    first = queued_application(grade=1, choices=["YX01"])  # care points 10: ranks above grade 0
    queued_application(grade=0, choices=["YX01"])
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == first.reference
    assert decision.quota_after == {"self_care_cap": 22, "self_care_held": 22}


def test_suspended_and_offer_holding_entries_are_skipped_and_keep_their_place():
    """R-ALLOC-1 suspended, offer_pending (R-OFF-3), R-Q-1 skipped entries keep their place."""
    FacilityFactory(code="GZC01", level="city")
    other = FacilityFactory(code="YX02")
    (other_bed,) = add_beds(other, nursing=1, status="vacant")
    home = home_full(nursing=9, general=1)
    holder = queued_application(grade=4, choices=["GZC01", "YX02"])  # offered YX02's vacant bed at once
    assert Offer.objects.get(application=holder).bed == other_bed
    suspended = queued_application(grade=4, choices=["YX01"])
    app_services.application_suspend(application=suspended, reason="in hospital", actor=actor("intake"))
    third = queued_application(grade=2, choices=["YX01"])
    FacilityFactory(code="YX01")
    # holder chose GZC01 and YX02 only; give YX01 a vacancy: third is chosen, suspended skipped.
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == third.reference
    assert skipped_reasons(decision) == {suspended.reference: "suspended"}
    assert [row["rank"] for row in decision.skipped] == [1]


def test_an_application_holding_an_offer_elsewhere_is_skipped_with_offer_pending():
    """R-OFF-3: an application with a live offer gets no other offer (STORIES 4)."""
    FacilityFactory(code="GZC01", level="city")
    city_bed = add_beds(FacilityFactory(code="GZC01"), nursing=1, status="vacant")[0]
    home = home_full(nursing=9, general=1)
    holder = queued_application(grade=4, choices=["GZC01", "YX01"])
    assert Offer.objects.get(application=holder).bed == city_bed
    next_one = queued_application(grade=2, choices=["YX01"])
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert skipped_reasons(decision) == {holder.reference: "offer_pending"}
    assert decision.chosen["reference"] == next_one.reference
    assert Offer.objects.filter(application=holder, state__in=["pending", "accepted"]).count() == 1


def test_an_application_whose_assessment_expired_is_skipped_and_keeps_its_place():
    """R-ASM-5 / R-ALLOC-1 assessment_expired."""
    home = home_full(nursing=9, general=1)
    with time_machine.travel(dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)):
        old = queued_application(grade=4, choices=["YX01"])
    with time_machine.travel(dt.datetime(2027, 1, 10, 10, tzinfo=dt.UTC)):
        fresh = queued_application(grade=2, choices=["YX01"])
        bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert skipped_reasons(decision) == {old.reference: "assessment_expired"}
    assert decision.chosen["reference"] == fresh.reference


def test_an_applicant_who_refused_a_bed_is_not_offered_it_again_until_someone_else_has_occupied_it():
    """R-ALLOC-1 refused_this_bed; R-OFF-4 the bed goes straight to the next candidate."""
    home = home_full(nursing=9, general=1)
    (bed,) = add_beds(home, nursing=1, status="out_of_service")
    first = queued_application(grade=4, choices=["YX01"])
    second = queued_application(grade=2, choices=["YX01"])
    bed_return_to_service(bed=bed)
    offer = Offer.objects.get(application=first)
    _, decisions = offer_decline(offer=offer, reason="too far", actor=actor("facility"))
    (decision,) = decisions
    assert skipped_reasons(decision) == {first.reference: "refused_this_bed"}
    assert decision.chosen["reference"] == second.reference
    assert decision.trigger == "offer_refused"


def test_with_no_candidate_the_bed_stays_vacant_and_a_decision_is_still_written():
    """R-ALLOC-3 / R-ALLOC-2."""
    home = FacilityFactory(code="YX01")
    bed, decisions = bed_create(facility=home, code="N-1", bed_type="nursing", actor=SYSTEM)
    assert Bed.objects.get(pk=bed.pk).status == "vacant"
    assert decisions[0].chosen is None and decisions[0].skipped == []


# --- R-ALLOC-3: what starts an allocation -----------------------------------------------------------
def test_approving_an_application_allocates_a_vacant_bed_of_a_chosen_home():
    """R-ALLOC-3 an application approved."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=3, choices=["YX01"])
    assert Application.objects.get(pk=application.pk).state == "offered"
    assert latest_decision(home).trigger == "application_approved"


def test_resuming_an_application_allocates():
    """R-ALLOC-3 an application resumed."""
    home = home_full(nursing=9, general=1)
    application = queued_application(grade=3, choices=["YX01"])
    app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
    (bed,) = add_beds(home, nursing=1, status="vacant")
    app_services.application_resume(application=application, actor=actor("intake"))
    assert Offer.objects.get(application=application).bed == bed


def test_a_staff_request_allocates_every_vacant_bed():
    """R-ALLOC-3 a staff member's request (API: POST /facilities/{code}/allocate/)."""
    home = FacilityFactory(code="YX01")
    a = queued_application(grade=3, choices=["YX01"])
    b = queued_application(grade=2, choices=["YX01"])
    add_beds(home, nursing=3, status="vacant")
    decisions = allocation_run(facility=home, trigger="staff_request", actor=actor("facility"))
    assert len(decisions) == 3
    assert sorted(d.chosen["reference"] for d in decisions if d.chosen) == sorted([a.reference, b.reference])


def test_a_bed_taken_out_of_service_lowers_the_cap_but_displaces_nobody():
    """R-NQ-1: nobody already holding a bed is displaced when the cap falls."""
    from admissions.selectors import facility_quota

    home = home_full(nursing=78, general=22, self_care_held=22)
    add_beds(home, general=1, status="vacant")
    bed = Bed.objects.get(facility=home, status="vacant")
    bed_take_out_of_service(bed=bed, reason="repairs")
    quota = facility_quota(home)
    assert quota.self_care_held == 22 and quota.self_care_cap == 22 and quota.headroom == 0
    with pytest.raises(Conflict):
        bed_take_out_of_service(bed=Bed.objects.filter(facility=home, status="occupied").first())


# --- R-ALLOC-2: the decision record and its chain -------------------------------------------------------
def test_decisions_are_hash_chained_per_facility_and_verify_decisions_finds_the_first_broken_one(capsys):
    """R-ALLOC-2: append-only and hash-chained; the command names the first bad decision."""
    home = FacilityFactory(code="YX01")
    for i in range(3):
        bed_create(facility=home, code=f"N-{i}", bed_type="nursing")
    chain = list(AllocationDecision.objects.filter(facility=home).order_by("sequence"))
    assert [d.sequence for d in chain] == [1, 2, 3]
    assert chain[0].previous_hash is None and chain[1].previous_hash == chain[0].hash
    assert first_chain_break() is None
    call_command("verify_decisions")
    assert "OK" in capsys.readouterr().out

    table = AllocationDecision._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            with pytest.raises(DatabaseError):  # the database refuses edits
                with transaction.atomic():
                    cursor.execute(f"UPDATE {table} SET trigger = 'forged' WHERE id = %s", [chain[1].pk])
            # Someone with DDL rights removes the guard and forges a decision: the chain shows it.
            cursor.execute(
                f"DROP TRIGGER {table}_append_only" + (f" ON {table}" if connection.vendor == "postgresql" else "")
            )
            cursor.execute(f"UPDATE {table} SET trigger = 'forged' WHERE id = %s", [chain[1].pk])
        broken = first_chain_break()
        assert broken.decision.pk == chain[1].pk
        with pytest.raises(SystemExit) as exit_info:
            call_command("verify_decisions")
        assert exit_info.value.code == 1
        assert f"id={chain[1].pk}" in capsys.readouterr().err
        transaction.set_rollback(True)


def _drop_append_only_trigger(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TRIGGER {table}_append_only" + (f" ON {table}" if connection.vendor == "postgresql" else "")
        )


def _forge(decision: AllocationDecision, field: str) -> dict:
    """A plausible forgery of one field, as someone who can write the table would make it."""
    forged_rows = [dict(row) for row in decision.skipped]
    return {
        "skipped_reason": {"skipped": [{**forged_rows[0], "reason": "suspended"}]},
        "skipped_removed": {"skipped": []},
        "skipped_rank": {"skipped": [{**forged_rows[0], "rank": 2}]},
        "chosen": {"chosen": {**decision.chosen, "reference": "2026-999999"}},
        "bed": {"bed_id": Bed.objects.filter(facility_id=decision.facility_id).exclude(pk=decision.bed_id).first().pk},
        "made_at": {"made_at": decision.made_at - dt.timedelta(days=1)},
        "policy_version": {"policy_version": decision.policy_version + 1},
        "trigger": {"trigger": "staff_request"},
        "quota_before": {"quota_before": {**decision.quota_before, "self_care_held": 0}},
        "quota_after": {"quota_after": {**decision.quota_after, "self_care_cap": 99}},
    }[field]


@pytest.mark.parametrize(
    "field",
    [
        "skipped_reason",
        "skipped_removed",
        "skipped_rank",
        "chosen",
        "bed",
        "made_at",
        "policy_version",
        "trigger",
        "quota_before",
        "quota_after",
    ],
)
def test_verify_decisions_finds_a_decision_whose_content_was_rewritten_in_the_database(field, capsys):
    """R-ALLOC-2: the hash covers everything the decision says — who was chosen, who was skipped and
    why, at which rank, the bed, the time, the policy and the quota figures. Rewriting any of them
    (with the database's append-only trigger removed) is named by verify_decisions."""
    home = home_full(nursing=9, general=1)
    self_care = queued_application(  # special channel: ranks above the nursing-level applicant
        grade=1, choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "cert"}]
    )
    nursing = queued_application(grade=2, choices=["YX01"])
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    bed_create(facility=home, code="N-NEW", bed_type="nursing")  # a later decision in the same chain
    decision = AllocationDecision.objects.get(facility=home, chosen__reference=nursing.reference)
    assert skipped_reasons(decision) == {self_care.reference: "reserved_for_nursing"}
    assert AllocationDecision.objects.filter(facility=home, sequence__gt=decision.sequence).exists()
    assert first_chain_break() is None

    with transaction.atomic():
        _drop_append_only_trigger(AllocationDecision._meta.db_table)
        # A plain QuerySet: what hand-written SQL would do, past the model's own guard.
        models.QuerySet(model=AllocationDecision).filter(pk=decision.pk).update(**_forge(decision, field))
        broken = first_chain_break()
        assert broken is not None and broken.decision.pk == decision.pk
        with pytest.raises(SystemExit) as exit_info:
            call_command("verify_decisions")
        assert exit_info.value.code == 1
        assert f"id={decision.pk}" in capsys.readouterr().err
        transaction.set_rollback(True)


def test_a_decision_cannot_be_edited_or_deleted_through_the_orm():
    """R-ALLOC-2 append-only."""
    from admissions.models.append_only import AppendOnlyError

    home = FacilityFactory(code="YX01")
    bed_create(facility=home, code="N-1", bed_type="nursing")
    decision = latest_decision(home)
    decision.trigger = "changed"
    with pytest.raises(AppendOnlyError):
        decision.save()
    with pytest.raises(AppendOnlyError):
        decision.delete()
    with pytest.raises(AppendOnlyError):
        AllocationDecision.objects.all().delete()
