"""Allocation: order, skip reasons, bed matching and the nursing quota (SPEC §7)."""

import datetime as dt
import hashlib
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

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
from tests import spec
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


# --- What an offer made by the allocation leaves behind (R-ALLOC-1, R-FSM-2, R-OFF-1) ------------------
def test_an_offer_made_by_a_staff_request_is_recorded_in_its_event_its_message_and_its_webhook(settings):
    """R-FSM-2: the make_offer event names the offer, the home, the bed, the decision and the deadline,
    made by the system for the staff member who asked (SPEC §5). R-OFF-1: made Wednesday 30 Sep 2026,
    the answer is due 13 Oct 23:59:59 (1–7 Oct off, Saturday 10 Oct worked), and the family's message
    says so, with the home's name and address and the 5 working days allowed for admission."""
    from admissions.models import ApplicationEvent, Notification, WebhookDelivery
    from admissions.services.webhooks import webhook_subscribe

    shanghai = dt.timezone(dt.timedelta(hours=8))
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # R-SEC-5: a loopback receiver is listed explicitly
    webhook_subscribe(url="http://127.0.0.1:9/hook", events=["offer.made"], secret="s" * 20, actor=actor("admin"))
    home = FacilityFactory(code="YX01", name="Yuexiu Home", address="8 Jiefang Road")
    with time_machine.travel(dt.datetime(2026, 9, 30, 17, 0, tzinfo=shanghai)):
        application = queued_application(grade=3, choices=["YX01"])
        version_before = Application.objects.get(pk=application.pk).version
        messages_before = set(Notification.objects.values_list("pk", flat=True))
        (bed,) = add_beds(home, nursing=1, status="vacant")
        (decision,) = allocation_run(facility=home, trigger="staff_request", actor=actor("facility"))

    offer = Offer.objects.get(application=application)
    # R-ALLOC-2: the decision names the entry chosen; a nursing-level holder leaves the self-care count as it was.
    decision.refresh_from_db()
    assert decision.chosen_entry_id == offer.queue_entry_id
    assert decision.quota_before == decision.quota_after == {"self_care_cap": 0, "self_care_held": 0}
    respond_by = dt.datetime(2026, 10, 13, 23, 59, 59, tzinfo=shanghai)
    assert offer.respond_by == respond_by
    assert Application.objects.get(pk=application.pk).version == version_before + 1
    assert Bed.objects.get(pk=bed.pk).status == "reserved"
    assert Bed.objects.get(pk=bed.pk).holder_care_level == "nursing"

    event = ApplicationEvent.objects.get(application=application, transition="make_offer")
    assert (event.from_state, event.to_state, event.actor_kind) == ("waiting", "offered", "system")
    assert event.data == {
        "started_by": "facility",
        "offer": offer.pk,
        "facility": "YX01",
        "bed": bed.code,
        "decision": decision.pk,
        "respond_by": respond_by.isoformat(),
    }

    # One message about the offer, not a second one about the state change it made.
    messages = Notification.objects.exclude(pk__in=messages_before)
    assert set(messages.values_list("kind", flat=True)) == {"offer_made"}
    notification = messages.first()
    for words in ("Yuexiu Home", "8 Jiefang Road", "2026年10月13日 23:59", "5"):
        assert re.search(rf"(?<![A-Za-z0-9]){re.escape(words)}(?![A-Za-z0-9])", notification.body), words

    (delivery,) = WebhookDelivery.objects.filter(type="offer.made")
    assert delivery.payload["id"] == offer.pk
    assert delivery.payload["application"] == application.reference


# --- R-ALLOC-1 / R-NQ-2: the walk's record of who was skipped ---------------------------------------
def test_entries_skipped_on_a_nursing_bed_are_recorded_in_rank_order_whatever_order_they_were_met_in():
    """R-ALLOC-1 / R-ALLOC-2: the self-care applicant at rank 1 is held aside until the walk finds the
    nursing-level one at rank 3; it is recorded reserved_for_nursing before rank 2's suspended."""
    home = home_full(nursing=9, general=1)
    self_care = queued_application(
        grade=1, choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "cert"}]
    )
    suspended = queued_application(grade=4, choices=["YX01"])
    app_services.application_suspend(application=suspended, reason="in hospital", actor=actor("intake"))
    nursing = queued_application(grade=2, choices=["YX01"])
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen["reference"] == nursing.reference
    assert decision.chosen["rank"] == 3
    assert [(row["reference"], row["rank"], row["reason"]) for row in decision.skipped] == [
        (self_care.reference, 1, "reserved_for_nursing"),
        (suspended.reference, 2, "suspended"),
    ]


