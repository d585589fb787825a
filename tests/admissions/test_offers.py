"""Offers: deadlines, accept, decline, expire, admit, the admission check and refusals (R-OFF-1…6)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from admissions.models import Application, ApplicationEvent, Notification, Occupancy, Offer
from admissions.services import applications as app_services
from admissions.services.beds import bed_discharge
from admissions.services.offers import offer_accept, offer_admit, offer_decline, offer_fail_check, offers_expire_due
from core.errors import InvalidInput, RuleViolation, WrongState
from facilities.models import Bed
from tests.factories import FacilityFactory, actor, add_beds, intake, queued_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def offered(*, choices=("YX01",), grade=3, home_code="YX01", **kwargs):
    """An application offered a vacant nursing bed at YX01."""
    home = FacilityFactory(code=home_code)
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=grade, choices=list(choices), **kwargs)
    return Offer.objects.get(application=application, state="pending")


def test_an_offer_made_before_national_day_is_due_at_the_end_of_the_fifth_working_day_after_it():
    """R-OFF-1, R-OFF-2 (STORIES 4): made 30 Sep 17:00, due 13 Oct 23:59:59 (1–7 Oct off, 10 Oct worked)."""
    with time_machine.travel(dt.datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)):
        offer = offered()
    assert offer.respond_by == dt.datetime(2026, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)


def test_accepting_sets_the_admission_deadline_five_working_days_after_acceptance():
    """R-OFF-1: accept on Friday 2026-11-27 → admit by Friday 2026-12-04 23:59:59."""
    with time_machine.travel(dt.datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)):
        offer = offered()
        offer = offer_accept(offer=offer, actor=actor("facility"))
    assert offer.state == "accepted"
    assert offer.admit_by == dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=SHANGHAI)
    assert Application.objects.get(pk=offer.application_id).state == "admission_check"
    # R-FSM-2: the event records the offer and the deadline it set.
    event = ApplicationEvent.objects.filter(application_id=offer.application_id).latest("id")
    assert (event.transition, event.data) == (
        "accept_offer",
        {"offer": offer.pk, "admit_by": "2026-12-04T23:59:59+08:00"},
    )
    # R-FSM-3: accepting again names the offer's state.
    with pytest.raises(WrongState) as caught:
        offer_accept(offer=offer, actor=actor("facility"))
    assert caught.value.current_state == "accepted"


def test_admitting_occupies_the_bed_and_closes_every_entry_with_its_outcome():
    """SPEC §5 admit; R-Q-1 entries close keeping their outcome (STORIES 5: admitted elsewhere)."""
    FacilityFactory(code="GZC01", level="city")
    offer = offered(choices=("YX01", "GZC01"))
    offer_accept(offer=offer, actor=actor("facility"))
    offer_admit(offer=offer, actor=actor("facility"))
    application = Application.objects.get(pk=offer.application_id)
    assert application.state == "admitted"
    assert Bed.objects.get(pk=offer.bed_id).status == "occupied"
    assert Occupancy.objects.get(application=application).care_level == "nursing"
    outcomes = {e.facility.code: (e.status, e.outcome) for e in application.queue_entries.all()}
    assert outcomes == {"YX01": ("closed", "admitted"), "GZC01": ("closed", "admitted_elsewhere")}
    transitions = list(application.events.values_list("transition", flat=True))
    assert transitions[-3:] == ["make_offer", "accept_offer", "admit"]


def test_declining_is_a_refusal_and_the_bed_goes_to_the_next_candidate():
    """R-OFF-4."""
    offer = offered(grade=4)
    second = queued_application(grade=2, choices=["YX01"])
    _, (decision,) = offer_decline(offer=offer, reason="too far from my son", actor=actor("facility"))
    offer.refresh_from_db()
    assert offer.state == "declined" and offer.is_refusal
    assert Application.objects.get(pk=offer.application_id).state == "waiting"
    assert decision.chosen["reference"] == second.reference


def test_an_offer_past_its_deadline_expires_in_the_sweep_and_counts_as_a_refusal():
    """R-OFF-4; `manage.py expire_offers --now`."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
    call_command("expire_offers", now="2026-11-09T23:59:59+08:00")  # the deadline itself: not yet
    assert Offer.objects.get(pk=offer.pk).state == "pending"
    with time_machine.travel(dt.datetime(2026, 11, 10, 0, 0, 1, tzinfo=SHANGHAI)):
        assert offers_expire_due() == 1
    offer.refresh_from_db()
    assert offer.state == "expired" and offer.is_refusal
    assert Application.objects.get(pk=offer.application_id).state == "waiting"
    assert Bed.objects.get(pk=offer.bed_id).status == "vacant"  # nobody else is waiting


