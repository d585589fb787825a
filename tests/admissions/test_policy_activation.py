"""R-POL-1: a policy version takes effect as one act that brings every open entry and application under
it, at 00:00 (Asia/Shanghai) of its date or at once when created for today; until it commits the
previous version answers everything; audited once with per-facility counts; allocation follows
(R-ALLOC-3)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import (
    AllocationDecision,
    Application,
    ApplicationEvent,
    Offer,
    Policy,
    PolicyActivation,
    QueueEntry,
)
from admissions.policy import PolicyParameters
from admissions.selectors import policy_activation_running, policy_in_force, positions_for_application
from admissions.services import applications as app_services
from admissions.services.policy import policy_activate_due, policy_create
from admissions.tasks import activate_policy
from assessments.models import Assessment
from facilities.models import AuditEntry, Bed
from tests import spec
from tests.factories import FacilityFactory, actor, add_beds, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 2)  # a Monday
MORNING = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
YOUFU = {"verify": ("youfu",), "categories": [{"code": "youfu", "evidence": "优抚证"}]}


def care_weights(grade_2_points: int) -> dict:
    weights = PolicyParameters().score_weights
    weights["care"]["2"] = grade_2_points
    return weights


@pytest.fixture
def homes():
    """Two full homes (no vacant bed: nothing is offered while the queues are built)."""
    first, second = FacilityFactory(code="YX01"), FacilityFactory(code="YX02")
    add_beds(first, nursing=10)
    add_beds(second, nursing=10)
    return first, second


def queue(home) -> list[str]:
    from admissions.selectors import queue_for_facility

    return [entry.application.reference for entry in queue_for_facility(home)]


def test_a_version_created_for_today_changes_every_score_and_position_at_once_at_every_home_r_pol_1(homes):
    """R-POL-1: no allocation and no later read is needed: when policy_create commits, every open
    entry at every home is under the new version, and queued_at is unchanged."""
    first, second = homes
    with time_machine.travel(MORNING, tick=False):
        grade_4 = queued_application(grade=4, choices=["YX01", "YX02"])
        grade_2 = queued_application(grade=2, choices=["YX01", "YX02"])
        assert queue(first) == queue(second) == [grade_4.reference, grade_2.reference]
        queued_before = dict(QueueEntry.objects.values_list("pk", "queued_at"))
        policy = policy_create(
            effective_from=DAY, parameters={"score_weights": care_weights(100)}, actor=actor("admin")
        )
        entries = QueueEntry.objects.filter(status="open")
        assert set(entries.values_list("policy_version", flat=True)) == {policy.version}
        assert {e.score_parts["care"] for e in entries.filter(application=grade_2)} == {100}
        assert all(e.base_score == sum(e.score_parts.values()) for e in entries)
        assert dict(entries.values_list("pk", "queued_at")) == queued_before
        assert queue(first) == queue(second) == [grade_2.reference, grade_4.reference]
        assert [p.position for p in positions_for_application(grade_2)] == [1, 1]
        assert policy_in_force().version == policy.version


def test_tomorrows_version_changes_nothing_until_00_00_then_the_first_read_brings_it_in_r_pol_1(homes):
    """R-POL-1 with time-machine: the day before, every read answers with the old version; from
    00:00 Asia/Shanghai the first read finds the act due and runs it before answering."""
    with time_machine.travel(MORNING, tick=False):
        application = queued_application(grade=2, choices=["YX01", "YX02"])
        policy = policy_create(
            effective_from=DAY + dt.timedelta(days=1),
            parameters={"score_weights": care_weights(100)},
            actor=actor("admin"),
        )
    with time_machine.travel(dt.datetime(2026, 11, 2, 23, 59, 59, tzinfo=SHANGHAI), tick=False):
        assert [p.score_breakdown["care"] for p in positions_for_application(application)] == [20, 20]
        assert policy_in_force().version == policy.version - 1
        assert set(QueueEntry.objects.values_list("policy_version", flat=True)) == {policy.version - 1}
        assert not PolicyActivation.objects.filter(policy=policy).exists()
    with time_machine.travel(dt.datetime(2026, 11, 3, 0, 0, 1, tzinfo=SHANGHAI), tick=False):
        positions = positions_for_application(application)
        assert [p.score_breakdown["care"] for p in positions] == [100, 100]
        assert set(QueueEntry.objects.values_list("policy_version", flat=True)) == {policy.version}
        assert PolicyActivation.objects.filter(policy=policy).exists()


def test_until_the_act_commits_the_previous_version_answers_every_read_r_pol_1(homes):
    """R-POL-1: no answer mixes two versions. A version whose date has come but whose act has not
    run (here: a read made from inside the act, which may not start it again) is not answered yet,
    so the scores read are the old weights over the old base scores."""
    with time_machine.travel(MORNING, tick=False):
        application = queued_application(grade=2, choices=["YX01"])
        Policy.objects.create(
            version=2,
            effective_from=DAY,
            parameters={**PolicyParameters().to_json(), "score_weights": care_weights(100)},
        )
        with policy_activation_running():
            assert policy_in_force().version == 1
            (position,) = positions_for_application(application)
            assert position.score_breakdown["care"] == 20
        assert QueueEntry.objects.get(application=application).policy_version == 1
        (position,) = positions_for_application(application)  # an ordinary read: the act runs first
        assert position.score_breakdown["care"] == 100
        assert QueueEntry.objects.get(application=application).policy_version == 2


def test_the_act_changes_care_levels_and_channels_but_not_assessments_offers_or_queued_at_r_pol_1():
    """R-POL-1: care levels (nursing_min_grade) and channels (the mapping) of queued applications and
    their entries change; the assessment keeps its own care level (R-ASM-4); an offer already made
    keeps the care level recorded when it was made (R-NQ-1)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, holder="nursing")
    vacant = add_beds(home, nursing=1, status="vacant")[0]
    with time_machine.travel(MORNING, tick=False):
        offered = queued_application(grade=2, choices=["YX01"])  # takes the vacant bed
        veteran = queued_application(grade=2, choices=["YX01"], **YOUFU)
        offer = Offer.objects.get(application=offered)
        assert offer.bed_id == vacant.pk and offer.care_level == "nursing"
        mapping = {**PolicyParameters().channel_mapping, "youfu": "special"}
        policy_create(
            effective_from=DAY,
            parameters={"nursing_min_grade": 3, "channel_mapping": mapping},
            actor=actor("admin"),
        )
    veteran.refresh_from_db()
    assert (veteran.channel_code, veteran.care_level) == ("special", "self_care")
    assert veteran.channel_reason["because"] == "youfu"
    entry = QueueEntry.objects.get(application=veteran)
    assert (entry.channel_rank, entry.care_level) == (0, "self_care")
    assert Application.objects.get(pk=offered.pk).care_level == "self_care"
    assert QueueEntry.objects.get(application=offered).care_level == "self_care"
    assert Offer.objects.get(pk=offer.pk).care_level == "nursing"
    assert Bed.objects.get(pk=vacant.pk).holder_care_level == "nursing"
    assert set(Assessment.objects.values_list("care_level", flat=True)) == {"nursing"}
    assert spec.NURSING_MIN_GRADE == 2  # the default the applicants were assessed under


