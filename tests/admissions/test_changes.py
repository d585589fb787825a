"""Changes after approval (R-CHG-2): each act with its event, lock and version; the queue effects;
bad input refused naming the field and changing nothing."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import ApplicationEvent, Notification, Offer, QueueEntry, WebhookDelivery
from admissions.previews import change_preview
from admissions.selectors import position_for_entry, positions_for_application
from admissions.services import applications as app_services
from admissions.services import changes
from admissions.services.webhooks import webhook_subscribe
from core.errors import Conflict, InvalidInput, RuleViolation, WrongState
from facilities.models import BedStatus
from tests import spec
from tests.factories import (
    FacilityFactory,
    actor,
    add_beds,
    district,
    id_number,
    queued_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def homes():
    """Two district homes in Yuexiu, one city home and one district home in Tianhe; all full."""
    homes = {
        "YX01": FacilityFactory(code="YX01"),
        "YX02": FacilityFactory(code="YX02"),
        "CITY1": FacilityFactory(code="CITY1", level="city"),
        "CITY2": FacilityFactory(code="CITY2", level="city"),
        "TH01": FacilityFactory(code="TH01", district=district("tianhe")),
    }
    for home in homes.values():
        add_beds(home, nursing=2, general=2)
    return homes


def snapshot(application):
    """Everything a refused change must leave as it was."""
    application.refresh_from_db()
    applicant = application.applicant
    applicant.refresh_from_db()
    return (
        application.version,
        application.lives_alone,
        application.hukou_district_id,
        applicant.id_number,
        applicant.date_of_birth,
        [(c.facility_id, c.rank, c.spouse_resident) for c in application.choices.order_by("rank")],
        list(QueueEntry.objects.filter(application=application).values_list("facility_id", "status", "base_score")),
        ApplicationEvent.objects.filter(application=application).count(),
    )


def events(application, name):
    return list(ApplicationEvent.objects.filter(application=application, transition=name))


# --- contact --------------------------------------------------------------------------------------
def test_contact_details_change_any_time_before_a_final_state_with_a_masked_event_and_no_queue_effect(homes, settings):
    """R-CHG-2: contact details by intake, offers included; the event masks phones and addresses."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org"]
    webhook_subscribe(url="https://example.org/x", events=["application.changed"], secret="s" * 20, actor=actor("a"))
    with time_machine.travel(T0, tick=False):
        application = queued_application(choices=["YX01"])
    entries_before = list(QueueEntry.objects.filter(application=application).values())
    version = application.version
    changes.application_contact_change(
        application=application,
        changes={"applicant.phone": "13811112222", "contact.name": "儿子", "applicant.address": "越秀区 新地址 9 号"},
        actor=actor("intake"),
        expected_version=version,
    )
    application.refresh_from_db()
    assert application.applicant.phone == "13811112222"
    assert application.contact_name == "儿子"
    assert application.version == version + 1
    [event] = events(application, "contact_changed")
    assert event.data["changes"]["applicant.phone"] == {"old": "138******00", "new": "138******22"}
    assert "新地址" not in str(event.data)
    assert list(QueueEntry.objects.filter(application=application).values()) == entries_before
    assert WebhookDelivery.objects.filter(type="application.changed").count() == 1
    assert Notification.objects.filter(application=application, kind="application_changed").exists()


def test_contact_details_change_while_an_offer_is_live(homes):
    """R-CHG-2: "offers included"."""
    application = queued_application(choices=["YX01"])
    bed = homes["YX01"].beds.filter(bed_type="nursing").first()
    from admissions.services.beds import bed_discharge

    bed_discharge(bed=bed, reason="deceased")
    application.refresh_from_db()
    assert application.state == "offered"
    changes.application_contact_change(
        application=application, changes={"contact.phone": "13933334444"}, actor=actor("intake")
    )
    application.refresh_from_db()
    assert application.contact_phone == "13933334444"


def test_a_bad_phone_is_refused_naming_the_field_and_changing_nothing(homes):
    """R-CHG-2, R-SEC-9."""
    application = queued_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(InvalidInput) as caught:
        changes.application_contact_change(application=application, changes={"contact.phone": "12"}, actor=actor("i"))
    assert "contact.phone" in caught.value.errors
    assert snapshot(application) == before