def test_an_offer_cannot_be_accepted_after_its_deadline():
    """R-OFF-1: the response deadline is the end of the fifth working day."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
    with time_machine.travel(dt.datetime(2026, 11, 10, 8, 0, tzinfo=SHANGHAI)):
        with pytest.raises(WrongState) as caught:
            offer_accept(offer=offer, actor=actor("facility"))
    assert caught.value.current_state == "pending"  # R-FSM-3: the error names the state
    assert Offer.objects.get(pk=offer.pk).state == "pending"


def test_a_no_show_is_a_refusal_and_care_need_changed_sends_the_application_back_for_assessment():
    """R-OFF-4 no-show; SPEC §5 fail_admission_check."""
    offer = offered()
    offer_accept(offer=offer, actor=actor("facility"))
    offer_fail_check(offer=offer, reason="no_show", actor=actor("facility"))
    offer.refresh_from_db()
    assert offer.is_refusal and offer.state == "failed_check"
    assert Application.objects.get(pk=offer.application_id).state == "waiting"
    # R-FSM-2: the event names the offer and the reason it used.
    event = ApplicationEvent.objects.filter(application_id=offer.application_id).latest("id")
    assert (event.transition, event.data) == ("fail_admission_check", {"offer": offer.pk, "reason": "no_show"})

    other = offered(home_code="YX02", choices=("YX02",), name="李四", date_of_birth=dt.date(1940, 5, 5))
    offer_accept(offer=other, actor=actor("facility"))
    offer_fail_check(offer=other, reason="care_need_changed", note="had a stroke", actor=actor("facility"))
    other.refresh_from_db()
    assert not other.is_refusal
    application = Application.objects.get(pk=other.application_id)
    assert application.state == "assessment_pending"
    event = application.events.latest("id")
    assert (event.transition, event.reason) == ("fail_admission_check", "had a stroke")
    assert event.data == {"offer": other.pk, "reason": "care_need_changed"}
    assert set(application.queue_entries.values_list("outcome", flat=True)) == {"reassessment"}


def test_three_refusals_within_a_year_remove_the_application_and_bar_the_person():
    """R-OFF-5 and R-APP-6 (STORIES 6: decline, expire, no-show)."""
    home = FacilityFactory(code="YX01")
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start):
        add_beds(home, nursing=1, status="vacant")
        application = queued_application(grade=3, choices=["YX01"], name="李明")
        offer_decline(offer=Offer.objects.get(application=application, state="pending"), actor=actor("facility"))
    with time_machine.travel(start + dt.timedelta(days=60)):
        add_beds(home, nursing=1, status="out_of_service")
        bed = Bed.objects.get(facility=home, status="out_of_service")
        from admissions.services.beds import bed_return_to_service

        bed_return_to_service(bed=bed)
        offer = Offer.objects.get(application=application, state="pending")
    with time_machine.travel(offer.respond_by + dt.timedelta(seconds=1)):
        offers_expire_due()
    with time_machine.travel(start + dt.timedelta(days=120)):
        occupied = add_beds(home, nursing=1)[0]
        bed_discharge(bed=occupied, reason="deceased")
        offer = Offer.objects.get(application=application, state="pending")
        offer_accept(offer=offer, actor=actor("facility"))
        offer_fail_check(offer=offer, reason="no_show", actor=actor("facility"))
        application.refresh_from_db()
        assert application.state == "removed" and application.closing_reason == "refusal_limit"
        barred_until = application.applicant.barred_until
        assert barred_until == dt.date(2026, 6, 30) + dt.timedelta(days=365)
        removal = application.events.get(transition="remove")
        assert removal.actor_kind == "system" and removal.data["barred_until"] == barred_until.isoformat()
        with pytest.raises(RuleViolation) as refused:
            app_services.application_create(
                data=intake(
                    name="李明",
                    id_number=application.applicant.id_number,
                    date_of_birth=application.applicant.date_of_birth,
                    choices=["YX01"],
                ),
                submit=True,
                actor=actor("intake"),
            )
        assert refused.value.extra["barred_until"] == barred_until.isoformat()


def test_refusals_older_than_the_window_do_not_count():
    """R-OFF-5: refusal_window_days (365)."""
    from admissions.services.offers import refusals_in_window

    with time_machine.travel(dt.datetime(2025, 1, 6, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
        offer_decline(offer=offer, actor=actor("facility"))
    application = Application.objects.get(pk=offer.application_id)
    with time_machine.travel(dt.datetime(2025, 6, 6, 10, 0, tzinfo=SHANGHAI)):
        assert refusals_in_window(application) == 1
    with time_machine.travel(dt.datetime(2026, 1, 7, 10, 0, tzinfo=SHANGHAI)):
        assert refusals_in_window(application) == 0


def test_the_family_is_notified_of_an_offer_in_their_language_with_the_deadline_and_address(
    django_capture_on_commit_callbacks,
):
    """R-OFF-6: written with the offer, sent after commit."""
    with django_capture_on_commit_callbacks(execute=True):
        offer = offered(language="en")
    notification = Notification.objects.filter(application_id=offer.application_id, kind="offer_made").get()
    assert notification.language == "en"
    assert "Please answer by" in notification.body and "1 Example Road" in notification.body
    assert notification.status == "sent"

    chinese = offered(home_code="YX02", choices=("YX02",), name="王芳", date_of_birth=dt.date(1938, 1, 1))
    body = Notification.objects.get(application_id=chinese.application_id, kind="offer_made").body
    assert "床位" in body


def test_a_wrong_state_answer_names_the_state_and_what_is_possible():
    """R-FSM-3 for offers."""
    offer = offered()
    with pytest.raises(WrongState) as refused:
        offer_admit(offer=offer, actor=actor("facility"))
    assert refused.value.current_state == "pending"
    assert set(refused.value.available_transitions) == {"accept", "decline"}


def test_bad_reasons_and_dates_are_refused_and_change_nothing():
    offer = offered()
    with pytest.raises(InvalidInput):
        offer_fail_check(offer=offer, reason="bored", actor=actor("facility"))
    offer_accept(offer=offer, actor=actor("facility"))
    with pytest.raises(InvalidInput):
        offer_admit(offer=offer, admitted_on=dt.date.today() + dt.timedelta(days=3), actor=actor("facility"))
    assert Offer.objects.get(pk=offer.pk).state == "accepted"


def test_withdrawing_an_application_that_holds_an_offer_sends_the_bed_to_the_next_candidate():
    """R-ALLOC-3: an offer withdrawn."""
    offer = offered(grade=4)
    second = queued_application(grade=2, choices=["YX01"])
    app_services.application_withdraw(
        application=Application.objects.get(pk=offer.application_id),
        reason="moved in with family",
        actor=actor("intake"),
    )
    # R-OFF-5 (amended): withdrawing with a pending offer counts as declining it.
    withdrawn = Offer.objects.get(pk=offer.pk)
    assert withdrawn.state == "declined" and withdrawn.is_refusal
    assert Offer.objects.get(application=second).bed_id == offer.bed_id


# --- the edges of each act, one by one (found unpinned by mutation testing, docs/mutation.md) ------
def test_an_offer_can_be_accepted_up_to_the_last_second_of_its_deadline():
    """R-OFF-1: due 9 Nov 23:59:59; accepted at that second, the acceptance time is recorded."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
    deadline = dt.datetime(2026, 11, 9, 23, 59, 59, tzinfo=SHANGHAI)
    assert offer.respond_by == deadline
    with time_machine.travel(deadline, tick=False):
        accepted = offer_accept(offer=offer, actor=actor("facility"))
    assert accepted.state == "accepted" and accepted.accepted_at == deadline
    assert Offer.objects.get(pk=offer.pk).accepted_at == deadline


