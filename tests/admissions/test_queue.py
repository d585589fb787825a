"""The queue: order, score, positions and estimated wait (R-Q-1…5)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import Occupancy, Policy, QueueEntry
from admissions.policy import PolicyParameters
from admissions.selectors import position_for_entry, positions_for_application, queue_for_facility, queue_walk
from admissions.services import applications as app_services
from admissions.services.policy import policy_create
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DIBAO = {"verify": ("dibao",), "categories": [{"code": "dibao", "evidence": "低保证 2024-001"}]}
YOUFU = {"verify": ("youfu",), "categories": [{"code": "youfu", "evidence": "优抚证"}]}


@pytest.fixture
def home():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=10)  # full: nobody is offered a bed while the queue is built
    return home


def order(home):
    return [entry.application.reference for entry in queue_for_facility(home)]


def test_the_queue_orders_by_channel_then_score_then_queued_at_then_reference(home):
    """R-Q-2."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        ordinary_high = queued_application(grade=4, choices=["YX01"])  # ordinary, care 40
        special_low = queued_application(grade=2, choices=["YX01"], **DIBAO)  # special, 20
    with time_machine.travel(t0 + dt.timedelta(hours=1), tick=False):
        priority = queued_application(grade=2, choices=["YX01"], **YOUFU)
        ordinary_same_later = queued_application(grade=4, choices=["YX01"])  # same score, queued later
    assert order(home) == [
        special_low.reference,
        priority.reference,
        ordinary_high.reference,
        ordinary_same_later.reference,
    ]


def test_equal_keys_fall_back_to_the_reference_so_the_order_is_total(home):
    """R-Q-2 final tie-break."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        a = queued_application(grade=3, choices=["YX01"])
        b = queued_application(grade=3, choices=["YX01"])
    QueueEntry.objects.filter(application=b).update(queued_at=a.queued_at, queued_epoch=int(a.queued_at.timestamp()))
    assert order(home) == sorted([a.reference, b.reference])
    assert order(home) == order(home)


def test_mrs_chens_score_is_care_twenty_age_five_lives_alone_three(home):
    """R-Q-3 (STORIES 2): 20 + 5 + 3 = 28 at the district home."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        chen = queued_application(
            grade=2, choices=["YX01"], date_of_birth=dt.date(1941, 3, 2), lives_alone=True, **DIBAO
        )
        (position,) = positions_for_application(chen)
    assert position.score == 28
    assert position.score_breakdown == {"care": 20, "age": 5, "family": 3, "waiting": 0}
    assert chen.channel_code == "special"


@pytest.mark.parametrize(
    ("born", "points"),
    [
        (dt.date(1957, 1, 1), 0),
        (dt.date(1950, 1, 1), 2),
        (dt.date(1940, 1, 1), 5),
        (dt.date(1930, 1, 1), 8),
        (dt.date(1925, 1, 1), 10),
    ],
)
def test_age_points_follow_the_age_at_the_assessment_date(home, born, points):
    """R-Q-3 age bands 70–79 → 2, 80–89 → 5, 90–99 → 8, 100+ → 10."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        application = queued_application(grade=0, choices=["YX01"], date_of_birth=born)
        (position,) = positions_for_application(application)
    assert position.score_breakdown["age"] == points


def test_family_points_add_up_and_spouse_points_count_only_at_the_spouses_home(home):
    """R-Q-3 family: 孤寡 +5, lives alone +3, spouse resident in this facility +5 (this one only)."""
    FacilityFactory(code="GZC01", level="city")
    add_beds(FacilityFactory(code="GZC01"), nursing=5)
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        application = queued_application(
            grade=0,
            choices=["YX01", "GZC01"],
            date_of_birth=dt.date(1960, 1, 1),
            lives_alone=True,
            no_spouse_no_children=True,
            spouse_resident_in=["GZC01"],
        )
        positions = {p.entry.facility.code: p for p in positions_for_application(application)}
    assert positions["YX01"].score_breakdown["family"] == 8
    assert positions["GZC01"].score_breakdown["family"] == 13


def test_waiting_points_rise_by_one_every_full_thirty_days_for_everyone(home):
    """R-Q-3 waiting time; the database and Python compute the same score."""
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        application = queued_application(grade=2, choices=["YX01"], date_of_birth=dt.date(1960, 1, 1))
    for days, waiting in [(29, 0), (30, 1), (59, 1), (60, 2), (365, 12)]:
        with time_machine.travel(t0 + dt.timedelta(days=days), tick=False):
            (position,) = positions_for_application(application)
            (entry,) = queue_for_facility(home)
        assert position.score_breakdown["waiting"] == waiting
        assert position.score == entry.score == 20 + waiting


def test_waiting_points_move_the_order_as_each_entry_completes_its_thirty_days(home):
    """R-Q-2/R-Q-3: the database orders by the score as of now, not as of queueing."""
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        early = queued_application(grade=2, choices=["YX01"], date_of_birth=dt.date(1960, 1, 1))
    with time_machine.travel(t0 + dt.timedelta(days=20), tick=False):
        late = queued_application(grade=2, choices=["YX01"], date_of_birth=dt.date(1960, 1, 1))
    QueueEntry.objects.filter(application=late).update(base_score=21)  # one point more than early's 20
    with time_machine.travel(t0 + dt.timedelta(days=25), tick=False):  # 20 vs 21
        assert order(home) == [late.reference, early.reference]
    with time_machine.travel(t0 + dt.timedelta(days=31), tick=False):  # 21 vs 21: queued first wins
        assert order(home) == [early.reference, late.reference]
    with time_machine.travel(t0 + dt.timedelta(days=51), tick=False):  # 21 vs 22
        assert order(home) == [late.reference, early.reference]


def test_position_counts_those_ahead_and_those_ahead_for_the_same_bed_type(home):
    """R-Q-4: position, ahead with the same care level, and how many of those ahead are on hold."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        nursing_top = queued_application(grade=4, choices=["YX01"], **DIBAO)
        self_care = queued_application(grade=1, choices=["YX01"], **DIBAO)
        app_services.application_suspend(application=nursing_top, reason="hospital", actor=actor("intake"))
        me = queued_application(grade=3, choices=["YX01"])
        queued_application(grade=2, choices=["YX01"])  # behind me
        (position,) = positions_for_application(me)
    assert position.position == 3
    assert position.ahead_same_care_level == 1
    assert position.ahead_on_hold == 1
    assert position_for_entry(QueueEntry.objects.get(application=self_care)).position == 2