def test_a_stale_version_gets_a_conflict_and_changes_nothing(homes):
    """R-CHG-2 with R-FSM-4: of two changes from one version, the second gets 409."""
    application = queued_application(choices=["YX01"])
    version = application.version
    changes.application_contact_change(
        application=application, changes={"contact.name": "A"}, actor=actor("i"), expected_version=version
    )
    before = snapshot(application)
    with pytest.raises(Conflict):
        changes.application_family_situation_change(
            application=application,
            lives_alone=True,
            no_spouse_no_children=False,
            spouse_resident_in=[],
            reason="moved out",
            actor=actor("i"),
            expected_version=version,
        )
    assert snapshot(application) == before


def test_a_final_application_keeps_its_contact_details(homes):
    """R-CHG-2: "at any time before a final state"."""
    application = queued_application(choices=["YX01"])
    app_services.application_withdraw(application=application, reason="family decided", actor=actor("i"))
    with pytest.raises(WrongState):
        changes.application_contact_change(application=application, changes={"contact.name": "B"}, actor=actor("i"))


# --- personal details ----------------------------------------------------------------------------
def test_personal_details_are_corrected_by_a_reviewer_with_a_reason_and_the_id_masked_in_the_event(homes):
    """R-CHG-2: name, ID number, birth date, sex after approval; R-APP-1 checked again."""
    application = queued_application(choices=["YX01"])
    born = application.applicant.date_of_birth
    new_number = id_number(born)
    changes.application_personal_details_change(
        application=application,
        changes={"name": "陈秀美", "id_number": new_number},
        reason="typing mistake on the ID card copy",
        actor=actor("reviewer"),
    )
    application.refresh_from_db()
    assert application.applicant.id_number == new_number
    [event] = events(application, "personal_details_changed")
    assert new_number not in str(event.data)
    assert event.data["changes"]["applicant.id_number"]["new"] == new_number[:6] + "*" * 8 + new_number[-4:]


def test_an_id_number_of_someone_with_an_open_application_is_refused(homes):
    """R-CHG-2 with R-APP-5: the field and the other application are named; nothing changes."""
    application = queued_application(choices=["YX01"])
    other = submitted_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(Conflict) as caught:
        changes.application_personal_details_change(
            application=application,
            changes={"id_number": other.applicant.id_number, "date_of_birth": other.applicant.date_of_birth},
            reason="wrong number",
            actor=actor("reviewer"),
        )
    assert "applicant.id_number" in caught.value.errors
    assert other.reference in caught.value.errors["applicant.id_number"][0]
    assert snapshot(application) == before


def test_a_birth_date_that_makes_the_applicant_too_young_is_refused(homes):
    """R-CHG-2 with R-APP-2."""
    application = queued_application(choices=["YX01"])
    young = dt.date.today().replace(year=dt.date.today().year - (spec.MIN_AGE - 5))
    before = snapshot(application)
    with pytest.raises(RuleViolation) as caught:
        changes.application_personal_details_change(
            application=application,
            changes={"date_of_birth": young, "id_number": id_number(young)},
            reason="wrong year",
            actor=actor("reviewer"),
        )
    assert "applicant.date_of_birth" in caught.value.errors
    assert snapshot(application) == before


def test_an_id_number_that_disagrees_with_the_birth_date_is_refused(homes):
    """R-CHG-2 with R-APP-1: the birth date inside the number must equal the birth date."""
    application = queued_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(InvalidInput) as caught:
        changes.application_personal_details_change(
            application=application,
            changes={"date_of_birth": dt.date(1940, 1, 1)},
            reason="wrong birth date",
            actor=actor("reviewer"),
        )
    assert "applicant.date_of_birth" in caught.value.errors
    assert snapshot(application) == before


def test_personal_details_wait_for_approval(homes):
    """R-CHG-2: "after approval"; before it, intake corrections apply."""
    application = submitted_application(choices=["YX01"])
    with pytest.raises(WrongState):
        changes.application_personal_details_change(
            application=application, changes={"name": "王"}, reason="x", actor=actor("reviewer")
        )


