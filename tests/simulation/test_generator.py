"""generate_city (issue 7) on a small city: the proportions the README documents, valid identities,
determinism for a seed, and the real services working on what it wrote."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from admissions.decisions import first_chain_break
from admissions.identity import age_on, id_number_errors
from admissions.models import Applicant, Application, CategoryClaim, FacilityChoice, Offer, QueueEntry
from admissions.selectors import (
    QUEUE_WALK_FIRST,
    policy_in_force,
    position_for_entry,
    positions_for_application,
    queue_for_facility,
    queue_walk,
)
from admissions.services.applications import lookup_code_issue
from admissions.services.beds import bed_discharge
from admissions.services.lookup import public_lookup
from admissions.services.queue import base_score_parts
from assessments.grading import grade_for, total_points
from assessments.models import Assessment
from facilities.models import Bed, Facility
from simulation.checks import rule_violations
from simulation.generator import CATEGORY_SHARES, GRADE_WEIGHTS, STATE_SHARES, generate_city
from tests.factories import actor
from tests.reference_data import ensure_reference_data

SIZES = {"facilities": 14, "beds": 2400, "applications": 1500}


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    """One city for the module, rolled back at its end; each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        ensure_reference_data()  # an earlier transactional test's flush may have removed the districts
        summary = generate_city(**SIZES, seed=11, progress=False)
        yield summary
        transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def fingerprint() -> list[tuple]:
    """What a seed decides, without ids or the clock."""
    return list(
        Application.objects.order_by("reference").values_list(
            "reference", "applicant__id_number", "state", "channel_code", "current_assessment__grade"
        )
    ) + list(
        QueueEntry.objects.order_by("application__reference", "facility__code").values_list(
            "application__reference", "facility__code", "base_score", "status"
        )
    )


def test_every_home_has_50_to_1500_beds_at_least_78_percent_nursing_type(city):
    """SPEC §1, R-NQ-1: homes of 50–1,500 beds, nursing-type ≥ 78 % in each; the totals asked for."""
    rows = Facility.objects.annotate(beds_n=Count("beds"), nursing=Count("beds", filter=_nursing()))
    assert rows.count() == SIZES["facilities"]
    assert sum(f.beds_n for f in rows) == SIZES["beds"]
    for facility in rows:
        assert 50 <= facility.beds_n <= 1500, facility.code
        assert facility.nursing / facility.beds_n >= 0.78, facility.code
    assert rows.filter(level="city").exists() and rows.filter(level="district").exists()


def _nursing():
    from django.db.models import Q

    return Q(beds__bed_type="nursing")


def test_beds_are_mostly_occupied_and_every_occupied_bed_has_its_resident(city):
    beds = Counter(Bed.objects.values_list("status", flat=True))
    assert beds["occupied"] / SIZES["beds"] > 0.95
    assert beds["reserved"] == Offer.objects.filter(state__in=["pending", "accepted"]).count() > 0
    occupied = Bed.objects.filter(status="occupied")
    assert occupied.filter(occupancies__discharged_on__isnull=True).count() == occupied.count()


def test_applicants_are_60_to_105_skewed_old_and_at_least_60_when_they_applied(city):
    """R-APP-2; the README's age triangle (60, 105, mode 86)."""
    today = timezone.localdate()
    ages = []
    for born, submitted in Application.objects.values_list("applicant__date_of_birth", "submitted_at"):
        ages.append(age_on(born, today))
        if submitted is not None:
            assert age_on(born, timezone.localdate(submitted)) >= 60
    assert 60 <= min(ages) and max(ages) <= 105
    assert statistics.mean(ages) > 80
    assert sum(a >= 80 for a in ages) > 2 * sum(a < 70 for a in ages)


def test_every_id_number_passes_the_intake_check(city):
    """R-APP-1: check character, birth date and sex digit agree with the record; 18 characters."""
    for number, born, sex in Applicant.objects.values_list("id_number", "date_of_birth", "sex"):
        assert id_number_errors(number, date_of_birth=born, sex=sex) == {}, number


