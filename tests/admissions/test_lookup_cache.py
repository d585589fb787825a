"""The public lookup's answer is cached (issue 18) but never stale: a change to a queue, or a
waiting-point tick of any entry in it (R-Q-3), shows at the very next lookup (R-Q-4, R-PUB-3); the
limits (R-PUB-2, R-SEC-4) still apply before a cached answer is given.

The numbers are SPEC's (30 days a waiting point, 5 failures a reference), pinned in tests/spec.py."""

import datetime as dt
import io
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, connections

from admissions.models import QueueChange
from admissions.services import applications as app_services
from admissions.services import lookup as lookup_module
from admissions.services.lookup import LookupLocked, LookupNotFound, public_lookup
from admissions.services.queue_versions import queue_versions_of
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from tests.spec import LOOKUP_FAILURES_PER_REFERENCE, WAITING_PERIOD_DAYS

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADDRESS = "203.0.113.7"
PERIOD = dt.timedelta(days=WAITING_PERIOD_DAYS)


@pytest.fixture(autouse=True)
def answers_built(monkeypatch):
    """The answers built from the database rather than served from the cache, from an empty cache
    (no answer or lockout of another test)."""
    built = []
    real = lookup_module.lookup_answer

    def counting(application, **kwargs):
        built.append(application.reference)
        return real(application, **kwargs)

    monkeypatch.setattr(lookup_module, "lookup_answer", counting)
    cache.clear()
    yield built
    cache.clear()


def home_with_two_waiting():
    """Two applications waiting at one full home: `ahead` (higher care grade) before `mine`."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=2)
    ahead = queued_application(choices=["YX01"], grade=4)
    mine = queued_application(choices=["YX01"], grade=2)
    return ahead, mine, app_services.lookup_code_issue(application=mine, actor=actor("intake"))


def look(application, code, address=ADDRESS):
    return public_lookup(reference=application.reference, code=code, client_address=address)


@pytest.mark.django_db
def test_a_second_lookup_with_nothing_changed_is_served_from_the_cache(answers_built):
    _ahead, mine, code = home_with_two_waiting()
    first, second = look(mine, code), look(mine, code)
    assert first == second
    assert first.positions[0].position == 2
    assert answers_built == [mine.reference]


@pytest.mark.django_db
def test_the_apis_shape_is_cached_apart_from_the_portals_and_not_built_again(answers_built, monkeypatch):
    """Issue 18: the API caches its serialized answer (no serializer run for a cached one), under a
    key of its own, so the portal (which renders the `LookupResult`) never gets the API's dict."""
    _ahead, mine, code = home_with_two_waiting()
    shaped = []

    def shape(result):
        shaped.append(result.reference)
        return {"position": result.positions[0].position}

    for _ in range(2):
        assert public_lookup(reference=mine.reference, code=code, client_address=ADDRESS, shape=shape) == {
            "position": 2
        }
    portal = look(mine, code)
    assert isinstance(portal, lookup_module.LookupResult) and portal.positions[0].position == 2
    assert shaped == [mine.reference]
    assert answers_built == [mine.reference, mine.reference]  # once for each shape