# --- family situation ----------------------------------------------------------------------------
def test_a_family_situation_change_moves_positions_at_every_chosen_home_at_once(homes):
    """R-CHG-2: rescored at every open entry at once, queued_at kept."""
    with time_machine.travel(T0, tick=False):
        rivals = [queued_application(grade=2, choices=["YX01", "CITY1"], lives_alone=True) for _ in range(2)]
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        mrs_li = queued_application(grade=2, choices=["YX01", "CITY1"])
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        assert [p.position for p in positions_for_application(mrs_li)] == [3, 3]
        queued_at = {e.facility_id: e.queued_at for e in mrs_li.queue_entries.all()}
        changes.application_family_situation_change(
            application=mrs_li,
            lives_alone=True,
            no_spouse_no_children=True,
            spouse_resident_in=[],
            reason="her husband died in May",
            actor=actor("intake"),
        )
        positions = positions_for_application(mrs_li)
    assert [p.position for p in positions] == [1, 1]
    assert [p.score_breakdown["family"] for p in positions] == [spec.LONELY_POINTS + spec.LIVES_ALONE_POINTS] * 2
    assert {e.facility_id: e.queued_at for e in mrs_li.queue_entries.all()} == queued_at
    [event] = events(mrs_li, "family_situation_changed")
    assert event.reason == "her husband died in May"
    assert event.data["scores"]["new"]["YX01"] - event.data["scores"]["old"]["YX01"] == 8
    assert rivals[0].reference  # the rivals stay where they were, behind her now


def test_spouse_resident_counts_at_that_home_only(homes):
    """R-CHG-2 with R-APP-9: spouse resident is per chosen home."""
    application = queued_application(grade=2, choices=["YX01", "CITY1"])
    changes.application_family_situation_change(
        application=application,
        lives_alone=False,
        no_spouse_no_children=False,
        spouse_resident_in=["CITY1"],
        reason="her husband was admitted at CITY1",
        actor=actor("intake"),
    )
    scores = {e.facility.code: e.score_parts["family"] for e in application.queue_entries.all()}
    assert scores == {"YX01": 0, "CITY1": spec.SPOUSE_RESIDENT_POINTS}


def test_a_family_situation_without_a_reason_is_refused_naming_the_reason(homes):
    """R-CHG-2: with a reason; refused, nothing changes."""
    application = queued_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(InvalidInput) as caught:
        changes.application_family_situation_change(
            application=application,
            lives_alone=True,
            no_spouse_no_children=False,
            spouse_resident_in=[],
            reason="  ",
            actor=actor("intake"),
        )
    assert "reason" in caught.value.errors
    assert snapshot(application) == before


def test_family_situation_changes_wait_while_an_offer_is_live(homes):
    """R-CHG-2: not while an offer is live."""
    application = queued_application(choices=["YX01"])
    from admissions.services.beds import bed_discharge

    bed_discharge(bed=homes["YX01"].beds.filter(bed_type="nursing").first(), reason="deceased")
    application.refresh_from_db()
    assert Offer.objects.filter(application=application, state="pending").exists()
    with pytest.raises(WrongState):
        changes.application_family_situation_change(
            application=application,
            lives_alone=True,
            no_spouse_no_children=False,
            spouse_resident_in=[],
            reason="x",
            actor=actor("intake"),
        )


def test_a_family_situation_change_starts_an_allocation_at_the_chosen_homes(homes, monkeypatch):
    """R-CHG-2 with R-ALLOC-3: a change of circumstances starts an allocation (where beds are vacant)."""
    application = queued_application(grade=2, choices=["YX01"])
    calls = []
    monkeypatch.setattr(
        changes,
        "allocation_run_for_application",
        lambda **kwargs: calls.append((kwargs["application"].pk, kwargs["trigger"])),
    )
    changes.application_family_situation_change(
        application=application,
        lives_alone=True,
        no_spouse_no_children=False,
        spouse_resident_in=[],
        reason="lives alone now",
        actor=actor("intake"),
    )
    assert calls == [(application.pk, "family_situation_changed")]


# --- categories ------------------------------------------------------------------------------------
def test_a_new_category_counts_once_verified_and_the_channel_is_recomputed_with_queued_at_kept(homes):
    """R-CHG-2: a claim with evidence by intake, verified by a reviewer; channel recomputed."""
    with time_machine.travel(T0, tick=False):
        ahead = queued_application(grade=3, choices=["YX01"])
        application = queued_application(grade=2, choices=["YX01"])
    queued_at = application.queue_entries.get().queued_at
    changes.application_category_claim(
        application=application, code="dibao", evidence="低保证 2026-7", actor=actor("intake")
    )
    application.refresh_from_db()
    assert application.channel_code == "ordinary"  # a claim does not count until verified
    changes.application_category_verify(
        application=application, code="dibao", verified=True, note="seen", actor=actor("reviewer")
    )
    application.refresh_from_db()
    entry = application.queue_entries.get()
    assert application.channel_code == "special"
    assert entry.channel_rank == 0 and entry.queued_at == queued_at
    assert position_for_entry(entry).position == 1
    assert ahead.queue_entries.get().channel_rank == 2
    [claimed, verified] = events(application, "categories_changed")
    assert verified.data["channel"] == {"old": "ordinary", "new": "special"}