def test_grades_follow_the_documented_weights_and_come_from_the_items(city):
    """R-ASM-1/2: each grade is what grading makes of its items; shares within 5 points of the README."""
    grades = Counter()
    for items, coma, total, grade in Assessment.objects.values_list("items", "coma", "total", "grade")[:3000]:
        assert total == total_points(items)
        assert grade == grade_for(total, coma=coma)
        grades[grade] += 1
    n = sum(grades.values())
    for grade, weight in GRADE_WEIGHTS.items():
        assert abs(grades[grade] / n - weight) < 0.05, (grade, grades[grade] / n)


def test_categories_and_states_follow_the_documented_shares(city):
    n = SIZES["applications"]
    claims = Counter(CategoryClaim.objects.values_list("code", flat=True))
    for code, share in CATEGORY_SHARES:
        assert abs(claims[code] / n - share) < 0.025, (code, claims[code] / n)
    states = Counter(Application.objects.values_list("state", flat=True))
    for state, share in STATE_SHARES.items():
        if state != "admitted":  # a few admissions find no bed at either home and keep waiting
            assert abs(states[state] / n - share) < 0.01, state
    queued = states["waiting"] + states["offered"] + states["admission_check"]
    assert queued / n > 0.6  # mostly queued


def test_every_application_has_two_choices_that_keep_the_choice_rules(city):
    """R-APP-7: two distinct homes, at most one city-level, district-level ones in one's own district."""
    choices = FacilityChoice.objects.select_related("facility", "application")
    by_application: dict[int, list] = {}
    for choice in choices:
        by_application.setdefault(choice.application_id, []).append(choice)
    assert len(by_application) == SIZES["applications"]
    for picked in by_application.values():
        assert sorted(c.rank for c in picked) == [1, 2]
        assert len({c.facility_id for c in picked}) == 2
        assert sum(c.facility.level == "city" for c in picked) <= 1
        district = picked[0].application.effective_district_id
        assert all(c.facility.district_id == district for c in picked if c.facility.level == "district")


def test_queue_scores_are_the_services_own(city):
    """R-Q-3: each open entry's base score is what base_score_parts gives for its current assessment."""
    params = policy_in_force().parameters
    entries = QueueEntry.objects.filter(status="open").select_related(
        "application__applicant", "application__current_assessment"
    )[:500]
    for entry in entries:
        choice = entry.application.choices.get(facility_id=entry.facility_id)
        parts = base_score_parts(
            application=entry.application, assessment=entry.application.current_assessment, choice=choice, params=params
        )
        assert entry.score_parts == parts and entry.base_score == sum(parts.values())
        assert entry.care_level == entry.application.current_assessment.care_level


def test_most_queued_applications_hold_an_unexpired_assessment(city):
    """R-ASM-5: mostly valid; the few expired ones are what the allocation skips."""
    today = timezone.localdate()
    valid_until = list(
        Application.objects.filter(state="waiting").values_list("current_assessment__valid_until", flat=True)
    )
    assert sum(v >= today for v in valid_until) / len(valid_until) > 0.95


def test_the_rules_and_the_decision_chains_hold_on_the_generated_city(city):
    """R-NQ-1, R-BED-1, R-OFF-3 over the whole database; R-ALLOC-2 chains verify."""
    assert rule_violations() == {"R-NQ-1": [], "R-BED-1": [], "R-OFF-3": []}
    assert first_chain_break() is None


def test_positions_and_the_public_lookup_work_on_generated_applications(city):
    """R-Q-4 through the selectors; R-PUB-1/3 with a code issued by the real service."""
    application = Application.objects.filter(state="waiting").order_by("reference")[5]
    positions = positions_for_application(application)
    assert len(positions) == 2
    for position in positions:
        queue = list(queue_for_facility(position.entry.facility).values_list("application_id", flat=True))
        assert queue.index(application.pk) + 1 == position.position
    code = lookup_code_issue(application=application, actor=actor("city-intake-001"))
    result = public_lookup(reference=application.reference, code=code, client_address="10.1.1.1")
    assert [p.position for p in result.positions] == [p.position for p in positions]