@pytest.mark.django_db
def test_a_lookup_seconds_later_with_no_waiting_point_between_is_served_from_the_cache(answers_built):
    """Issue 18, R-Q-3: the answer's key moves at the home's next waiting-point tick, not every second:
    lookups five days and then five seconds later (no entry gains a point between) build it once."""
    start = dt.datetime(2026, 3, 1, 9, 30, 15, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        _ahead, mine, code = home_with_two_waiting()
    later = start + dt.timedelta(days=5)
    with time_machine.travel(later, tick=False):
        first = look(mine, code)
    with time_machine.travel(later + dt.timedelta(seconds=5), tick=False):
        second = look(mine, code)
    assert first == second and first.positions[0].position == 2
    assert answers_built == [mine.reference]


@pytest.mark.django_db
def test_a_withdrawal_ahead_shows_at_the_very_next_lookup(answers_built):
    """R-Q-4: the one ahead leaves the queue; the next lookup says position 1, not the cached 2."""
    ahead, mine, code = home_with_two_waiting()
    assert look(mine, code).positions[0].position == 2
    app_services.application_withdraw(application=ahead, reason="moved away", actor=actor("intake"))
    assert look(mine, code).positions[0].position == 1
    assert len(answers_built) == 2


@pytest.mark.django_db
def test_a_suspension_ahead_shows_as_on_hold_at_the_very_next_lookup():
    """R-Q-4: 'how many of those ahead are suspended' changes with another application's state."""
    ahead, mine, code = home_with_two_waiting()
    assert look(mine, code).positions[0].ahead_on_hold == 0
    app_services.application_suspend(application=ahead, reason="in hospital", actor=actor("intake"))
    [position] = look(mine, code).positions
    assert (position.position, position.ahead_on_hold) == (2, 1)


@pytest.mark.django_db
def test_the_own_waiting_point_shows_at_the_second_it_is_gained():
    """R-Q-3: +1 at each full 30 days since queued_at; the answer cached a second before is not served."""
    start = dt.datetime(2026, 3, 1, 9, 30, 15, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        _ahead, mine, code = home_with_two_waiting()
    queued_at = mine.queued_at
    with time_machine.travel(queued_at + PERIOD - dt.timedelta(seconds=1), tick=False):
        before = look(mine, code).positions[0]
        assert look(mine, code).positions[0] == before  # cached, still before the tick
    with time_machine.travel(queued_at + PERIOD, tick=False):
        after = look(mine, code).positions[0]
    assert before.score_breakdown["waiting"] == 0
    assert after.score_breakdown["waiting"] == 1
    assert after.score == before.score + 1


@pytest.mark.django_db
def test_another_entrys_waiting_point_moves_the_position_at_the_second_it_is_gained():
    """R-Q-3, R-Q-2: `other` (queued 80 days earlier, 3 points less for family) catches up with
    `mine` when its own third period is full, and on a tie the earlier queued_at goes first. Mine's
    own score does not move at that second, so only the home's next tick can expire the answer."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1)
    start = dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        other = queued_application(choices=["YX01"], grade=2)
    with time_machine.travel(start + dt.timedelta(days=80), tick=False):
        mine = queued_application(choices=["YX01"], grade=2, lives_alone=True)  # +3 (R-Q-3)
        code = app_services.lookup_code_issue(application=mine, actor=actor("intake"))
    others_tick = other.queued_at + 3 * PERIOD
    with time_machine.travel(others_tick - dt.timedelta(seconds=1), tick=False):
        before = look(mine, code).positions[0]
    with time_machine.travel(others_tick, tick=False):
        after = look(mine, code).positions[0]
    assert (before.position, after.position) == (1, 2)
    assert after.score == before.score


@pytest.mark.django_db
def test_the_limits_hold_before_a_cached_answer_is_given():
    """R-PUB-2, R-SEC-4: with the answer in the cache, a locked reference is still refused (429),
    even with the right code."""
    _ahead, mine, code = home_with_two_waiting()
    assert look(mine, code).positions[0].position == 2
    for n in range(LOOKUP_FAILURES_PER_REFERENCE):
        with pytest.raises(LookupNotFound):
            look(mine, "ZZZZZ" + "ABCDEFGH"[n], address=f"198.51.100.{n}")
    with pytest.raises(LookupLocked):
        look(mine, code, address="192.0.2.1")


@pytest.mark.django_db
def test_a_change_moves_the_version_of_every_home_it_touches():
    """The choke point: a withdrawal (transition, entries closed, event) moves both homes' versions."""
    FacilityFactory(code="YX01")
    FacilityFactory(code="YX02")
    application = queued_application(choices=["YX01", "YX02"], grade=2)
    before = queue_versions_of(application.pk)
    app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
    after = queue_versions_of(application.pk)
    assert before.keys() == after.keys() and len(before) == 2
    assert all(after[home] > before[home] for home in before)


@pytest.mark.django_db
def test_a_change_rolled_back_inside_a_transaction_is_written_again_by_the_next():
    """A home written once per savepoint: a rolled-back savepoint's row goes, so the next change in
    the same transaction writes its own."""
    from django.db import transaction

    from admissions.services.queue_versions import queue_changed

    home = FacilityFactory(code="YX01")
    before = QueueChange.objects.filter(facility=home).count()
    with transaction.atomic():
        try:
            with transaction.atomic():
                queue_changed([home.pk])
                raise RuntimeError
        except RuntimeError:
            pass
        queue_changed([home.pk])
        queue_changed([home.pk])
    assert QueueChange.objects.filter(facility=home).count() == before + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_no_lookup_started_after_a_change_shows_the_old_position_under_concurrency():
    """R-Q-4 under load: four threads look up without pause while the one ahead withdraws; every
    lookup that started after the withdrawal returned shows position 1."""
    ahead, mine, code = home_with_two_waiting()
    changed_at: list[float] = []
    seen: list[tuple[float, int]] = []
    enough_before, enough_after = threading.Event(), threading.Event()
    LOOKUPS = 20  # on each side of the change

    def keep_looking(n):
        try:
            while not enough_after.is_set():
                started = time.monotonic()
                result = look(mine, code, address=f"198.51.100.{n}")
                seen.append((started, result.positions[0].position))
                if len(seen) >= LOOKUPS:
                    enough_before.set()
                if changed_at and sum(started > changed_at[0] for started, _ in seen) >= LOOKUPS:
                    enough_after.set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=keep_looking, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert enough_before.wait(timeout=60)
    app_services.application_withdraw(application=ahead, reason="moved away", actor=actor("intake"))
    changed_at.append(time.monotonic())
    assert enough_after.wait(timeout=60)
    for thread in threads:
        thread.join(timeout=60)
    before = [p for started, p in seen if started < changed_at[0]]
    after = [p for started, p in seen if started > changed_at[0]]
    assert 2 in before
    assert len(after) >= LOOKUPS and set(after) == {1}


@pytest.mark.django_db
def test_folding_the_queue_changes_keeps_every_version_and_the_next_change_moves_it_past_all_before():
    """Issue 18: `fold_queue_changes` leaves one row per home and no version moved; the next change
    gives a version never seen before (so no cached answer or picture of an old version is served)."""
    from django.core.management import call_command

    from admissions.tasks import fold_queue_changes

    FacilityFactory(code="YX01")
    FacilityFactory(code="YX02")
    application = queued_application(choices=["YX01", "YX02"], grade=2)
    seen = [queue_versions_of(application.pk)]
    app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
    seen.append(queue_versions_of(application.pk))
    app_services.application_resume(application=application, actor=actor("intake"))
    seen.append(queue_versions_of(application.pk))
    before = seen[-1]
    rows = QueueChange.objects.count()
    assert rows > 2
    assert fold_queue_changes() == {"homes": 2, "rows_removed": rows}
    assert QueueChange.objects.count() == 2
    assert queue_versions_of(application.pk) == before
    call_command("fold_queue_changes", stdout=io.StringIO())  # nothing left to fold: still the same
    assert QueueChange.objects.count() == 2 and queue_versions_of(application.pk) == before
    app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
    after = queue_versions_of(application.pk)
    for home, version in after.items():
        assert version == before[home] + 1
        assert version not in {versions[home] for versions in seen}


@pytest.mark.django_db
def test_queue_versions_name_each_home_the_application_is_in_or_may_be_and_sum_its_changes():
    """queue_versions_of and facilities_of (written in SQL for the lookup's speed, issue 18) name the
    chosen homes, the homes of open entries and of a live offer (pending or accepted, R-OFF-1), no
    other. A home's version is the sum of its changes' weights."""
    from admissions.models import FacilityChoice, Offer, QueueEntry
    from admissions.services.allocation import allocation_run
    from admissions.services.offers import offer_accept
    from admissions.services.queue_versions import facilities_of

    yx01, yx02, hz01 = FacilityFactory(code="YX01"), FacilityFactory(code="YX02"), FacilityFactory(code="HZ01")
    application = queued_application(choices=["YX01", "YX02"], grade=3)
    queued_application(choices=["HZ01"], grade=3)  # another application's home is never named
    add_beds(yx01, nursing=1, status="vacant")
    allocation_run(facility=yx01, trigger="staff_request")
    offer = Offer.objects.get(application=application)

    def homes():
        versions = queue_versions_of(application.pk)
        assert set(versions) == facilities_of(application.pk)
        return set(versions)

    assert homes() == {yx01.pk, yx02.pk}
    FacilityChoice.objects.filter(application=application, facility=yx01).delete()
    assert homes() == {yx01.pk, yx02.pk}  # still an open entry there, and the offer
    QueueEntry.objects.filter(application=application, facility=yx01).update(status="closed", outcome="withdrawn")
    assert homes() == {yx01.pk, yx02.pk}  # still the live offer
    for state, kept in [("declined", False), ("expired", False), ("withdrawn", False), ("pending", True)]:
        Offer.objects.filter(pk=offer.pk).update(state=state)
        assert (yx01.pk in homes()) is kept, state
    offer_accept(offer=Offer.objects.get(pk=offer.pk), actor=actor("family"))
    assert yx01.pk in homes()  # accepted: live until admitted
    Offer.objects.filter(pk=offer.pk).update(state="admitted")
    assert yx01.pk not in homes()
    FacilityChoice.objects.filter(application=application).delete()
    QueueEntry.objects.filter(application=application).update(status="closed", outcome="withdrawn")
    assert homes() == set()

    FacilityChoice.objects.create(application=application, facility=yx02, rank=1)
    FacilityChoice.objects.create(application=application, facility=hz01, rank=2)
    QueueChange.objects.all().delete()
    QueueChange.objects.bulk_create([QueueChange(facility=hz01, weight=7), QueueChange(facility=yx02, weight=3)])
    QueueChange.objects.create(facility=yx02, weight=4)
    assert queue_versions_of(application.pk) == {yx02.pk: 7, hz01.pk: 7}
    QueueChange.objects.filter(facility=hz01).delete()
    assert queue_versions_of(application.pk) == {yx02.pk: 7, hz01.pk: 0}  # no change yet: 0