def test_an_ended_category_lowers_the_channel(homes):
    """R-CHG-2: a category that has ended (低保 lifted) is recorded by a reviewer with a reason."""
    application = queued_application(
        choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "低保证"}]
    )
    assert application.channel_code == "special"
    changes.application_category_end(
        application=application, code="dibao", reason="低保 lifted in May", actor=actor("reviewer")
    )
    application.refresh_from_db()
    assert application.channel_code == "ordinary"
    assert application.queue_entries.get().channel_rank == 2
    assert application.category_claims.get().status == "ended"


def test_a_claim_without_evidence_is_refused_naming_the_evidence(homes):
    """R-CHG-2 with R-APP-8."""
    application = queued_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(InvalidInput) as caught:
        changes.application_category_claim(application=application, code="dibao", evidence="", actor=actor("intake"))
    assert "evidence" in caught.value.errors
    assert snapshot(application) == before


# --- districts ---------------------------------------------------------------------------------------
def test_a_move_lists_the_choices_it_would_drop_and_drops_them_on_confirming(homes):
    """R-CHG-2: district-level choices outside the new district are listed, then dropped."""
    application = queued_application(choices=["YX01", "CITY1"])
    before = snapshot(application)
    with pytest.raises(RuleViolation) as caught:
        changes.application_districts_change(
            application=application,
            hukou_district="tianhe",
            residence_district="tianhe",
            reason="moved",
            actor=actor("i"),
        )
    assert "choices.0" in caught.value.errors
    assert caught.value.extra["dropped_choices"] == ["YX01"]
    assert snapshot(application) == before
    changes.application_districts_change(
        application=application,
        hukou_district="tianhe",
        residence_district="tianhe",
        reason="moved",
        confirm_dropped_choices=True,
        actor=actor("i"),
    )
    application.refresh_from_db()
    assert application.hukou_district.code == "tianhe"
    assert [c.facility.code for c in application.choices.all()] == ["CITY1"]
    dropped = application.queue_entries.get(facility__code="YX01")
    assert (dropped.status, dropped.outcome) == ("closed", "choice_dropped")


def test_a_move_that_would_leave_no_choice_is_refused(homes):
    """R-CHG-2 with R-APP-7: at least one choice."""
    application = queued_application(choices=["YX01"])
    with pytest.raises(RuleViolation) as caught:
        changes.application_districts_change(
            application=application,
            hukou_district="tianhe",
            reason="moved",
            confirm_dropped_choices=True,
            actor=actor("i"),
        )
    assert "choices" in caught.value.errors


# --- choices ------------------------------------------------------------------------------------------
def test_choices_change_keeps_kept_entries_closes_dropped_ones_and_queues_new_ones_from_now(homes):
    """R-CHG-2: kept choice keeps queued_at; dropped closes choice_dropped; new queued from the change."""
    with time_machine.travel(T0, tick=False):
        application = queued_application(choices=["YX01", "CITY1"])
    kept_at = application.queue_entries.get(facility__code="YX01").queued_at
    later = T0 + dt.timedelta(days=100)
    with time_machine.travel(later, tick=False):
        changes.application_choices_change(
            application=application, choices=["YX02", "YX01"], reason="closer to her son", actor=actor("reviewer")
        )
        positions = {p.entry.facility.code: p for p in positions_for_application(application)}
    assert [c.facility.code for c in application.choices.all()] == ["YX02", "YX01"]
    assert application.queue_entries.get(facility__code="YX01").queued_at == kept_at
    new = application.queue_entries.get(facility__code="YX02")
    assert new.queued_at == later
    assert positions["YX02"].score_breakdown["waiting"] == 0  # its waiting time counts from the change
    assert positions["YX01"].score_breakdown["waiting"] == 100 // spec.WAITING_PERIOD_DAYS
    dropped = application.queue_entries.get(facility__code="CITY1")
    assert (dropped.status, dropped.outcome) == ("closed", "choice_dropped")
    [event] = events(application, "choices_changed")
    assert event.data["added"] == ["YX02"] and event.data["dropped"] == ["CITY1"]