def test_an_offer_expires_only_after_its_deadline_and_only_while_pending():
    """R-OFF-4: at its deadline it is not yet due; a second later it expires as a refusal, once."""
    from admissions.services.offers import offer_expire

    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
    deadline = offer.respond_by
    assert offer_expire(offer=offer, now=deadline) is False
    assert Offer.objects.get(pk=offer.pk).state == "pending"
    assert offer_expire(offer=offer, now=deadline + dt.timedelta(seconds=1)) is True
    expired = Offer.objects.get(pk=offer.pk)
    assert (expired.state, expired.is_refusal, expired.reason) == ("expired", True, "expired")
    event = Application.objects.get(pk=offer.application_id).events.get(transition="expire_offer")
    assert event.data == {"offer": offer.pk}
    assert expired.closed_at is not None
    assert Bed.objects.get(pk=offer.bed_id).status == "vacant"
    assert offer_expire(offer=offer, now=deadline + dt.timedelta(days=1)) is False


def test_the_sweep_expires_every_due_offer_and_counts_them():
    """R-OFF-4: each due offer, and only the due ones."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        first = offered()
        second = offered(home_code="YX02", choices=("YX02",), name="李四", date_of_birth=dt.date(1940, 5, 5))
    with time_machine.travel(dt.datetime(2026, 11, 3, 10, 0, tzinfo=SHANGHAI)):
        later = offered(home_code="YX03", choices=("YX03",), name="王五", date_of_birth=dt.date(1939, 6, 6))
    assert offers_expire_due(now=first.respond_by + dt.timedelta(seconds=1)) == 2
    states = dict(Offer.objects.filter(pk__in=[first.pk, second.pk, later.pk]).values_list("pk", "state"))
    assert states == {first.pk: "expired", second.pk: "expired", later.pk: "pending"}


def test_a_decline_keeps_its_reason_short_and_its_words_whole_and_frees_the_bed():
    """R-OFF-4: a decline is a refusal; the reason column holds 40 characters, the note every word;
    with nobody else waiting the bed is vacant again."""
    offer = offered()
    words = "  the home is too far from my son who visits every day after work  "
    offer_decline(offer=offer, reason=words, actor=actor("facility"))
    declined = Offer.objects.get(pk=offer.pk)
    assert declined.reason == words.strip()[:40] and len(declined.reason) == 40
    assert declined.note == words and declined.closed_at is not None and declined.is_refusal
    assert Bed.objects.get(pk=offer.bed_id).status == "vacant"
    other = offered(home_code="YX02", choices=("YX02",), name="李四", date_of_birth=dt.date(1940, 5, 5))
    offer_decline(offer=other, actor=actor("facility"))
    assert Offer.objects.get(pk=other.pk).reason == "declined" and Offer.objects.get(pk=other.pk).note == ""


def test_admission_may_be_dated_today_or_back_to_the_acceptance_day_but_not_before():
    """SPEC §5 admit: the admission date is not in the future and not before the acceptance."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        offer = offered()
        offer_accept(offer=offer, actor=actor("facility"))
    with time_machine.travel(dt.datetime(2026, 11, 4, 10, 0, tzinfo=SHANGHAI)):
        with pytest.raises(InvalidInput) as early:
            offer_admit(offer=offer, admitted_on=dt.date(2026, 11, 1), actor=actor("facility"))
        assert list(early.value.errors) == ["admitted_on"]
        with pytest.raises(InvalidInput) as future:
            offer_admit(offer=offer, admitted_on=dt.date(2026, 11, 5), actor=actor("facility"))
        assert list(future.value.errors) == ["admitted_on"]
        assert Offer.objects.get(pk=offer.pk).state == "accepted"
        round_before = Bed.objects.get(pk=offer.bed_id).occupancy_round
        offer_admit(offer=offer, admitted_on=dt.date(2026, 11, 2), actor=actor("facility"))
    occupancy = Occupancy.objects.get(offer=offer)
    assert occupancy.admitted_on == dt.date(2026, 11, 2) and occupancy.bed_id == offer.bed_id
    bed = Bed.objects.get(pk=offer.bed_id)
    assert (bed.status, bed.occupancy_round) == ("occupied", round_before + 1)
    admitted = Offer.objects.get(pk=offer.pk)
    assert admitted.state == "admitted" and admitted.closed_at is not None
    event = Application.objects.get(pk=offer.application_id).events.get(transition="admit")
    assert event.data["admitted_on"] == "2026-11-02" and event.data["facility"] == "YX01"
    assert Application.objects.get(pk=offer.application_id).closing_reason == "admitted"