def test_estimated_wait_is_a_range_from_the_last_years_admissions_or_none_below_six(home):
    """R-Q-5."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        for _ in range(4):
            queued_application(grade=3, choices=["YX01"])
        me = queued_application(grade=3, choices=["YX01"])
        beds = list(Bed.objects.filter(facility=home)[:12])
        for i, bed in enumerate(beds[:5]):
            Occupancy.objects.create(bed=bed, facility=home, care_level="nursing", admitted_on=dt.date(2026, 1 + i, 3))
        assert positions_for_application(me)[0].estimated_wait is None  # 5 admissions: not enough history
        Occupancy.objects.create(bed=beds[5], facility=home, care_level="nursing", admitted_on=dt.date(2026, 8, 1))
        Occupancy.objects.create(bed=beds[6], facility=home, care_level="nursing", admitted_on=dt.date(2025, 8, 1))
        (position,) = positions_for_application(me)
    # 4 ahead ÷ (6 admissions / 12 months) = 8 months → 6 to 10.
    assert position.estimated_wait == {"months_low": 6, "months_high": 10}


def test_a_new_policy_version_rescores_the_queue_from_its_effective_date(home):
    """§9: the version in force applies to decisions on or after its date (STORIES 9)."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        application = queued_application(grade=2, choices=["YX01"], date_of_birth=dt.date(1960, 1, 1))
    weights = PolicyParameters().score_weights
    weights["care"]["2"] = 25
    weights["waiting"]["points"] = 2
    Policy.objects.create(version=2, effective_from=dt.date(2026, 12, 1), parameters={"score_weights": weights})
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert positions_for_application(application)[0].score == 20
    with time_machine.travel(dt.datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI), tick=False):
        from admissions.services.allocation import allocation_run

        allocation_run(facility=home, trigger="staff_request")
        (position,) = positions_for_application(application)
    assert position.score_breakdown == {"care": 25, "age": 0, "family": 0, "waiting": 2}
    assert QueueEntry.objects.get(application=application).policy_version == 2


def test_an_entry_of_a_later_channel_tied_on_score_and_time_is_not_ahead_even_with_a_lower_reference(home):
    """R-Q-4 over R-Q-2: position counts only entries that rank ahead; the reference breaks a tie
    within a channel only. An ordinary entry with the same score, queued at the same instant and a
    lower reference, stays behind a special one."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        ordinary = queued_application(grade=3, choices=["YX01"])
        special = queued_application(grade=3, choices=["YX01"], **DIBAO)
    assert ordinary.queued_at == special.queued_at  # the clock stood still: queued in the same instant
    assert ordinary.reference < special.reference
    assert order(home) == [special.reference, ordinary.reference]
    with time_machine.travel(dt.datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI), tick=False):
        (first,) = positions_for_application(special)
        (second,) = positions_for_application(ordinary)
    assert first.score == second.score == 30 + 5  # care grade 3, aged 85 (R-Q-3)
    assert (first.position, first.ahead_same_care_level) == (1, 0)
    assert (second.position, second.ahead_same_care_level) == (2, 1)


def test_nobody_ahead_waits_zero_to_one_month_a_range_not_a_promise(home):
    """R-Q-5: with six admissions in the year (enough history) and nobody ahead, the estimate is
    still a range, 0 to 1 month, never "0 months"."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        me = queued_application(grade=3, choices=["YX01"])
        for i, bed in enumerate(Bed.objects.filter(facility=home)[:6]):
            Occupancy.objects.create(bed=bed, facility=home, care_level="nursing", admitted_on=dt.date(2026, 1 + i, 3))
        (position,) = positions_for_application(me)
    assert position.position == 1
    assert position.estimated_wait == {"months_low": 0, "months_high": 1}