def test_an_allocation_at_the_largest_generated_home_keeps_the_rules(city):
    """A resident leaves (R-BED-2); the real allocation offers the bed to the first eligible entry
    (R-ALLOC-1), and R-NQ-1, R-BED-1, R-OFF-3 still hold."""
    home = Facility.objects.get(code=city.largest_facility)
    bed = Bed.objects.filter(facility=home, status="occupied", bed_type="nursing").order_by("id").first()
    _bed, decision = bed_discharge(bed=bed, reason="deceased", actor=actor("city-facility-x"))
    offer = Offer.objects.get(decision=decision)
    assert offer.bed_id == bed.pk and offer.application.state == "offered"
    assert offer.care_level == "nursing"
    assert all(row["rank"] < decision.chosen["rank"] for row in decision.skipped)
    assert rule_violations() == {"R-NQ-1": [], "R-BED-1": [], "R-OFF-3": []}
    assert first_chain_break(home.pk) is None


def test_the_same_seed_gives_the_same_city_and_another_seed_another(city):
    first = fingerprint()  # the module's city, seed 11
    with transaction.atomic():
        _empty_the_city()
        generate_city(**SIZES, seed=11, progress=False)
        again = fingerprint()
        transaction.set_rollback(True)
    with transaction.atomic():
        _empty_the_city()
        generate_city(**SIZES, seed=12, progress=False)
        other = fingerprint()
        transaction.set_rollback(True)
    assert again == first
    assert other != first


def _empty_the_city() -> None:
    """Raw deletes in a savepoint the test rolls back. The append-only tables refuse the ORM's
    deletes, and PostgreSQL's trigger a DELETE too, so there it is a TRUNCATE (also rolled back)."""
    from django.db import connection

    tables = [
        "admissions_couplemember",
        "admissions_couple",
        "admissions_applicationevent",
        "admissions_notification",
        "admissions_webhookdelivery",
        "admissions_occupancy",
        "admissions_offer",
        "admissions_allocationdecision",
        "admissions_queueentry",
        "admissions_categoryclaim",
        "admissions_facilitychoice",
        "assessments_assessment",
        "admissions_application",
        "admissions_applicant",
        "facilities_staffprofile",
        "facilities_bed",
        "facilities_facility",
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("UPDATE admissions_application SET current_assessment_id = NULL")
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
        city_users = "SELECT id FROM auth_user WHERE username LIKE 'city-%%'"
        cursor.execute(f"DELETE FROM auth_user_groups WHERE user_id IN ({city_users})")
        cursor.execute("DELETE FROM auth_user WHERE username LIKE 'city-%%'")


def test_about_three_percent_of_waiting_applicants_are_couples_mostly_together(city):
    """Issue 14, R-CPL-1: pairs of waiting applications sharing their first-choice home, linked with
    an event on each; most are to be placed together."""
    from admissions.models import ApplicationEvent, Couple, CoupleMember

    waiting = Application.objects.filter(state__in=["waiting", "offered", "admission_check"]).count()
    members = CoupleMember.objects.filter(live=True)
    assert 0.015 * waiting <= members.count() <= 0.045 * waiting
    couples = Couple.objects.all()
    assert couples.filter(mode="together").count() > couples.filter(mode="either_first").count()
    for couple in couples[:20]:
        first, second = [m.application for m in couple.members.all()]
        assert first.choices.get(rank=1).facility_id == second.choices.get(rank=1).facility_id
        assert ApplicationEvent.objects.filter(application=first, transition="couple_link").count() == 1
        assert ApplicationEvent.objects.filter(application=second, transition="couple_link").count() == 1


def test_bad_sizes_are_refused_naming_the_option(city):
    homes = Facility.objects.count()
    with pytest.raises(CommandError, match="--beds"):
        call_command("generate_city", facilities=20, beds=100, applications=10, no_progress=True)
    with pytest.raises(CommandError, match="--facilities"):
        call_command("generate_city", facilities=3, beds=1000, applications=10, no_progress=True)
    with pytest.raises(CommandError, match="--applications"):
        call_command("generate_city", facilities=20, beds=2000, applications=-1, no_progress=True)
    assert Facility.objects.count() == homes


def test_a_database_that_already_has_homes_is_refused(city):
    homes = Facility.objects.count()
    with pytest.raises(CommandError, match="empty"):
        call_command("generate_city", facilities=14, beds=2000, applications=10, no_progress=True)
    assert Facility.objects.count() == homes


def test_a_database_with_migrations_to_run_is_refused_with_the_command_to_run(city, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    homes = Facility.objects.count()
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("admissions", False)])
    with pytest.raises(CommandError, match="manage.py migrate"):
        call_command("generate_city", facilities=14, beds=2000, applications=10, no_progress=True)
    assert Facility.objects.count() == homes