def test_the_act_is_audited_once_with_per_facility_counts_and_no_event_per_entry_r_pol_1(homes):
    with time_machine.travel(MORNING, tick=False):
        queued_application(grade=2, choices=["YX01", "YX02"])
        queued_application(grade=4, choices=["YX01"])
        events = ApplicationEvent.objects.count()
        policy = policy_create(effective_from=DAY, parameters={"score_weights": care_weights(25)}, actor=actor("admin"))
    audit = AuditEntry.objects.get(action="policy_activate")
    assert (audit.object_type, audit.object_key) == ("Policy", f"v{policy.version}")
    assert (audit.user, audit.actor_name) == (None, "system")
    assert audit.changes["previous_version"] == policy.version - 1
    assert audit.changes["facilities"] == {
        "YX01": {"open_entries": 2, "scores": 1, "care_levels": 0, "channels": 0},
        "YX02": {"open_entries": 1, "scores": 1, "care_levels": 0, "channels": 0},
    }
    assert PolicyActivation.objects.get(policy=policy).counts == audit.changes["facilities"]
    assert ApplicationEvent.objects.count() == events


def test_the_act_runs_once_however_often_it_is_found_due_and_the_beat_task_runs_it_r_pol_1(homes):
    with time_machine.travel(MORNING, tick=False):
        queued_application(grade=2, choices=["YX01"])
        policy_create(
            effective_from=DAY + dt.timedelta(days=1),
            parameters={"score_weights": care_weights(30)},
            actor=actor("admin"),
        )
        assert activate_policy() is None  # not yet due
    with time_machine.travel(dt.datetime(2026, 11, 3, 0, 0, tzinfo=SHANGHAI), tick=False):
        assert activate_policy() == 2
        assert activate_policy() is None
        assert policy_activate_due() is None
        policy_in_force()
    assert AuditEntry.objects.filter(action="policy_activate").count() == 1
    assert QueueEntry.objects.get().score_parts["care"] == 30