def test_a_self_care_applicant_given_a_nursing_bed_has_only_the_entries_ranked_above_it_recorded():
    """R-ALLOC-1: "every entry ranked above the chosen one is skipped with a reason" — the entries
    below the chosen one (here a suspended one at rank 3) are not part of the decision."""
    home = home_full(nursing=78, general=22, self_care_held=10)
    above = queued_application(grade=4, choices=["YX01"])
    app_services.application_suspend(application=above, reason="in hospital", actor=actor("intake"))
    self_care = queued_application(grade=1, choices=["YX01"])
    below = queued_application(grade=0, choices=["YX01"])
    app_services.application_suspend(application=below, reason="in hospital", actor=actor("intake"))
    bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert decision.chosen == {"reference": self_care.reference, "rank": 2, "score": decision.chosen["score"]}
    assert [(row["reference"], row["rank"], row["reason"]) for row in decision.skipped] == [
        (above.reference, 1, "suspended")
    ]


def test_an_assessment_valid_until_today_still_counts_and_one_that_ended_yesterday_does_not():
    """R-ASM-5 / R-ALLOC-1 assessment_expired: valid 365 days (SPEC §9) — assessed 5 Jan 2026, valid
    through 5 Jan 2027; skipped from 6 Jan 2027."""
    assert spec.ASSESSMENT_VALID_DAYS == 365
    home = home_full(nursing=9, general=1)
    with time_machine.travel(dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)):
        application = queued_application(grade=4, choices=["YX01"])
    assert application.current_assessment.valid_until == dt.date(2027, 1, 5)
    beds = Bed.objects.filter(facility=home, bed_type="nursing").order_by("id")
    with time_machine.travel(dt.datetime(2027, 1, 5, 10, tzinfo=dt.UTC)):
        bed_discharge(bed=beds[0], reason="deceased")
    assert latest_decision(home).chosen["reference"] == application.reference
    Offer.objects.get(application=application)  # offered on the last valid day


def test_an_expired_assessment_is_skipped_the_day_after_its_last_valid_day():
    """R-ASM-5 / R-ALLOC-1 assessment_expired, the other side of the boundary above."""
    home = home_full(nursing=9, general=1)
    with time_machine.travel(dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)):
        application = queued_application(grade=4, choices=["YX01"])
    with time_machine.travel(dt.datetime(2027, 1, 6, 10, tzinfo=dt.UTC)):
        bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    assert skipped_reasons(latest_decision(home)) == {application.reference: "assessment_expired"}


def test_an_applicant_whose_admission_check_failed_is_not_offered_the_same_bed_straight_back():
    """R-ALLOC-1 refused_this_bed: a failed admission check (reason other) counts like a refusal of
    this bed; the bed goes to the next candidate."""
    from admissions.services.offers import offer_accept, offer_fail_check

    home = home_full(nursing=9, general=1)
    (bed,) = add_beds(home, nursing=1, status="out_of_service")
    FacilityFactory(code="YX02")
    queued_application(grade=2, choices=["YX02"])  # waits elsewhere: offers and applications are numbered apart
    first = queued_application(grade=4, choices=["YX01"])
    second = queued_application(grade=2, choices=["YX01"])
    bed_return_to_service(bed=bed)
    offer = offer_accept(offer=Offer.objects.get(application=first), actor=actor("facility"))
    _, decisions = offer_fail_check(offer=offer, reason="other", actor=actor("facility"))
    (decision,) = decisions
    assert skipped_reasons(decision) == {first.reference: "refused_this_bed"}
    assert decision.chosen["reference"] == second.reference


def test_a_refusal_of_a_bed_lapses_once_someone_else_has_occupied_it():
    """R-ALLOC-1 refused_this_bed "until someone else has occupied it": the second applicant moves in
    and later leaves; the bed is then offered to the first again."""
    from admissions.services.offers import offer_accept, offer_admit

    home = home_full(nursing=9, general=1)
    (bed,) = add_beds(home, nursing=1, status="out_of_service")
    first = queued_application(grade=4, choices=["YX01"])
    second = queued_application(grade=2, choices=["YX01"])
    bed_return_to_service(bed=bed)
    offer_decline(offer=Offer.objects.get(application=first), reason="too far", actor=actor("facility"))
    taken = offer_accept(offer=Offer.objects.get(application=second, state="pending"), actor=actor("facility"))
    offer_admit(offer=taken, actor=actor("facility"))
    bed_discharge(bed=Bed.objects.get(pk=bed.pk), reason="discharged")
    decision = latest_decision(home)
    assert decision.bed_id == bed.pk
    assert decision.chosen["reference"] == first.reference
    assert decision.skipped == []


