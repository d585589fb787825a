"""The public lookup's positions from each home's picture per queue version (issue 18,
admissions/services/lookup_positions.py) agree with R-Q-4's counts in the database
(`position_for_entry`), and the pieces kept per process (the picture, the year's admissions for
R-Q-5, the policy in force for R-POL-1) change at the very next lookup after what they show changes.
A built answer takes a handful of queries and a cached one two: pinned so they cannot creep back.

The numbers are SPEC's (30 days a waiting point, R-Q-3), pinned in tests/spec.py."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from admissions.models import Occupancy, QueueEntry
from admissions.policy import PolicyParameters
from admissions.selectors import policy_in_force, position_for_entry
from admissions.services import applications as app_services
from admissions.services import lookup_positions
from admissions.services.lookup import lookup_result, public_lookup
from admissions.services.policy import policy_create
from admissions.services.queue_versions import queue_versions_of
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from tests.spec import WAITING_PERIOD_DAYS

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
YOUFU = {"verify": ("youfu",), "categories": [{"code": "youfu", "evidence": "优抚证"}]}
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "positions"}}

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=20)
    return home


def admissions(home, n: int, *, on: dt.date, first_bed: int = 0) -> None:
    """`n` admissions of nursing level on `on` (R-Q-5's history), from the home's `first_bed`, in
    a transaction of their own as a service writes them (the queue version moves once a transaction)."""
    beds = list(Bed.objects.filter(facility=home).order_by("pk")[first_bed : first_bed + n])
    with transaction.atomic():
        for bed in beds:
            Occupancy.objects.create(bed=bed, facility=home, care_level="nursing", admitted_on=on)


def mixed_queue(home):
    """Twelve applications: both care levels (grade 0–1 self-care), two channels, ties on score
    and on queued_at (three queued at the same instant with the same grade, ordered by reference),
    queued in four batches a few days apart so their waiting points tick apart, two suspended."""
    applications = []
    for batch in range(4):
        with time_machine.travel(START + dt.timedelta(days=7 * batch, hours=batch), tick=False):
            applications.append(queued_application(choices=["YX01"], grade=2))
            applications.append(queued_application(choices=["YX01"], grade=2))
            applications.append(queued_application(choices=["YX01"], grade=batch % 2, lives_alone=batch == 2))
    with time_machine.travel(START + dt.timedelta(days=30), tick=False):
        applications.append(queued_application(choices=["YX01"], grade=3, **YOUFU))
        gone = queued_application(choices=["YX01"], grade=4)  # its entry closed: counted nowhere
        app_services.application_withdraw(application=gone, reason="moved away", actor=actor("intake"))
        for held in applications[1], applications[5]:
            app_services.application_suspend(application=held, reason="in hospital", actor=actor("intake"))
        admissions(home, 8, on=dt.date(2026, 3, 20))
    return applications


def test_positions_from_the_picture_agree_with_the_counts_in_the_database_r_q_4(home):
    """R-Q-2, R-Q-4, R-Q-5 at moments on both sides of several waiting-point ticks (R-Q-3)."""
    mixed_queue(home)
    entries = list(QueueEntry.objects.filter(facility=home, status="open").select_related("application", "facility"))
    assert len(entries) == 13
    moments = [START + dt.timedelta(days=30 * WAITING_PERIOD_DAYS // 30 + d, hours=9) for d in (0, 6, 7, 14, 30)]
    moments += [entries[0].queued_at + dt.timedelta(days=WAITING_PERIOD_DAYS, seconds=s) for s in (-1, 0)]
    assert compare_with_the_database(home, entries, moments) == 13 * len(moments)
    for now in moments:
        assert sorted(position_for_entry(e, now=now).position for e in entries) == list(range(1, 14))


def test_positions_for_a_moment_before_some_entries_were_queued_agree_with_the_database_r_q_4(home):
    """R-Q-3, R-Q-4: an answer for a moment given (`lookup_result(now=…)`) before some entries were
    queued: their full periods are negative, and the picture divides as the database does, truncating
    toward zero (less than a period before: no point; 40 days before: one point less)."""
    mixed_queue(home)
    entries = list(QueueEntry.objects.filter(facility=home, status="open").select_related("application", "facility"))
    moments = [START + dt.timedelta(days=3, hours=9), START - dt.timedelta(days=40)]
    assert compare_with_the_database(home, entries, moments) == 13 * len(moments)


def test_positions_under_a_policy_of_five_waiting_points_agree_with_the_database_r_pol_1(home):
    """R-POL-1, R-Q-3, R-Q-4: under a policy version giving 5 points a period (SPEC's gives 1) the
    picture multiplies the full periods by the policy's points, as the database does."""
    mixed_queue(home)
    entries = list(QueueEntry.objects.filter(facility=home, status="open").select_related("application", "facility"))
    day = START + dt.timedelta(days=40)
    with time_machine.travel(day, tick=False):
        weights = PolicyParameters().score_weights
        weights["waiting"]["points"] = 5
        policy_create(effective_from=day.date(), parameters={"score_weights": weights}, actor=actor("admin"))
    moments = [day + dt.timedelta(days=d, hours=9) for d in (0, 7, 20, 45)]
    with time_machine.travel(moments[0], tick=False):
        assert policy_in_force().parameters.waiting_points == 5
    assert compare_with_the_database(home, entries, moments) == 13 * len(moments)


def compare_with_the_database(home, entries, moments) -> int:
    """Each entry's position from `positions_at` (the counts in the database the first time a home
    is asked at a version, its picture after) against `position_for_entry`, at each moment."""
    compared = 0
    for now in moments:
        with time_machine.travel(now, tick=False):
            now = timezone.now()
            policy = policy_in_force()
            versions = {home.pk: queue_versions_of(entries[0].application_id)[home.pk]}
            for entry in entries:
                expected = position_for_entry(entry, now=now)
                [got] = lookup_positions.positions_at(
                    [entry], reference=entry.application.reference, versions=versions, now=now, policy=policy
                )
                assert (
                    got.position,
                    got.ahead_same_care_level,
                    got.ahead_on_hold,
                    got.score,
                    got.score_breakdown,
                    got.estimated_wait,
                ) == (
                    expected.position,
                    expected.ahead_same_care_level,
                    expected.ahead_on_hold,
                    expected.score,
                    expected.score_breakdown,
                    expected.estimated_wait,
                )
                compared += 1
    return compared


def lookup_of(application, code):
    return public_lookup(reference=application.reference, code=code, client_address="203.0.113.9")


def test_a_built_answer_takes_four_queries_and_a_cached_one_two(home, settings, django_assert_max_num_queries):
    """Issue 18: a built answer (pictures warm: from the second lookup at a home's version) is the
    match, the versions, the application's facts and its entries; a cached one the match and the
    versions. The cache here is local memory, so
    only database queries are counted."""
    settings.CACHES = LOCAL_CACHE
    FacilityFactory(code="YX02")
    for _ in range(3):
        queued_application(choices=["YX01", "YX02"], grade=4)
    mine = queued_application(choices=["YX01", "YX02"], grade=2)
    code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    cache.clear()
    # The first at these versions: + the policy, and per home its phases (R-Q-3), two position
    # counts and its admissions (R-Q-5), as the counts in the database would.
    with django_assert_max_num_queries(4 + 1 + 2 * 4):
        first = lookup_of(mine, code)
    cache.clear()
    # The second builds each home's picture: + one query a home.
    with django_assert_max_num_queries(4 + 2):
        second = lookup_of(mine, code)
    cache.clear()
    with django_assert_max_num_queries(4):
        built = lookup_of(mine, code)
    with django_assert_max_num_queries(2):
        cached = lookup_of(mine, code)
    assert first == second == built == cached
    assert [p.position for p in cached.positions] == [4, 4]


def test_a_new_admission_moves_the_estimated_wait_at_the_very_next_lookup_r_q_5(home):
    """The year's admissions are kept per (home, queue version): one more admission shows at once."""
    with time_machine.travel(START, tick=False):
        for _ in range(6):
            queued_application(choices=["YX01"], grade=3)
        mine = queued_application(choices=["YX01"], grade=3)
        code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
        admissions(home, 6, on=dt.date(2026, 1, 5))
        # 6 ahead ÷ (6 admissions / 12 months) = 12 months → 9 to 15.
        assert lookup_of(mine, code).positions[0].estimated_wait == {"months_low": 9, "months_high": 15}
        admissions(home, 6, on=dt.date(2026, 2, 5), first_bed=6)
        # 6 ahead ÷ (12 / 12) = 6 months → 4 to 8.
        assert lookup_of(mine, code).positions[0].estimated_wait == {"months_low": 4, "months_high": 8}


def test_a_new_policy_version_shows_at_the_very_next_lookup_r_pol_1(home):
    """The policy in force is kept per process per queue version: a version created for today
    moves every home's version, so the next lookup counts the waiting points under it (R-Q-3: 1 a
    period under SPEC's policy, 5 under the new one) and says so in its next steps."""
    with time_machine.travel(START, tick=False):
        mine = queued_application(choices=["YX01"], grade=2)
        code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    later = START + dt.timedelta(days=2 * WAITING_PERIOD_DAYS + 1)
    with time_machine.travel(later, tick=False):
        before = lookup_of(mine, code)
        assert before.positions[0].score_breakdown["waiting"] == 2
        weights = PolicyParameters().score_weights
        weights["waiting"]["points"] = 5
        policy_create(effective_from=later.date(), parameters={"score_weights": weights}, actor=actor("admin"))
        after = lookup_of(mine, code)
    assert after.positions[0].score_breakdown["waiting"] == 10
    assert "The score rises by 5 every" in " ".join(after.next_steps)


def test_each_home_keeps_its_own_picture_and_its_own_ticks(home):
    """Issue 18, R-Q-4, R-Q-3: the picture and the waiting-point ticks are kept per home and version.
    Mine waits at YX01 behind four and at YX02 behind none; `first` (at YX01) and `second` (at YX02),
    queued 80 and 70 days before mine with 3 points less for family, each pass mine at their own
    third tick, ten days apart, when nothing moves at the other home."""
    FacilityFactory(code="YX02")
    start = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
    period = dt.timedelta(days=WAITING_PERIOD_DAYS)
    with time_machine.travel(start, tick=False):
        first = queued_application(choices=["YX01"], grade=2)
        for _ in range(3):
            queued_application(choices=["YX01"], grade=4)
    with time_machine.travel(start + dt.timedelta(days=10), tick=False):
        second = queued_application(choices=["YX02"], grade=2)
    with time_machine.travel(start + dt.timedelta(days=80), tick=False):
        mine = queued_application(choices=["YX01", "YX02"], grade=2, lives_alone=True)
        code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    with time_machine.travel(first.queued_at + 3 * period - dt.timedelta(days=1), tick=False):
        for _ in range(3):  # the counts in the database, then each home's picture, twice
            assert [p.position for p in lookup_of(mine, code).positions] == [4, 1]
            cache.clear()
    for moment, positions in [
        (first.queued_at + 3 * period - dt.timedelta(seconds=1), [4, 1]),
        (first.queued_at + 3 * period, [5, 1]),
        (second.queued_at + 3 * period - dt.timedelta(seconds=1), [5, 1]),
        (second.queued_at + 3 * period, [5, 2]),
    ]:
        with time_machine.travel(moment, tick=False):
            assert [p.position for p in lookup_of(mine, code).positions] == positions, moment


def test_the_first_lookup_at_a_version_counts_in_the_database_and_keeps_no_picture(home):
    """Issue 18: a home asked once at a version costs no picture of its queue (up to ~5,000 rows);
    the second lookup there builds it."""
    for _ in range(2):
        queued_application(choices=["YX01"], grade=4)
    mine = queued_application(choices=["YX01"], grade=2)
    code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    assert lookup_of(mine, code).positions[0].position == 3
    assert lookup_positions._rows == {}
    cache.clear()
    assert lookup_of(mine, code).positions[0].position == 3
    assert list(lookup_positions._rows) == [
        (home.pk, *queue_versions_of(mine.pk).values(), WAITING_PERIOD_DAYS * 86400)
    ]


def test_the_counts_in_the_database_are_for_the_moment_asked_not_the_clock_s(home):
    """R-Q-3, R-Q-4: the first answer at a version (counted in the database) for a moment given counts
    the waiting points at that moment: `other` (3 points less) has caught up with mine by then."""
    start = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        other = queued_application(choices=["YX01"], grade=2)
    with time_machine.travel(start + dt.timedelta(days=80), tick=False):
        mine = queued_application(choices=["YX01"], grade=2, lives_alone=True)
    others_tick = other.queued_at + 3 * dt.timedelta(days=WAITING_PERIOD_DAYS)
    with time_machine.travel(others_tick - dt.timedelta(hours=1), tick=False):
        assert lookup_result(mine, now=others_tick).positions[0].position == 2
        cache.clear()
        assert lookup_result(mine).positions[0].position == 1


def test_the_picture_of_a_home_with_no_open_entry_is_empty(home):
    """Issue 18: a home whose queue is empty at a version has an empty picture (no entry, no count)."""
    rows = lookup_positions.home_rows(home.pk, 0, WAITING_PERIOD_DAYS * 86400)
    assert rows.reference == rows.care_level == rows.on_hold == ()