def test_allocation_runs_after_the_act_where_beds_are_vacant_r_pol_1_r_alloc_3(django_capture_on_commit_callbacks):
    """R-ALLOC-3: a new version in force starts allocation. A general bed stays vacant while the only
    applicant is nursing-level (bed_type_mismatch); raising nursing_min_grade to 3 makes them
    self-care, and the allocation after the act offers them the bed."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=9, holder="nursing")
    general = add_beds(home, general=1, status="vacant")[0]
    with time_machine.travel(MORNING, tick=False):
        application = queued_application(grade=2, choices=["YX01"])
        assert not Offer.objects.exists()
        with django_capture_on_commit_callbacks(execute=True):
            policy_create(effective_from=DAY, parameters={"nursing_min_grade": 3}, actor=actor("admin"))
    decision = AllocationDecision.objects.filter(facility=home).order_by("-sequence").first()
    assert decision.trigger == "policy_in_force" and decision.policy_version == 2
    assert decision.chosen["reference"] == application.reference
    offer = Offer.objects.get(application=application)
    assert (offer.bed_id, offer.care_level) == (general.pk, "self_care")


def test_a_channel_changed_alone_is_rewritten_with_its_reasons_and_the_version_r_pol_1(homes):
    """R-POL-1 with R-APP-8: the mapping alone changes (care levels stay): the channel, its rank in the
    entry and the reason (the category, the verified categories, the version that decided) are
    rewritten."""
    with time_machine.travel(MORNING, tick=False):
        veteran = queued_application(grade=2, choices=["YX01"], **YOUFU)
        assert veteran.channel_code == "priority"
        mapping = {**PolicyParameters().channel_mapping, "youfu": "special"}
        policy = policy_create(effective_from=DAY, parameters={"channel_mapping": mapping}, actor=actor("admin"))
    veteran.refresh_from_db()
    assert (veteran.channel_code, veteran.care_level) == ("special", "nursing")
    assert veteran.channel_reason["because"] == "youfu"
    assert veteran.channel_reason["verified_categories"] == ["youfu"]
    assert veteran.channel_reason["policy"] == policy.version
    assert QueueEntry.objects.get(application=veteran).channel_rank == 0


def test_an_application_approved_before_its_categories_were_recorded_keeps_its_channel_r_pol_1(homes):
    """An approval recorded before the reason held the verified categories and the age (older rows):
    the act cannot recompute the channel, so it keeps the channel and its reason; the care level is
    still brought under the new version."""
    with time_machine.travel(MORNING, tick=False):
        veteran = queued_application(grade=2, choices=["YX01"], **YOUFU)
        Application.objects.filter(pk=veteran.pk).update(channel_reason={"because": "youfu"})
        mapping = {**PolicyParameters().channel_mapping, "youfu": "special"}
        policy_create(
            effective_from=DAY,
            parameters={"channel_mapping": mapping, "nursing_min_grade": 3},
            actor=actor("admin"),
        )
    veteran.refresh_from_db()
    assert (veteran.channel_code, veteran.care_level) == ("priority", "self_care")
    assert veteran.channel_reason["because"] == "youfu"
    assert "verified_categories" not in veteran.channel_reason  # still unknown, not "none verified"
    # The next version again cannot recompute the channel: still kept, not taken from no categories.
    next_day = DAY + dt.timedelta(days=1)
    with time_machine.travel(MORNING + dt.timedelta(days=1), tick=False):
        policy_create(effective_from=next_day, parameters={"nursing_min_grade": 2}, actor=actor("admin"))
        policy_in_force()
    veteran.refresh_from_db()
    assert (veteran.channel_code, veteran.care_level) == ("priority", "nursing")


def test_of_two_versions_for_the_same_day_the_later_one_comes_into_force_r_pol_1(homes):
    """§9: a version decided later for the same date replaces the earlier one; the act brings in the
    latest (highest version number) of the versions due."""
    with time_machine.travel(MORNING, tick=False):
        queued_application(grade=2, choices=["YX01"])
        tomorrow = DAY + dt.timedelta(days=1)
        policy_create(effective_from=tomorrow, parameters={"score_weights": care_weights(30)}, actor=actor("admin"))
        later = policy_create(
            effective_from=tomorrow, parameters={"score_weights": care_weights(35)}, actor=actor("admin")
        )
    with time_machine.travel(dt.datetime(2026, 11, 3, 0, 0, tzinfo=SHANGHAI), tick=False):
        activation = policy_activate_due()
    assert activation.policy == later
    assert QueueEntry.objects.get().score_parts["care"] == 35


def test_a_closed_entry_keeps_the_version_it_was_scored_under_r_pol_1(homes):
    """R-POL-1 brings open entries under the new version; a closed entry is history and is left as it was."""
    with time_machine.travel(MORNING, tick=False):
        withdrawn = queued_application(grade=2, choices=["YX01"])
        app_services.application_withdraw(application=withdrawn, reason="Moved away.", actor=actor("intake"))
        policy_create(effective_from=DAY, parameters={"score_weights": care_weights(25)}, actor=actor("admin"))
    entry = QueueEntry.objects.get(application=withdrawn)
    assert (entry.status, entry.policy_version) == ("closed", 1)


def test_an_entry_the_act_cannot_rescore_does_not_stop_the_others_r_pol_1(homes):
    """R-POL-1: every open entry is brought under the new version. An entry whose application has no
    current assessment (rows from before the product) keeps its score, and the entries read after it
    are still rescored. One such entry is the first written and one the last, so whichever order the
    database reads them in, one comes before the others."""
    with time_machine.travel(MORNING, tick=False):
        first = queued_application(grade=2, choices=["YX01"])
        others = [queued_application(grade=2, choices=["YX01"]) for _ in range(2)]
        last = queued_application(grade=2, choices=["YX01"])
        Application.objects.filter(pk__in=[first.pk, last.pk]).update(current_assessment=None)
        policy_create(effective_from=DAY, parameters={"score_weights": care_weights(100)}, actor=actor("admin"))
    rescored = QueueEntry.objects.filter(application__in=others)
    assert [entry.score_parts["care"] for entry in rescored] == [100, 100]
    kept = QueueEntry.objects.filter(application__in=[first, last])
    assert [entry.score_parts["care"] for entry in kept] == [spec.CARE_POINTS_BY_GRADE[2]] * 2


def test_after_the_act_a_bed_type_that_found_nobody_is_not_walked_again_r_alloc_3(django_capture_on_commit_callbacks):
    """R-ALLOC-3 with R-ALLOC-2: the allocation after a version comes into force walks a home's vacant
    beds until a bed type finds nobody, and leaves that type's other beds for the next allocation
    rather than recording an empty decision for each (the queue holds only nursing-level people)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=10)
    with time_machine.travel(MORNING, tick=False):
        queued_application(grade=2, choices=["YX01"])
        add_beds(home, general=3, status="vacant")
        with django_capture_on_commit_callbacks(execute=True):
            policy_create(effective_from=DAY, parameters={"score_weights": care_weights(30)}, actor=actor("admin"))
    after_act = AllocationDecision.objects.filter(facility=home, trigger="policy_in_force")
    assert after_act.count() == 1 and after_act.get().chosen is None