def test_a_home_dropped_before_and_chosen_again_is_queued_from_the_second_choice(homes):
    """R-CHG-2, R-Q-1: "also for a home that was dropped before"; the old entry stays closed."""
    with time_machine.travel(T0, tick=False):
        application = queued_application(choices=["YX01", "CITY1"])
    with time_machine.travel(T0 + dt.timedelta(days=10), tick=False):
        changes.application_choices_change(application=application, choices=["YX01"], reason="a", actor=actor("r"))
    again = T0 + dt.timedelta(days=40)
    with time_machine.travel(again, tick=False):
        changes.application_choices_change(
            application=application, choices=["YX01", "CITY1"], reason="b", actor=actor("r")
        )
    entries = list(application.queue_entries.filter(facility__code="CITY1").order_by("pk"))
    assert [(e.status, e.outcome) for e in entries] == [("closed", "choice_dropped"), ("open", "")]
    assert entries[1].queued_at == again


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        (["YX01", "YX02", "CITY1"], "choices"),  # over the limit of max_choices
        (["CITY1", "CITY2"], "choices.1"),  # two city-level homes
        (["CITY1", "CITY1"], "choices.1"),  # one city-level home twice
        (["TH01"], "choices.0"),  # a district home outside her district
        ([], "choices"),
    ],
)
def test_a_choice_list_that_breaks_the_limits_is_refused_naming_the_field(homes, choices, field):
    """R-CHG-2 with R-APP-7: within the limits; nothing changes."""
    application = queued_application(choices=["YX01"])
    before = snapshot(application)
    with pytest.raises(RuleViolation) as caught:
        changes.application_choices_change(application=application, choices=choices, reason="x", actor=actor("r"))
    assert field in caught.value.errors
    assert snapshot(application) == before


def test_accepting_applications_is_checked_for_added_homes_only(homes):
    """R-CHG-2: a kept home that stopped accepting stays; an added one that does not accept is refused."""
    application = queued_application(choices=["YX01"])
    homes["YX01"].accepting_applications = False
    homes["YX01"].save()
    changes.application_choices_change(application=application, choices=["CITY1", "YX01"], reason="x", actor=actor("r"))
    homes["YX02"].accepting_applications = False
    homes["YX02"].save()
    with pytest.raises(RuleViolation) as caught:
        changes.application_choices_change(application=application, choices=["YX02"], reason="x", actor=actor("r"))
    assert "choices.0" in caught.value.errors


def test_a_new_choice_at_a_home_with_a_vacant_bed_starts_an_allocation_there(homes):
    """R-CHG-2 with R-ALLOC-3."""
    application = queued_application(grade=2, choices=["YX01"])
    add_beds(homes["YX02"], nursing=1, status=BedStatus.VACANT)
    changes.application_choices_change(application=application, choices=["YX01", "YX02"], reason="x", actor=actor("r"))
    application.refresh_from_db()
    assert application.state == "offered"
    assert Offer.objects.get(application=application).facility == homes["YX02"]


def test_an_unknown_home_is_bad_input(homes):
    """R-CHG-2: a code that names no home is a 400, naming the item."""
    application = queued_application(choices=["YX01"])
    with pytest.raises(InvalidInput) as caught:
        changes.application_choices_change(application=application, choices=["NOPE"], reason="x", actor=actor("r"))
    assert "choices.0" in caught.value.errors


# --- the preview ---------------------------------------------------------------------------------------
def test_the_preview_shows_before_and_after_without_writing(homes):
    """R-CHG-2: before/after scores and positions, computed by a selector."""
    with time_machine.travel(T0, tick=False):
        queued_application(grade=2, choices=["YX01"], lives_alone=True)
        application = queued_application(grade=2, choices=["YX01"])
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        before = snapshot(application)
        [row] = change_preview(application, lives_alone=True, no_spouse_no_children=True)
        assert snapshot(application) == before
        assert (row.before.position, row.after.position) == (2, 1)
        assert row.score_change == spec.LONELY_POINTS + spec.LIVES_ALONE_POINTS
        changes.application_family_situation_change(
            application=application,
            lives_alone=True,
            no_spouse_no_children=True,
            spouse_resident_in=[],
            reason="x",
            actor=actor("i"),
        )
        [now] = positions_for_application(application)
    assert (now.position, now.score) == (row.after.position, row.after.score)
