"""R-ALLOC-2 (amended): an attempt that finds no candidate for a bed, with the same (reference, reason)
pairs and the same quota figures as the bed's last decision, writes no new decision but an unhashed
confirmation row; the chain (R-VER-1, R-VER-2) is unaffected and the public board shows the bed's
decision once (§15)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from admissions.decisions import first_chain_break
from admissions.models import AllocationDecision, DecisionConfirmation
from admissions.public import public_board
from admissions.services import applications as app_services
from admissions.services.allocation import allocation_run
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def home():
    """Nine nursing beds occupied and one general bed vacant, which a nursing-level applicant cannot
    take (bed_type_mismatch): every attempt at it finds nobody."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, holder="nursing")
    add_beds(home, general=1, status="vacant")
    return home


@pytest.fixture
def general_bed(home):
    return Bed.objects.get(facility=home, bed_type="general")


def decisions_for(bed) -> list[AllocationDecision]:
    return list(AllocationDecision.objects.filter(bed=bed).order_by("sequence"))


def test_repeated_empty_attempts_write_one_decision_and_a_confirmation_row_each_r_alloc_2(home, general_bed):
    """Ranks and scores may differ (a month later the waiting points have moved): still the same."""
    with time_machine.travel(T0, tick=False):
        nursing = queued_application(grade=3, choices=["YX01"])  # approval tried the bed: decision 1
    (decision,) = decisions_for(general_bed)
    assert decision.chosen is None and decision.skipped[0]["reason"] == "bed_type_mismatch"
    later = T0 + dt.timedelta(days=65)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        (again,) = allocation_run(facility=home, trigger="staff_request")
    with time_machine.travel(later, tick=False):
        (third,) = allocation_run(facility=home, trigger="staff_request")
    assert decisions_for(general_bed) == [decision]
    assert again.pk == third.pk == decision.pk
    confirmations = list(DecisionConfirmation.objects.filter(decision=decision).order_by("at"))
    assert [(c.bed_id, c.at, c.trigger) for c in confirmations] == [
        (general_bed.pk, T0 + dt.timedelta(hours=1), "staff_request"),
        (general_bed.pk, later, "staff_request"),
    ]
    assert AllocationDecision.objects.get(pk=decision.pk).last_confirmed_at == later
    assert decision.skipped[0]["reference"] == nursing.reference


def test_a_changed_reason_writes_a_new_decision_r_alloc_2(home, general_bed):
    with time_machine.travel(T0, tick=False):
        nursing = queued_application(grade=3, choices=["YX01"])
        app_services.application_suspend(application=nursing, reason="in hospital", actor=actor("intake"))
        allocation_run(facility=home, trigger="staff_request")
    first, second = decisions_for(general_bed)
    assert first.skipped[0]["reason"] == "bed_type_mismatch" and second.skipped[0]["reason"] == "suspended"
    assert not DecisionConfirmation.objects.exists()


def test_another_entry_skipped_writes_a_new_decision_r_alloc_2(home, general_bed):
    with time_machine.travel(T0, tick=False):
        queued_application(grade=3, choices=["YX01"])
        queued_application(grade=4, choices=["YX01"])  # approval tried the bed again: two pairs now
    first, second = decisions_for(general_bed)
    assert len(first.skipped) == 1 and len(second.skipped) == 2
    assert not DecisionConfirmation.objects.exists()


def test_a_changed_quota_figure_writes_a_new_decision_r_alloc_2(home, general_bed):
    """Five more beds in service raise the self-care cap (R-NQ-1): the figures differ."""
    with time_machine.travel(T0, tick=False):
        queued_application(grade=3, choices=["YX01"])
        add_beds(home, nursing=5, holder="nursing")
        allocation_run(facility=home, trigger="staff_request")
    first, second = decisions_for(general_bed)
    assert first.quota_before != second.quota_before
    assert not DecisionConfirmation.objects.exists()


def test_confirmation_rows_leave_the_chain_verifiable_and_the_board_shows_the_bed_once_r_alloc_2(home, general_bed):
    with time_machine.travel(T0, tick=False):
        queued_application(grade=3, choices=["YX01"])
        for _ in range(5):
            allocation_run(facility=home, trigger="staff_request")
    assert DecisionConfirmation.objects.count() == 5
    assert first_chain_break() is None
    call_command("verify_decisions")
    board = public_board(home)
    assert [d.bed_code for d in board.recent_decisions] == [general_bed.code]


def test_the_board_shows_a_bed_once_even_for_empty_decisions_written_before_confirmation_rows(
    home, general_bed, monkeypatch
):
    """§15, R-ALLOC-2: decisions from before the amendment repeat for an empty bed; the public board
    collapses a run of identical empty decisions of one bed, while the chain keeps them all."""
    from admissions.services import allocation

    monkeypatch.setattr(allocation, "_same_empty_decision", lambda *args, **kwargs: None)  # the old code
    with time_machine.travel(T0, tick=False):
        queued_application(grade=3, choices=["YX01"])
        for _ in range(3):
            allocation_run(facility=home, trigger="staff_request")
    assert len(decisions_for(general_bed)) == 4
    board = public_board(home)
    assert [d.bed_code for d in board.recent_decisions] == [general_bed.code]
    assert board.recent_decisions[0].sequence == decisions_for(general_bed)[-1].sequence
    assert first_chain_break() is None


def _queries_of_a_staff_request(home) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        allocation_run(facility=home, trigger="staff_request")
    return len(captured.captured_queries)


def test_an_empty_attempt_costs_no_query_per_bed_r_alloc_2(home):
    more = 40
    """Issue 18 and the fuzzer's timeout: a home with thousands of vacant beds that nobody can take
    must not hold the facility's lock for a query per bed. Refusals, each bed's last decision and the
    chain's head are read once per run, and the confirmations are written together, so a run over
    41 empty beds costs the same queries as a run over one."""
    queued_application(grade=3, choices=["YX01"])  # nursing level: no general bed suits them
    allocation_run(facility=home, trigger="staff_request")  # every bed's decision is now written
    one_bed = _queries_of_a_staff_request(home)
    add_beds(home, general=more, status="vacant")
    allocation_run(facility=home, trigger="staff_request")  # the new beds' first decisions
    before = DecisionConfirmation.objects.count()
    many_beds = _queries_of_a_staff_request(home)
    assert DecisionConfirmation.objects.count() - before == 1 + more  # each bed confirmed, none skipped
    assert many_beds == one_bed


def test_another_person_skipped_for_the_same_reason_writes_a_new_decision_r_alloc_2(home, general_bed):
    """The pairs compared are (reference, reason): one nursing applicant withdrawn and another come,
    both skipped for bed_type_mismatch, is a different decision, not a confirmation."""
    with time_machine.travel(T0, tick=False):
        first_applicant = queued_application(grade=3, choices=["YX01"])
        app_services.application_withdraw(application=first_applicant, reason="moved away", actor=actor("intake"))
        second_applicant = queued_application(grade=3, choices=["YX01"])
    first, second = decisions_for(general_bed)
    assert [row["reference"] for row in first.skipped] == [first_applicant.reference]
    assert [row["reference"] for row in second.skipped] == [second_applicant.reference]
    assert not DecisionConfirmation.objects.exists()