def test_the_positions_follow_the_order_of_the_choices_not_the_home_codes(home):
    """R-PUB-3 with R-APP-7: the family reads its positions home by home in its order of preference."""
    add_beds(FacilityFactory(code="YX02"), nursing=2)  # occupied: nobody is offered a bed
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        me = queued_application(grade=3, choices=["YX02", "YX01"])
        positions = positions_for_application(me)
    assert [p.entry.facility.code for p in positions] == ["YX02", "YX01"]


def test_the_estimated_wait_counts_the_admissions_of_the_same_care_level_only(home):
    """R-Q-5: the divisor is the home's admissions *of that care level*: six self-care admissions
    are no history for a nursing entry."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        me = queued_application(grade=3, choices=["YX01"])  # nursing
        for i, bed in enumerate(Bed.objects.filter(facility=home)[:6]):
            Occupancy.objects.create(
                bed=bed, facility=home, care_level="self_care", admitted_on=dt.date(2026, 1 + i, 3)
            )
        (position,) = positions_for_application(me)
    assert position.estimated_wait is None


def test_a_closed_entry_has_no_position(home):
    """R-Q-4 counts open entries; the family's positions (R-PUB-3) list its open entries only."""
    add_beds(FacilityFactory(code="YX02"), nursing=2)
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), tick=False):
        me = queued_application(grade=3, choices=["YX01", "YX02"])
        # R-CHG-2: the reviewer drops YX02 from the choices; the entry is closed, never deleted (R-Q-1).
        QueueEntry.objects.filter(application=me, facility__code="YX02").update(
            status="closed", outcome="choice_dropped", closed_at=dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
        )
        positions = positions_for_application(me)
    assert [p.entry.facility.code for p in positions] == ["YX01"]


def test_the_walk_scores_the_queue_at_the_moment_it_is_given(home):
    """R-Q-3: the score can be recomputed at any moment; an allocation walks the queue as at its own
    `now`, with the waiting points of that moment, whatever the clock says meanwhile."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        queued_application(grade=3, choices=["YX01"])
    with time_machine.travel(t0 + dt.timedelta(days=1), tick=False):
        (step,) = queue_walk(home, now=t0 + dt.timedelta(days=61))
    assert step.score == 30 + 5 + 2  # care grade 3, aged 85, two full periods of 30 days


def test_the_position_counts_an_entry_of_the_same_channel_and_score_queued_earlier_as_ahead_r_q_4(home):
    """R-Q-2/R-Q-4: tied on channel and score, the one queued earlier is ahead (counted in the database)."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        earlier = queued_application(grade=4, choices=["YX01"])
    with time_machine.travel(t0 + dt.timedelta(hours=1), tick=False):
        later = queued_application(grade=4, choices=["YX01"])
        assert position_for_entry(QueueEntry.objects.get(application=later)).position == 2
        assert position_for_entry(QueueEntry.objects.get(application=earlier)).position == 1


def test_a_preview_leaves_out_the_applications_own_stored_entry_r_q_4_r_chg_2(home):
    """R-CHG-2's previews: where an application would stand after a change is counted without its own
    stored entry (exclude_application_id), so the old entry is not counted ahead of the new one."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        me = queued_application(grade=4, choices=["YX01"])
        other = queued_application(grade=3, choices=["YX01"])
        stored = QueueEntry.objects.get(application=me)
        lower = QueueEntry.objects.get(application=other).base_score - 1
        preview = QueueEntry(
            application=me,
            facility=home,
            channel_rank=stored.channel_rank,
            care_level=stored.care_level,
            base_score=lower,
            queued_at=stored.queued_at,
        )
        assert position_for_entry(preview, exclude_application_id=me.pk).position == 2
        assert position_for_entry(preview).position == 3


def test_the_database_counts_the_waiting_points_per_full_period_of_the_policy_r_q_3(home):
    """R-Q-3 with §9's weights changed: 3 points per full 30-day period. After 4 periods an entry of
    care 30 has 30 + 4 × 3 = 42 and is ahead of a new entry of care 40."""
    t0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(t0, tick=False):
        weights = PolicyParameters().score_weights
        weights["waiting"]["points"] = 3
        policy_create(effective_from=t0.date(), parameters={"score_weights": weights}, actor=actor("admin"))
        waited = queued_application(grade=3, choices=["YX01"])
    with time_machine.travel(t0 + dt.timedelta(days=4 * 30, hours=1), tick=False):
        new = queued_application(grade=4, choices=["YX01"])
        assert position_for_entry(QueueEntry.objects.get(application=waited)).position == 1
        assert position_for_entry(QueueEntry.objects.get(application=new)).position == 2