# --- What starts an allocation, and for which beds (R-ALLOC-3) -----------------------------------
def test_allocating_a_bed_that_is_not_vacant_is_refused_and_writes_no_decision():
    """R-ALLOC-3 staff request for one bed: an occupied bed is not allocated (409, naming the bed's
    status), and nothing is written."""
    home = home_full(nursing=9, general=1)
    queued_application(grade=3, choices=["YX01"])
    occupied = Bed.objects.filter(facility=home, bed_type="nursing").first()
    before = AllocationDecision.objects.count()
    with pytest.raises(Conflict) as refused:
        allocation_run(facility=home, trigger="staff_request", bed=occupied)
    assert refused.value.extra == {"bed_status": "occupied"}
    assert AllocationDecision.objects.count() == before


def test_allocating_a_list_of_beds_allocates_those_beds_only():
    """R-ALLOC-3: a run for some beds (beds returned to service) leaves the others vacant."""
    home = FacilityFactory(code="YX01")
    first, second, third = add_beds(home, nursing=3, status="vacant")
    decisions = allocation_run(facility=home, trigger="staff_request", beds=[first, third])
    assert [d.bed_id for d in decisions] == [first.pk, third.pk]


def test_an_approval_at_a_home_with_several_empty_beds_writes_one_empty_decision_per_bed_type():
    """R-ALLOC-3 an application approved, R-ALLOC-2 "a bed that stays empty shows once": the applicant
    takes the first vacant nursing bed; the second finds nobody, the third is not walked again, and
    the general bed (another type) gets its one empty decision."""
    home = FacilityFactory(code="YX01")
    beds = add_beds(home, nursing=3, status="vacant") + add_beds(home, general=1, status="vacant")
    before = AllocationDecision.objects.filter(facility=home).count()
    application = queued_application(grade=3, choices=["YX01"])
    new = list(AllocationDecision.objects.filter(facility=home, sequence__gt=before).order_by("sequence"))
    # The third nursing bed is passed over; the general bed after it is still walked once.
    assert [(d.bed_id, d.chosen["reference"] if d.chosen else None) for d in new] == [
        (beds[0].pk, application.reference),
        (beds[1].pk, None),
        (beds[3].pk, None),
    ]
    assert new[1].skipped == [
        {"reference": application.reference, "rank": 1, "score": new[0].chosen["score"], "reason": "offer_pending"}
    ]