def test_every_position_at_a_generated_home_is_its_place_in_the_queue_ties_included(city):
    """R-Q-4 against R-Q-2 on generated data: the counted position of every open entry is its
    place in the sorted queue, also for entries tied on channel, score and queued_at (the
    reference decides, R-Q-2)."""
    home = Facility.objects.get(code=city.largest_facility)
    first, second = QueueEntry.objects.filter(facility=home, status="open").order_by("pk")[:2]
    QueueEntry.objects.filter(pk__in=[first.pk, second.pk]).update(
        channel_rank=2, base_score=30, queued_at=first.queued_at, queued_epoch=first.queued_epoch
    )
    now = timezone.now()
    order = list(queue_for_facility(home, now=now))
    assert len(order) > 50
    for place, entry in enumerate(order, start=1):
        assert position_for_entry(entry, now=now).position == place


def test_the_allocation_walk_meets_the_queue_in_its_order_past_its_first_page(city):
    """R-ALLOC-1 walks the queue in R-Q-2's order: queue_walk reads narrow rows in pages, and the
    walk at the largest generated home runs past the first page into the second sort."""
    home = Facility.objects.get(code=city.largest_facility)
    now = timezone.now()
    policy = policy_in_force(now.date())
    expected = [(e.pk, e.application.reference, e.score) for e in queue_for_facility(home, now=now, policy=policy)]
    walked = [(step.entry_id, step.reference, step.score) for step in queue_walk(home, now=now, policy=policy)]
    assert len(expected) > QUEUE_WALK_FIRST
    assert walked == expected


def test_the_watchdog_report_finds_the_planted_anomalies(city):
    """R-WATCH-1, story 12: the second largest home has 3 beds vacant for over 14 days while its queue
    has candidates; some admissions passed over people ranked above, each with a recorded reason."""
    import datetime as dt

    from admissions import watchdog

    assert city.anomalies["long_vacant_beds"] == 3 and city.anomalies["out_of_order_admissions"] > 0
    today = timezone.localdate()
    year = watchdog.Period(today - dt.timedelta(days=365), today)
    report = watchdog.watchdog_report(Facility.objects.order_by("code"), year)
    home = next(row for row in report.rows if row.facility.code == city.anomalies["home"])
    assert home.count("long_vacant") == 3
    assert report.city.count("long_vacant") == 3
    assert report.city.count("out_of_order") > 0
    assert set(report.city.skip_reasons) <= {"offer_pending", "assessment_expired", "suspended", "bed_type_mismatch"}
    assert sum(report.city.skip_reasons.values()) >= report.city.count("out_of_order")
    assert report.city.count("long_out_of_service") > 0  # out of service for 1–90 days: some over 30
