"""The policy simulator (issue 7): its bookkeeping, its report, its isolation.

One two-policy run of a small city over three months (into 2028, past the shipped calendar) is made
once for the module, keeping each run's throwaway database, which the tests then open and read.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from admissions.decisions import first_chain_break
from admissions.models import (
    AllocationDecision,
    Application,
    ApplicationEvent,
    ApplicationState,
    CalendarDay,
    CalendarYear,
    Notification,
    Occupancy,
    Offer,
    OfferState,
    ReviewRequest,
)
from admissions.services.admission_deadline import no_show_due
from admissions.services.notifications import notify
from facilities.models import Bed, BedStatus
from simulation.report import CSV_COLUMNS
from simulation.simulator import (
    LOCAL,
    SIMULATION_SOURCE_MARK,
    admission_rows,
    no_outside_effects,
    rule_violations,
    sqlite_database,
)
from tests.factories import FacilityFactory, add_beds, queued_application

START = dt.date(2027, 11, 1)
MONTHS = 3
END = dt.date(2028, 2, 1)
BEGIN = dt.datetime.combine(START, dt.time(0), tzinfo=LOCAL)
SMALL_CITY = ["--facilities", "12", "--beds", "600", "--applications", "400"]
POLICIES = Path(__file__).resolve().parents[2] / "simulation" / "policies"


def simulate(out: Path, *args: str) -> None:
    call_command(
        "simulate",
        "--months",
        str(MONTHS),
        "--start",
        START.isoformat(),
        "--seed",
        "7",
        "--out",
        str(out),
        *SMALL_CITY,
        *args,
        verbosity=0,
    )


@pytest.fixture(scope="module")
def two_policies(tmp_path_factory, django_db_setup, django_db_blocker) -> Path:
    """default and nursing-target-85 side by side, in two processes, databases kept."""
    out = tmp_path_factory.mktemp("two-policies")
    with django_db_blocker.unblock():
        simulate(
            out,
            "--policy",
            str(POLICIES / "default.json"),
            "--policy",
            str(POLICIES / "nursing-target-85.json"),
            "--keep-db",
            "--jobs",
            "2",
        )
    return out


@pytest.fixture
def kept(two_policies, django_db_blocker):
    """Open one run's kept database: `with kept("default"): ...` reads it through the ORM."""

    def open_run(label: str):
        return sqlite_database(two_policies / f"simulation-{label}.sqlite3")

    with django_db_blocker.unblock():
        yield open_run