def test_a_decision_is_hashed_as_sha256_of_the_canonical_json_of_everything_it_says():
    """R-ALLOC-2 (and §15: anyone can recompute it): keys sorted, no spaces, the time in UTC, and the
    previous hash (none for the first decision of a home). Written out by hand, so the hash does not
    merely agree with itself: 1 in-service bed at 0.78 → a self-care cap of 0 (R-NQ-1)."""
    home = FacilityFactory(code="YX01")
    # 17:30 in Beijing, the local time of the homes and of this process: recorded as 09:30 UTC.
    with time_machine.travel(dt.datetime(2026, 3, 2, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        bed, (decision,) = bed_create(facility=home, code="N-1", bed_type="nursing", actor=SYSTEM)
    canonical = (
        f'{{"bed":{bed.pk},"chosen":null,"facility":{home.pk},"made_at":"2026-03-02T09:30:00+00:00",'
        '"policy_version":1,"previous_hash":null,"quota_after":{"self_care_cap":0,"self_care_held":0},'
        '"quota_before":{"self_care_cap":0,"self_care_held":0},"sequence":1,"skipped":[],"trigger":"bed_added"}'
    )
    assert decision.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_an_approval_allocates_at_the_chosen_homes_with_a_vacancy_only_in_the_name_of_the_approver():
    """R-ALLOC-3 "for each facility it chose that has a vacant bed": YX01 has a vacant bed but was not
    chosen, so nothing is written there; the chosen YX03's bed is offered, the event naming the
    reviewer who approved as the one who set the allocation off (R-FSM-2)."""
    from admissions.models import ApplicationEvent

    not_chosen = FacilityFactory(code="YX01")
    FacilityFactory(code="YX02")
    chosen = FacilityFactory(code="YX03")
    add_beds(not_chosen, nursing=1, status="vacant")
    (bed,) = add_beds(chosen, nursing=1, status="vacant")
    application = queued_application(grade=3, choices=["YX03"])
    assert Offer.objects.get(application=application).bed == bed
    assert not AllocationDecision.objects.filter(facility=not_chosen).exists()
    event = ApplicationEvent.objects.get(application=application, transition="make_offer")
    assert event.data["started_by"] == "reviewer"


def test_refusing_one_bed_does_not_keep_the_applicant_from_another_bed_of_the_same_home():
    """R-ALLOC-1 refused_this_bed is about "this same bed": the applicant who turned down one bed is
    offered the next bed of that home that falls vacant."""
    home = home_full(nursing=9, general=1)
    first_bed, second_bed = add_beds(home, nursing=2, status="out_of_service")
    first = queued_application(grade=4, choices=["YX01"])
    bed_return_to_service(bed=first_bed)
    offer_decline(offer=Offer.objects.get(application=first), reason="too far", actor=actor("facility"))
    bed_return_to_service(bed=second_bed)
    decision = latest_decision(home)
    assert decision.bed_id == second_bed.pk
    assert decision.chosen["reference"] == first.reference
    assert decision.skipped == []


def test_a_refused_bed_records_the_refusal_even_after_a_bed_of_its_type_found_nobody_in_the_same_run():
    """R-ALLOC-1 / R-ALLOC-2: within one run a bed type that found nobody is not walked again — except
    for a bed someone refused, whose walk says so. A self-care applicant refused general bed G2 while
    the quota had room (7 in-service beds → cap ⌊7 × 0.22⌋ = 1, R-NQ-1); the quota then fills, and a
    staff request allocates G1 (nobody: nursing_quota_full) and G2 (the applicant: refused_this_bed)."""
    home = FacilityFactory(code="YX01")
    (g1,) = add_beds(home, general=1, status="out_of_service")
    add_beds(home, nursing=4, holder="nursing")
    (g2,) = add_beds(home, general=1, status="vacant")
    applicant = queued_application(grade=0, choices=["YX01"])
    offer = Offer.objects.get(application=applicant)
    assert offer.bed == g2
    offer_decline(offer=offer, reason="too far", actor=actor("facility"))
    add_beds(home, general=1, holder="self_care")  # the one self-care place is taken
    Bed.objects.filter(pk=g1.pk).update(status="vacant")  # back in service, not yet allocated
    g1_decision, g2_decision = allocation_run(facility=home, trigger="staff_request", actor=actor("facility"))
    assert g1_decision.bed_id == g1.pk and g2_decision.bed_id == g2.pk
    assert g1_decision.quota_before == {"self_care_cap": 1, "self_care_held": 1}
    assert skipped_reasons(g1_decision) == {applicant.reference: "nursing_quota_full"}
    assert skipped_reasons(g2_decision) == {applicant.reference: "refused_this_bed"}


def test_a_new_policy_version_is_in_force_for_the_first_allocation_on_its_date_at_every_home():
    """§9, R-POL-1: the version in force on the day of a decision applies to it. From 1 Dec care
    points for grade 2 rise to 100 (R-Q-3 weights as policy data), so at the first allocation after
    that date the grade-2 applicant ranks above the grade-4 one; the allocation found the act due and
    ran it first, so the entry at another home is under the new version too (no answer mixes two)."""
    from admissions.models import QueueEntry
    from admissions.services.policy import policy_create

    home = home_full(nursing=9, general=1)
    FacilityFactory(code="YX02")
    with time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)):
        grade_4 = queued_application(grade=4, choices=["YX01"])
        grade_2 = queued_application(grade=2, choices=["YX01"])
        elsewhere = queued_application(grade=2, choices=["YX02"])
        weights = {
            "care": {"0": 0, "1": 10, "2": 100, "3": 30, "4": 40},
            "age": [[100, 10], [90, 8], [80, 5], [70, 2]],
            "family": {"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 5},
            "waiting": {"points": 1, "period_days": 30},
        }
        policy = policy_create(
            effective_from=dt.date(2026, 12, 1), parameters={"score_weights": weights}, actor=actor("admin")
        )
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)):
        bed_discharge(bed=Bed.objects.filter(facility=home, bed_type="nursing").first(), reason="deceased")
    decision = latest_decision(home)
    assert decision.policy_version == policy.version
    assert decision.chosen["reference"] == grade_2.reference
    assert QueueEntry.objects.get(application=grade_4).policy_version == policy.version
    assert QueueEntry.objects.get(application=elsewhere).policy_version == policy.version


def test_the_public_form_of_a_decision_names_each_persons_channel_and_care_level_r_ver_2():
    """R-VER-2: the published decision keeps, for the chosen and every skipped person, their entry's
    channel and care level at this home (what an allocation run reads once for all its decisions)."""
    home = home_full(nursing=9, general=0)
    nursing = queued_application(grade=2, choices=["YX01"])
    self_care = queued_application(grade=0, choices=["YX01"])
    (decision,) = allocation_run(facility=home, trigger="bed_added", beds=add_beds(home, general=1, status="vacant"))
    assert decision.chosen["reference"] == self_care.reference
    assert [row["reference"] for row in decision.skipped] == [nursing.reference]
    chosen, (skipped,) = decision.public["chosen"], decision.public["skipped"]
    assert (chosen["channel"], chosen["care_level"]) == ("ordinary", "self_care")
    assert (skipped["channel"], skipped["care_level"]) == ("ordinary", "nursing")