def test_admission_without_a_date_is_dated_today():
    """SPEC §5 admit: the date defaults to today (Asia/Shanghai)."""
    with time_machine.travel(dt.datetime(2026, 11, 2, 23, 30, tzinfo=SHANGHAI)):
        offer = offered()
        offer_accept(offer=offer, actor=actor("facility"))
        offer_admit(offer=offer, actor=actor("facility"))
    assert Occupancy.objects.get(offer=offer).admitted_on == dt.date(2026, 11, 2)


def test_a_check_failed_for_another_reason_is_no_refusal_and_the_bed_goes_on():
    """R-OFF-4: only a no-show counts as a refusal; the bed goes to the next candidate either way."""
    offer = offered(grade=4)
    offer_accept(offer=offer, actor=actor("facility"))
    second = queued_application(grade=2, choices=["YX01"])
    _, (decision,) = offer_fail_check(offer=offer, reason="other", note="family moved away", actor=actor("facility"))
    failed = Offer.objects.get(pk=offer.pk)
    assert (failed.state, failed.is_refusal, failed.reason, failed.note) == (
        "failed_check",
        False,
        "other",
        "family moved away",
    )
    assert decision.chosen["reference"] == second.reference
    assert Application.objects.get(pk=offer.application_id).state == "waiting"