def csv_rows(out: Path) -> list[dict]:
    with (out / "admissions.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def summary_row(report: str, title: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith(f"| {title} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


# --- every admission went through the allocation and kept the rules -------------------------------
def test_every_simulated_admission_came_from_an_offer_the_allocation_service_decided(kept):
    """R-ALLOC-1, R-ALLOC-2: the simulator never places anyone in a bed itself."""
    with kept("default"):
        admitted = Occupancy.objects.filter(admitted_on__gte=START, application__isnull=False).select_related(
            "offer__decision"
        )
        assert admitted.count() > 10
        for occupancy in admitted:
            offer = occupancy.offer
            assert offer.state == OfferState.ADMITTED
            assert offer.application_id == occupancy.application_id
            assert offer.decision.chosen_entry_id == offer.queue_entry_id
            assert offer.decision.bed_id == occupancy.bed_id
        assert first_chain_break() is None


def test_the_rules_hold_at_the_end_of_the_run_in_both_policies(kept):
    """R-NQ-1, R-BED-1, R-OFF-3 (the simulator checked them every day as well: the command fails otherwise)."""
    for label in ("default", "nursing-target-85"):
        with kept(label):
            problems, _held = rule_violations(since=BEGIN, self_care_yesterday={})
            assert problems == []
            assert AllocationDecision.objects.filter(made_at__gte=BEGIN).exists()


def test_the_csv_has_one_row_per_admission_agreeing_with_the_database(two_policies, kept):
    rows = csv_rows(two_policies)
    assert list(rows[0]) == CSV_COLUMNS
    for label in ("default", "nursing-target-85"):
        written = [row for row in rows if row["policy"] == label]
        with kept(label):
            expected = admission_rows(start=START, end=END, label=label)
            assert len(written) == Occupancy.objects.filter(admitted_on__gte=START, application__isnull=False).count()
            assert written == [{key: str(value) for key, value in row.items()} for row in expected]
            for row in written[:20]:
                application = Application.objects.get(reference=row["reference"])
                occupancy = application.occupancy
                assert occupancy.facility.code == row["facility"]
                assert application.channel_code == row["channel"]
                assert (occupancy.admitted_on - application.queued_at.astimezone(LOCAL).date()).days == int(
                    row["days_waited"]
                )


def test_deaths_withdrawals_and_refusals_on_the_list_are_counted_as_the_database_has_them(two_policies, kept):
    """People waiting die (removed, reason deceased), withdraw, refuse (R-OFF-4); the report counts each."""
    report = (two_policies / "report.md").read_text()
    with kept("default"):
        closed = Application.objects.filter(closed_at__gte=BEGIN)
        deaths = closed.filter(state=ApplicationState.REMOVED, closing_reason="deceased").count()
        withdrawals = closed.filter(state=ApplicationState.WITHDRAWN).count()
        declines = Offer.objects.filter(state=OfferState.DECLINED, closed_at__gte=BEGIN).count()
    assert deaths > 0 and withdrawals > 0
    assert summary_row(report, "removals: died waiting")[0] == str(deaths)
    assert summary_row(report, "removals: withdrawn")[0] == str(withdrawals)
    assert summary_row(report, "refusals: declined")[0] == str(declines)


def test_life_while_waiting_happens_through_the_services_and_is_counted_as_the_database_has_it(two_policies, kept):
    """Issue 13 in the simulated city: families asked to re-confirm (R-CHG-3; some do not, and are
    suspended `not_reconfirmed`), re-reviews (R-ASM-6), no-shows nobody records failed by the system
    (R-OFF-7) and changes of family situation (R-CHG-2); the report's rows are the database's events."""
    report = (two_policies / "report.md").read_text()
    with kept("default"):
        events = ApplicationEvent.objects.filter(at__gte=BEGIN)
        counted = {
            "re-confirmation asked (R-CHG-3)": events.filter(transition="reconfirmation_requested").count(),
            "confirmed by the family or staff": events.filter(transition="reconfirmed")
            .exclude(data__via="offer")
            .count(),
            "suspended, not confirmed in time": events.filter(transition="suspend", reason="not_reconfirmed").count(),
            "re-review asked for (R-ASM-6)": events.filter(transition="review_requested").count(),
            "re-review: grade changed": events.filter(transition="review_decided", data__outcome="changed").count(),
            "no-show failed by the system after the grace (R-OFF-7)": events.filter(
                transition="fail_admission_check", actor_kind="system", data__reason="no_show"
            ).count(),
            "family situation changed, rescored (R-CHG-2)": events.filter(
                transition="family_situation_changed"
            ).count(),
        }
        # R-ASM-6: each re-review asked for was assigned at once to the second assessor, who took no part.
        for review in ReviewRequest.objects.filter(requested_at__gte=BEGIN).select_related("assessment", "assessor"):
            assert review.assessor.username == "simulation-assessor-2"
            assert review.assessor_id not in (review.assessment.assessor_id, review.assessment.reviewer_id)
        for event in events.filter(transition="fail_admission_check", actor_kind="system"):
            offer = Offer.objects.get(pk=event.data["offer"])
            assert event.at > no_show_due(offer)  # R-OFF-7: never before the deadline and its grace
    for title, count in counted.items():
        assert summary_row(report, title)[0] == str(count), title
    for title in (
        "re-confirmation asked (R-CHG-3)",
        "confirmed by the family or staff",
        "suspended, not confirmed in time",
        "re-review asked for (R-ASM-6)",
        "family situation changed, rescored (R-CHG-2)",
    ):
        assert counted[title] > 0, title


def test_residents_leave_through_the_discharge_service_and_their_beds_are_offered_again(kept):
    """R-BED-2: every bed freed in the run was allocated at once (a decision with a discharge trigger)."""
    with kept("default"):
        left = Occupancy.objects.filter(discharged_on__gte=START)
        assert left.filter(discharge_reason="deceased").exists()
        for occupancy in left[:30]:
            assert AllocationDecision.objects.filter(
                bed=occupancy.bed, trigger=f"discharge:{occupancy.discharge_reason}", made_at__gte=BEGIN
            ).exists()


# --- the report -----------------------------------------------------------------------------------
def test_the_report_shows_both_policies_side_by_side_with_its_charts(two_policies):
    report = (two_policies / "report.md").read_text()
    assert report.startswith("# Policy simulation: default vs nursing-target-85")
    assert "| | default | nursing-target-85 |" in report.replace("|  |", "| |")
    assert "`nursing_target` 0.780 → **0.850**" in report
    assert "- **nursing-target-85** against **default**:" in report
    for chart in (
        "waiting_by_channel.png",
        "waiting_by_care_level.png",
        "waiting_by_district.png",
        "nursing_share.png",
        "refusals_and_removals.png",
        "admissions_and_queue.png",
    ):
        assert f"]({chart})" in report
        assert (two_policies / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {row["policy"] for row in csv_rows(two_policies)} == {"default", "nursing-target-85"}
    assert report.count("0 violation(s)") == 2


def test_the_years_past_the_shipped_calendar_are_filled_for_the_run_and_the_report_says_so(two_policies, kept):
    """R-OFF-2: 2028 is not shipped; the run fills it from `holidays` and says so."""
    with kept("default"):
        year = CalendarYear.objects.get(year=2028)
        assert SIMULATION_SOURCE_MARK in year.source
        assert CalendarDay.objects.filter(date=dt.date(2028, 1, 1), kind="holiday").exists()
        assert SIMULATION_SOURCE_MARK not in CalendarYear.objects.get(year=2027).source
    assert f"| 2028 | {SIMULATION_SOURCE_MARK}" in (two_policies / "report.md").read_text()


def test_notifications_are_written_but_none_is_handed_to_a_sender(two_policies, kept):
    with kept("default"):
        written = Notification.objects.filter(created_at__gte=BEGIN)
        assert written.exists()
        assert not written.exclude(status="pending").exists()
    assert "handed to a sender: none" in (two_policies / "report.md").read_text()


@pytest.mark.django_db
def test_inside_a_simulation_a_notification_is_never_dispatched(django_capture_on_commit_callbacks, mailoutbox):
    facility = FacilityFactory()
    add_beds(facility, nursing=4)
    application = queued_application(choices=[facility.code])
    with no_outside_effects() as suppressed:
        with django_capture_on_commit_callbacks(execute=True):
            notify(application=application, kind="state_changed")
    assert suppressed["notification"] == 1
    # Without the guard the eager task would have sent it at once.
    assert not Notification.objects.filter(application=application).exclude(status="pending").exists()
    assert mailoutbox == []


# --- determinism and isolation ------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_admissions_one_process_or_several(two_policies, tmp_path, django_db_blocker):
    with django_db_blocker.unblock():
        simulate(tmp_path, "--policy", str(POLICIES / "default.json"), "--jobs", "1")
    again = csv_rows(tmp_path)
    assert again
    assert again == [row for row in csv_rows(two_policies) if row["policy"] == "default"]


def database_state() -> dict:
    return {
        "applications": list(Application.objects.values_list("reference", "state", "version")),
        "beds": list(Bed.objects.values_list("pk", "status")),
        "offers": Offer.objects.count(),
        "decisions": AllocationDecision.objects.count(),
        "calendar_years": list(CalendarYear.objects.values_list("year", "source")),
        "notifications": Notification.objects.count(),
    }


@pytest.mark.django_db
def test_a_run_leaves_the_database_it_was_started_against_as_it_was(tmp_path):
    facility = FacilityFactory(code="REAL-01")
    add_beds(facility, nursing=3, status=BedStatus.VACANT)
    application = queued_application(choices=[facility.code])
    before = database_state()
    call_command(
        "simulate",
        "--months",
        "1",
        "--start",
        "2027-12-01",
        "--facilities",
        "12",
        "--beds",
        "600",
        "--applications",
        "100",
        "--out",
        str(tmp_path),
        verbosity=0,
    )
    assert csv_rows(tmp_path)  # the run did admit people, elsewhere
    after = database_state()
    assert after == before
    assert application.reference in [reference for reference, _state, _version in after["applications"]]


# --- policy files -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"nursing_target": 1.5}, "nursing_target: must be a number from 0 to 1"),
        ({"refusal_limt": 3}, "refusal_limt: is not a policy parameter"),
        ({"score_weights": {"care": {}}}, "score_weights: must have care, age, family and waiting"),
        ({"label": ""}, "label: must be a name"),
        ("[1, 2]", "must be a JSON object"),
        ("{nursing_target: 0.8", "not valid JSON"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_field(tmp_path, content, named):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(CommandError) as refused:
        call_command("simulate", "--policy", str(path), "--out", str(tmp_path / "out"), verbosity=0)
    assert named in str(refused.value)
    assert str(path) in str(refused.value)
    assert not (tmp_path / "out" / "report.md").exists()


def test_the_committed_policy_files_are_valid():
    from simulation.simulator import policy_from_file

    policies = {path.stem: policy_from_file(path) for path in POLICIES.glob("*.json")}
    assert policies["default"].changes() == {}
    assert policies["waiting-points-2"].changed_leaves() == [("score_weights.waiting.points", 1, 2)]
    assert policies["nursing-target-85"].changed_leaves() == [("nursing_target", "0.780", "0.850")]


# --- the rule checker can fail ---------------------------------------------------------------------
@pytest.mark.django_db
def test_the_daily_check_reports_a_quota_passed_and_a_bed_reserved_without_an_offer():
    """The checks that prove R-NQ-1 and R-BED-1 in a run must be able to fail."""
    facility = FacilityFactory(code="CHK-01")
    add_beds(facility, nursing=6, status=BedStatus.OCCUPIED, holder="nursing")
    add_beds(facility, general=4, status=BedStatus.OCCUPIED, holder="self_care")  # cap ⌊10 × 0.22⌋ = 2
    for bed in Bed.objects.filter(facility=facility, status=BedStatus.OCCUPIED):
        Occupancy.objects.create(bed=bed, facility=facility, care_level=bed.holder_care_level, admitted_on=START)
    Bed.objects.filter(facility=facility, code="B0001").update(status=BedStatus.RESERVED)
    Occupancy.objects.filter(bed__code="B0001", bed__facility=facility).update(
        discharged_on=START, discharge_reason="deceased"
    )
    problems, held = rule_violations(since=BEGIN, self_care_yesterday={facility.pk: 3})
    assert held[facility.pk] == 4
    assert any(p.startswith("R-NQ-1 CHK-01: 4 self-care beds held, cap 2") for p in problems)
    assert any(p.startswith("R-BED-1 CHK-01/B0001: reserved with live offer=False") for p in problems)
    # Held above the cap but not rising (the cap fell under them: nobody is displaced) is no breach.
    problems, _ = rule_violations(since=BEGIN, self_care_yesterday={facility.pk: 4})
    assert not [p for p in problems if p.startswith("R-NQ-1")]
