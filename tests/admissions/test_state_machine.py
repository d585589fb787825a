"""The application lifecycle (SPEC §5): R-FSM-1 … R-FSM-4, and the assessment lifecycle that
drives it (R-ASM-2 … R-ASM-5, R-CARE-1).

Every edge of the §5 table is taken once through the service that owns it, and its event is
checked: from, to, transition, actor, reason (R-FSM-2).
"""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from admissions.models import AllocationDecision, Application, ApplicationEvent, Notification, Offer, QueueEntry
from admissions.models.append_only import AppendOnlyError
from admissions.services import applications as services
from admissions.services import assessments as asm
from admissions.services.beds import bed_create
from admissions.services.offers import offer_accept, offer_admit, offer_decline, offer_expire, offer_fail_check
from admissions.services.transitions import reason_required
from assessments.models import Assessment
from core.errors import Conflict, InvalidInput, NotPermitted, RuleViolation, WrongState
from tests import spec
from tests.factories import (
    GRADE_TOTALS,
    ITEMS_GRADE_0,
    FacilityFactory,
    actor,
    add_beds,
    intake,
    items_with_total,
    queued_application,
    reviewed_application,
    staff_actor,
    submitted_application,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def home():
    """YX01: nine occupied nursing beds and none vacant, so a queued application stays waiting."""
    facility = FacilityFactory(code="YX01")
    add_beds(facility, nursing=9)
    return facility


def vacant_bed(home):
    (bed,) = add_beds(home, nursing=1, status="vacant")
    return bed


def event_of(application: Application, transition: str) -> ApplicationEvent:
    return application.events.filter(transition=transition).order_by("id").last()


def assert_event(application, transition, *, from_state, to_state, actor_name, reason=""):
    """R-FSM-2: the event names the transition, both states, who did it and why."""
    event = event_of(application, transition)
    assert event is not None, f"no {transition} event"
    assert (event.from_state, event.to_state) == (from_state, to_state)
    assert event.actor_name == actor_name
    assert event.reason == reason
    assert event.at is not None
    if actor_name == "system":
        assert (event.actor_kind, event.actor_user) == ("system", None)
    else:
        assert (event.actor_kind, event.actor_user.username) == ("user", actor_name)
    return event


def in_assessment_pending(**overrides) -> Application:
    application = submitted_application(choices=["YX01"], **overrides)
    return services.application_accept_for_assessment(application=application, actor=actor("intake"))


def completed_assessment(application, *, total: int = GRADE_TOTALS[2], coma: bool = False, **kwargs) -> Assessment:
    return asm.assessment_create(
        application=application,
        assessed_on=kwargs.pop("assessed_on", timezone.localdate()),
        items=kwargs.pop("items", None) or items_with_total(total),
        coma=coma,
        complete=True,
        actor=actor("assessor"),
    )


def offered(home) -> Offer:
    vacant_bed(home)
    application = queued_application(choices=["YX01"])
    return Offer.objects.get(application=application, state="pending")


def refreshed(application: Application) -> Application:
    return Application.objects.get(pk=application.pk)


# --- R-FSM-1: the state field is written only by transitions -------------------------------------
def test_the_state_of_an_application_cannot_be_assigned_directly_r_fsm_1():
    application = submitted_application(choices=["YX01"])
    with pytest.raises(AttributeError):
        application.state = "waiting"
    assert refreshed(application).state == "submitted"


def test_the_state_of_an_assessment_cannot_be_assigned_directly_r_fsm_1():
    assessment = completed_assessment(in_assessment_pending())
    with pytest.raises(AttributeError):
        assessment.state = "approved"


# --- R-FSM-2: each edge of the §5 table, through its service, with its event ---------------------
def test_submit_moves_a_draft_to_submitted_and_records_it_r_fsm_2():
    draft, _ = services.application_create(data=intake(choices=["YX01"]), submit=False, actor=actor("intake"))
    services.application_submit(application=draft, actor=actor("officer2"))
    application = refreshed(draft)
    assert application.state == "submitted"
    assert application.submitted_at is not None
    assert_event(application, "submit", from_state="draft", to_state="submitted", actor_name="officer2")


def test_accept_for_assessment_moves_to_assessment_pending_r_fsm_2():
    application = in_assessment_pending()
    assert application.state == "assessment_pending"
    assert_event(
        application, "accept_for_assessment", from_state="submitted", to_state="assessment_pending", actor_name="intake"
    )


def test_reject_from_submitted_records_the_reason_r_fsm_2():
    application = submitted_application(choices=["YX01"])
    services.application_reject(application=application, reason="Not resident in the city.", actor=actor("intake"))
    application = refreshed(application)
    assert (application.state, application.closing_reason) == ("rejected", "rejected")
    assert application.closed_at is not None
    assert_event(
        application,
        "reject",
        from_state="submitted",
        to_state="rejected",
        actor_name="intake",
        reason="Not resident in the city.",
    )


def test_reject_from_review_records_the_reason_r_fsm_2():
    application = reviewed_application(choices=["YX01"])
    services.application_reject(application=application, reason="Evidence forged.", actor=actor("reviewer"))
    assert refreshed(application).state == "rejected"
    assert_event(
        application,
        "reject",
        from_state="review",
        to_state="rejected",
        actor_name="reviewer",
        reason="Evidence forged.",
    )


def test_complete_assessment_moves_the_application_to_review_r_fsm_2():
    application = in_assessment_pending()
    assessment = completed_assessment(application)
    event = assert_event(
        refreshed(application),
        "complete_assessment",
        from_state="assessment_pending",
        to_state="review",
        actor_name="assessor",
    )
    assert event.data["assessment"] == assessment.pk
    assert event.data["grade"] == 2


def test_return_for_assessment_sends_a_reviewed_application_back_r_fsm_2():
    application = reviewed_application(choices=["YX01"])
    asm.application_return_for_assessment(
        application=application, reason="Had a stroke last week.", actor=actor("reviewer")
    )
    assert refreshed(application).state == "assessment_pending"
    assert_event(
        application,
        "return_for_assessment",
        from_state="review",
        to_state="assessment_pending",
        actor_name="reviewer",
        reason="Had a stroke last week.",
    )


def test_rejecting_the_assessment_returns_the_application_for_a_new_one_r_fsm_2_r_asm_4():
    application = in_assessment_pending()
    assessment = completed_assessment(application)
    asm.assessment_reject(assessment=assessment, reason="Stairs item scored wrongly.", actor=actor("reviewer"))
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert (assessment.state, assessment.rejection_reason) == ("rejected", "Stairs item scored wrongly.")
    assert refreshed(application).state == "assessment_pending"
    assert_event(
        application,
        "return_for_assessment",
        from_state="review",
        to_state="assessment_pending",
        actor_name="reviewer",
        reason="Stairs item scored wrongly.",
    )


def test_approve_queues_the_application_once_per_choice_r_fsm_2():
    FacilityFactory(code="GZC01", level="city")
    application = queued_application(choices=["GZC01", "YX01"])
    assert application.state == "waiting"
    assert application.queued_at is not None
    assert sorted(QueueEntry.objects.filter(application=application).values_list("facility__code", flat=True)) == [
        "GZC01",
        "YX01",
    ]
    event = assert_event(application, "approve", from_state="review", to_state="waiting", actor_name="reviewer")
    assert event.data["channel"] == "ordinary"


def test_suspend_and_resume_keep_queued_at_r_fsm_2():
    application = queued_application(choices=["YX01"])
    queued_at = application.queued_at
    services.application_suspend(application=application, reason="In hospital.", actor=actor("intake"))
    assert refreshed(application).state == "suspended"
    assert_event(
        application, "suspend", from_state="waiting", to_state="suspended", actor_name="intake", reason="In hospital."
    )
    services.application_resume(application=application, reason="Discharged home.", actor=actor("intake"))
    application = refreshed(application)
    assert application.state == "waiting"
    assert application.queued_at == queued_at
    assert_event(
        application,
        "resume",
        from_state="suspended",
        to_state="waiting",
        actor_name="intake",
        reason="Discharged home.",
    )


def test_make_offer_is_the_systems_when_a_bed_becomes_vacant_r_fsm_2(home):
    application = queued_application(choices=["YX01"])
    assert application.state == "waiting"
    bed_create(facility=home, code="NEW-1", bed_type="nursing")
    application = refreshed(application)
    assert application.state == "offered"
    event = assert_event(application, "make_offer", from_state="waiting", to_state="offered", actor_name="system")
    assert event.data["bed"] == "NEW-1"


def test_accept_offer_moves_to_the_admission_check_and_admit_ends_it_r_fsm_2(home):
    offer = offered(home)
    offer_accept(offer=offer, actor=actor("facility"))
    application = refreshed(offer.application)
    assert application.state == "admission_check"
    assert_event(application, "accept_offer", from_state="offered", to_state="admission_check", actor_name="facility")
    offer_admit(offer=offer, actor=actor("facility"))
    application = refreshed(application)
    assert (application.state, application.closing_reason) == ("admitted", "admitted")
    assert_event(application, "admit", from_state="admission_check", to_state="admitted", actor_name="facility")


def test_decline_offer_puts_the_application_back_to_waiting_r_fsm_2(home):
    offer = offered(home)
    offer_decline(offer=offer, reason="Too far from family.", actor=actor("intake"))
    application = refreshed(offer.application)
    assert application.state == "waiting"
    assert_event(
        application,
        "decline_offer",
        from_state="offered",
        to_state="waiting",
        actor_name="intake",
        reason="Too far from family.",
    )


def test_expire_offer_is_the_systems_after_the_deadline_r_fsm_2(home):
    offer = offered(home)
    assert offer_expire(offer=offer, now=offer.respond_by + dt.timedelta(seconds=1))
    application = refreshed(offer.application)
    assert application.state == "waiting"
    assert_event(application, "expire_offer", from_state="offered", to_state="waiting", actor_name="system")


@pytest.mark.parametrize(
    ("reason", "to_state"),
    [("no_show", "waiting"), ("other", "waiting"), ("care_need_changed", "assessment_pending")],
)
def test_fail_admission_check_goes_back_to_waiting_or_to_assessment_r_fsm_2(home, reason, to_state):
    offer = offered(home)
    offer_accept(offer=offer, actor=actor("facility"))
    offer_fail_check(offer=offer, reason=reason, note="Checked on arrival.", actor=actor("facility"))
    offer.refresh_from_db()
    assert (offer.state, offer.is_refusal) == ("failed_check", reason == "no_show")
    application = refreshed(offer.application)
    if reason != "other":
        # With `other` the freed bed goes straight back to the same, still first, applicant (a new
        # make_offer), so only the event shows the state it passed through.
        assert application.state == to_state
    event = assert_event(
        application,
        "fail_admission_check",
        from_state="admission_check",
        to_state=to_state,
        actor_name="facility",
        reason="Checked on arrival.",
    )
    assert event.data["reason"] == reason


def test_reassess_keeps_the_state_and_queued_at_and_records_the_new_assessment_r_fsm_2():
    application = queued_application(choices=["YX01"], grade=1)
    queued_at = application.queued_at
    assert QueueEntry.objects.get(application=application).care_level == "self_care"
    assessment = completed_assessment(application, total=GRADE_TOTALS[3])
    asm.assessment_approve(assessment=assessment, actor=actor("reviewer"))
    application = refreshed(application)
    assert (application.state, application.queued_at) == ("waiting", queued_at)
    assert application.current_assessment == assessment
    assert QueueEntry.objects.get(application=application).care_level == "nursing"
    event = assert_event(application, "reassess", from_state="waiting", to_state="waiting", actor_name="reviewer")
    assert event.data["assessment"] == assessment.pk


def test_withdraw_of_an_offered_application_frees_the_bed_r_fsm_2(home):
    offer = offered(home)
    services.application_withdraw(application=offer.application, reason="Moved in with son.", actor=actor("intake"))
    application = refreshed(offer.application)
    offer.refresh_from_db()
    assert (application.state, offer.state, offer.bed.status) == (
        "withdrawn",
        "declined",
        "vacant",
    )  # R-OFF-5: counts as a decline
    assert application.queue_entries.get().outcome == "withdrawn"
    assert_event(
        application,
        "withdraw",
        from_state="offered",
        to_state="withdrawn",
        actor_name="intake",
        reason="Moved in with son.",
    )


def test_remove_records_the_reason_and_note_r_fsm_2():
    application = queued_application(choices=["YX01"])
    services.application_remove(
        application=application, reason="deceased", note="Death certificate 2026-77.", actor=actor("reviewer")
    )
    application = refreshed(application)
    assert (application.state, application.closing_reason) == ("removed", "deceased")
    assert application.applicant.barred_until is None
    event = assert_event(
        application,
        "remove",
        from_state="waiting",
        to_state="removed",
        actor_name="reviewer",
        reason="Death certificate 2026-77.",
    )
    assert event.data["reason"] == "deceased"


def test_an_unknown_removal_reason_is_refused_r_fsm_3():
    application = queued_application(choices=["YX01"])
    with pytest.raises(InvalidInput) as caught:
        services.application_remove(application=application, reason="annoying", actor=actor("reviewer"))
    assert "reason" in caught.value.errors
    assert refreshed(application).state == "waiting"


def test_each_transition_bumps_the_version_r_fsm_4():
    application = submitted_application(choices=["YX01"])
    version = refreshed(application).version
    services.application_accept_for_assessment(application=application, actor=actor("intake"))
    assert refreshed(application).version == version + 1


# --- R-FSM-2: events are append-only --------------------------------------------------------------
@pytest.fixture
def event():
    application = submitted_application(choices=["YX01"])
    return application.events.get(transition="submit")


def test_an_event_cannot_be_saved_again_r_fsm_2(event):
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert ApplicationEvent.objects.get(pk=event.pk).reason == ""


def test_events_cannot_be_updated_or_deleted_in_bulk_r_fsm_2(event):
    with pytest.raises(AppendOnlyError):
        ApplicationEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        ApplicationEvent.objects.filter(pk=event.pk).delete()
    assert ApplicationEvent.objects.filter(pk=event.pk, reason="").exists()


def test_the_database_refuses_a_raw_update_of_an_event_r_fsm_2(event):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE admissions_applicationevent SET reason = %s, to_state = %s WHERE id = %s",
            ["rewritten", "admitted", event.pk],
        )
    assert ApplicationEvent.objects.values_list("reason", "to_state").get(pk=event.pk) == ("", "submitted")


# --- R-FSM-3: an illegal transition changes nothing and says why ----------------------------------
def test_a_transition_from_the_wrong_state_names_the_state_and_what_is_possible_r_fsm_3():
    application = submitted_application(choices=["YX01"])
    events = application.events.count()
    with pytest.raises(WrongState) as caught:
        services.application_suspend(application=application, reason="In hospital.", actor=actor("intake"))
    error = caught.value
    assert error.status == 409
    assert error.current_state == "submitted"
    assert error.available_transitions == ["accept-for-assessment", "reject", "withdraw", "remove"]
    assert error.extra == {"current_state": "submitted", "available_transitions": error.available_transitions}
    assert refreshed(application).state == "submitted"
    assert application.events.count() == events


def test_a_waiting_application_offers_only_what_a_caller_can_ask_for_r_fsm_3():
    """Offers are the allocation's and reassessment follows an assessment's approval: neither is
    something a caller can request, so neither is listed (API.md: the transitions this caller may take)."""
    application = queued_application(choices=["YX01"])
    assert services.available_transitions(application) == ["suspend", "withdraw", "remove"]
    with pytest.raises(WrongState) as caught:
        services.application_resume(application=application, actor=actor("intake"))
    assert caught.value.available_transitions == ["suspend", "withdraw", "remove"]


def test_a_final_application_has_no_transitions_left_r_fsm_3():
    application = submitted_application(choices=["YX01"])
    services.application_withdraw(application=application, reason="No longer needed.", actor=actor("intake"))
    with pytest.raises(WrongState) as caught:
        services.application_withdraw(application=application, reason="Again.", actor=actor("intake"))
    assert (caught.value.current_state, caught.value.available_transitions) == ("withdrawn", [])


@pytest.mark.parametrize(
    "service",
    [services.application_suspend, services.application_withdraw, services.application_reject],
    ids=["suspend", "withdraw", "reject"],
)
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_transition_that_needs_a_reason_refuses_without_one_naming_reason_r_fsm_3(service, reason):
    application = queued_application(choices=["YX01"])
    events = application.events.count()
    with pytest.raises(InvalidInput) as caught:
        service(application=application, reason=reason, actor=actor("reviewer"))
    assert list(caught.value.errors) == ["reason"]
    assert refreshed(application).state == "waiting"
    assert application.events.count() == events


def test_approving_before_the_assessment_is_approved_is_refused_with_422_and_changes_nothing_r_fsm_3():
    application = in_assessment_pending(categories=[{"code": "dibao", "evidence": "低保证 9"}])
    completed_assessment(application)  # completed, not approved
    application = refreshed(application)
    assert application.state == "review"
    events, version = application.events.count(), application.version
    with pytest.raises(RuleViolation) as caught:
        services.application_approve(
            application=application,
            categories=[{"code": "dibao", "verified": True}],
            exemption=None,
            actor=actor("reviewer"),
        )
    assert caught.value.status == 422
    assert "assessment" in caught.value.errors
    assert caught.value.rule == "R-ASM-4"
    application = refreshed(application)
    assert (application.state, application.version, application.queued_at) == ("review", version, None)
    assert application.channel_code is None
    assert application.category_claims.get().status == "claimed"
    assert application.events.count() == events
    assert not QueueEntry.objects.filter(application=application).exists()


# --- R-FSM-4: concurrent changes — one wins, the other gets 409 -----------------------------------
def test_an_intake_correction_with_a_stale_version_is_refused_r_fsm_4():
    application = submitted_application(choices=["YX01"])
    loaded_version = refreshed(application).version
    data = intake(id_number=application.applicant.id_number, choices=["YX01"], contact_name="儿子")
    services.application_update(
        application=application, data=data, expected_version=loaded_version, actor=staff_actor("officer1", "intake")
    )
    with pytest.raises(Conflict) as caught:
        services.application_update(
            application=application,
            data=intake(id_number=application.applicant.id_number, choices=["YX01"], phone="13711111111"),
            expected_version=loaded_version,
            actor=staff_actor("officer2", "intake"),
        )
    assert caught.value.status == 409
    assert caught.value.extra["current_version"] == loaded_version + 1
    assert refreshed(application).applicant.phone == "13800000000"


def test_two_copies_loaded_before_a_transition_cannot_both_save_it_r_fsm_4():
    """The model's own guard (ConcurrentTransitionMixin): the second save finds the state moved on."""
    application = queued_application(choices=["YX01"])
    first, second = refreshed(application), refreshed(application)
    first.suspend()
    first.save()
    second.withdraw()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        second.save()
    assert refreshed(application).state == "suspended"


def test_a_service_given_a_stale_copy_rereads_it_and_refuses_r_fsm_4():
    application = queued_application(choices=["YX01"])
    stale = refreshed(application)
    services.application_suspend(application=application, reason="In hospital.", actor=actor("intake"))
    with pytest.raises(WrongState) as caught:
        services.application_suspend(application=stale, reason="In hospital too.", actor=actor("reviewer"))
    assert caught.value.current_state == "suspended"
    assert refreshed(application).events.filter(transition="suspend").count() == 1


# --- assessments (R-ASM-2 … R-ASM-5, R-CARE-1) -----------------------------------------------------
def test_the_assessor_cannot_approve_their_own_assessment_r_asm_4():
    application = in_assessment_pending()
    assessment = completed_assessment(application)
    with pytest.raises(NotPermitted) as caught:
        asm.assessment_approve(assessment=assessment, actor=actor("assessor"))
    assert caught.value.status == 403
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert (assessment.state, assessment.reviewer, assessment.care_level) == ("completed", None, None)


def test_the_assessor_cannot_reject_their_own_assessment_r_asm_4():
    assessment = completed_assessment(in_assessment_pending())
    with pytest.raises(NotPermitted):
        asm.assessment_reject(assessment=assessment, reason="Second thoughts.", actor=actor("assessor"))
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert assessment.state == "completed"


def test_a_completed_assessment_is_never_edited_r_asm_4():
    assessment = completed_assessment(in_assessment_pending())
    with pytest.raises(WrongState) as caught:
        asm.assessment_update(assessment=assessment, items={"B1.1": 0}, actor=actor("assessor"))
    assert caught.value.current_state == "completed"
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert assessment.items["B1.1"] == items_with_total(GRADE_TOTALS[2])["B1.1"]


def test_only_the_assessor_who_recorded_a_draft_edits_or_completes_it_r_asm_4():
    application = in_assessment_pending()
    partial = {code: points for code, points in ITEMS_GRADE_0.items() if code != "B2.4"}
    assessment = asm.assessment_create(
        application=application, assessed_on=timezone.localdate(), items=partial, actor=actor("assessor")
    )
    with pytest.raises(NotPermitted) as caught:
        asm.assessment_update(assessment=assessment, items={"B2.4": 0}, notes="mine now", actor=actor("assessor-2"))
    assert caught.value.rule == "R-ASM-4" and "Only the assessor" in caught.value.message
    with pytest.raises(NotPermitted):
        asm.assessment_complete(assessment=assessment, actor=actor("assessor-2"))
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert ("B2.4" in assessment.items, assessment.notes, assessment.state) == (False, "", "draft")


def test_an_assessment_with_missing_items_cannot_be_completed_and_the_error_names_them_r_asm_3():
    application = in_assessment_pending()
    items = {code: points for code, points in ITEMS_GRADE_0.items() if code not in ("B1.3", "B4.5")}
    assessment = asm.assessment_create(
        application=application, assessed_on=timezone.localdate(), items=items, actor=actor("assessor")
    )
    with pytest.raises(RuleViolation) as caught:
        asm.assessment_complete(assessment=assessment, actor=actor("assessor"))
    assert set(caught.value.errors) == {"items.B1.3", "items.B4.5"}
    assert "B1.3" in caught.value.message and "B4.5" in caught.value.message
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert (assessment.state, assessment.total) == ("draft", None)
    assert refreshed(application).state == "assessment_pending"


def test_a_draft_can_be_finished_and_then_completed_r_asm_3():
    application = in_assessment_pending()
    partial = {code: points for code, points in ITEMS_GRADE_0.items() if code != "B2.4"}
    assessment = asm.assessment_create(
        application=application, assessed_on=timezone.localdate(), items=partial, actor=actor("assessor")
    )
    asm.assessment_update(assessment=assessment, items={"B2.4": 3}, actor=actor("assessor"))
    assessment = asm.assessment_complete(assessment=assessment, actor=actor("assessor"))
    assert (assessment.state, assessment.total, assessment.grade) == ("completed", 90, 0)


@pytest.mark.parametrize(("coma", "grade"), [(False, 1), (True, 3)])
def test_a_person_in_a_coma_is_graded_at_least_3_whatever_the_total_r_asm_2(coma, grade):
    items = {**ITEMS_GRADE_0, "B3.9": 0}  # total 88: grade 1 on points alone
    assessment = completed_assessment(in_assessment_pending(), items=items, coma=coma)
    assert (assessment.total, assessment.grade) == (88, grade)


@pytest.mark.parametrize(
    ("grade", "care_level"),
    [(0, "self_care"), (1, "self_care"), (2, "nursing"), (3, "nursing"), (4, "nursing")],
)
def test_approval_sets_the_care_level_from_the_grade_and_a_year_of_validity_r_care_1_r_asm_5(grade, care_level):
    assessed_on = timezone.localdate() - dt.timedelta(days=10)
    application = in_assessment_pending()
    assessment = completed_assessment(application, total=GRADE_TOTALS[grade], assessed_on=assessed_on)
    asm.assessment_approve(assessment=assessment, actor=actor("reviewer"))
    assessment = Assessment.objects.get(pk=assessment.pk)
    assert (assessment.state, assessment.grade, assessment.care_level) == ("approved", grade, care_level)
    assert assessment.valid_until == assessed_on + dt.timedelta(days=365)
    assert assessment.reviewer.username == "reviewer"


def test_a_person_with_a_valid_approved_assessment_skips_straight_to_review_r_asm_5():
    """The assessment from an earlier, withdrawn application still holds for a new one (SPEC §5)."""
    earlier = reviewed_application(choices=["YX01"])
    assessment = Assessment.objects.get(application=earlier, state="approved")
    services.application_withdraw(application=earlier, reason="Family cared at home.", actor=actor("intake"))

    application = submitted_application(choices=["YX01"], id_number=earlier.applicant.id_number)
    services.application_accept_for_assessment(application=application, actor=actor("intake"))
    application = refreshed(application)
    assert application.state == "review"
    assert application.current_assessment == assessment
    event = assert_event(
        application, "accept_for_assessment", from_state="submitted", to_state="review", actor_name="intake"
    )
    assert event.data["assessment"] == assessment.pk

    services.application_approve(application=application, categories=[], exemption=None, actor=actor("reviewer"))
    assert refreshed(application).state == "waiting"


def reapplied(time_machine, on: dt.date) -> Application:
    """Assessed and approved on 2 March 2026 (valid through 2 March 2027), withdrawn, and a new
    application of the same person accepted on `on`."""
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC), tick=False)
    earlier = reviewed_application(choices=["YX01"])
    services.application_withdraw(application=earlier, reason="Family cared at home.", actor=actor("intake"))
    time_machine.move_to(dt.datetime.combine(on, dt.time(10), tzinfo=dt.UTC), tick=False)
    application = submitted_application(choices=["YX01"], id_number=earlier.applicant.id_number)
    services.application_accept_for_assessment(application=application, actor=actor("intake"))
    return refreshed(application)


def test_an_expired_assessment_does_not_let_a_new_application_skip_assessment_r_asm_5(time_machine):
    application = reapplied(time_machine, dt.date(2027, 3, 10))
    assert (application.state, application.current_assessment) == ("assessment_pending", None)


# --- transition_apply: what every edge does besides moving the state --------------------------------
def state_changed_notices(application: Application) -> int:
    return Notification.objects.filter(application=application, kind="state_changed").count()


def test_an_application_is_closed_when_it_reaches_a_final_state_and_not_before_r_fsm_2():
    application = submitted_application(choices=["YX01"])
    assert refreshed(application).closed_at is None
    application = in_assessment_pending()
    assert refreshed(application).closed_at is None
    services.application_withdraw(application=application, reason="No longer needed.", actor=actor("intake"))
    application = refreshed(application)
    assert application.state == "withdrawn"
    assert application.closed_at is not None


def test_the_family_is_told_of_each_change_of_state_once_r_fsm_2():
    """A transition tells the family by default (kind state_changed, one per channel it can be reached on);
    an edge that keeps the state (reassess) tells nothing."""
    draft, _ = services.application_create(data=intake(choices=["YX01"]), submit=False, actor=actor("intake"))
    assert state_changed_notices(draft) == 0
    services.application_submit(application=draft, actor=actor("intake"))
    per_change = state_changed_notices(draft)
    assert per_change >= 1
    services.application_accept_for_assessment(application=refreshed(draft), actor=actor("intake"))
    assert state_changed_notices(draft) == 2 * per_change

    application = queued_application(choices=["YX01"], grade=1)
    before = state_changed_notices(application)
    assessment = completed_assessment(application, total=GRADE_TOTALS[3])
    asm.assessment_approve(assessment=assessment, actor=actor("reviewer"))
    assert event_of(refreshed(application), "reassess") is not None
    assert state_changed_notices(application) == before


def test_an_offer_tells_the_family_by_its_own_message_only_r_off_6(home):
    """The allocation takes make_offer with notify_family=False: the family gets offer_made, with the
    home and both deadlines (R-OFF-6), not a second, bare "state changed"."""
    application = queued_application(choices=["YX01"])
    before = state_changed_notices(application)
    vacant_bed(home)
    bed_create(facility=home, code="NEW-2", bed_type="nursing")
    application = refreshed(application)
    assert application.state == "offered"
    assert Notification.objects.filter(application=application, kind="offer_made").exists()
    assert state_changed_notices(application) == before


def test_a_wrong_state_is_refused_in_words_naming_the_step_and_the_state_r_fsm_3():
    application = submitted_application(choices=["YX01"])
    with pytest.raises(WrongState) as caught:
        services.application_suspend(application=application, reason="In hospital.", actor=actor("intake"))
    assert caught.value.message == "'suspend' is not possible while the application is submitted."


def test_a_reason_is_taken_up_to_2000_characters_r_fsm_2():
    assert reason_required("x" * 2000) == "x" * 2000
    assert reason_required("  Moved away.  ") == "Moved away."
    with pytest.raises(InvalidInput) as caught:
        reason_required("x" * 2001)
    assert list(caught.value.errors) == ["reason"]
    with pytest.raises(InvalidInput) as caught:
        reason_required("x" * 2001, field="note")
    assert list(caught.value.errors) == ["note"]


def test_a_missing_reason_is_refused_under_r_fsm_2():
    """The rule code goes into the API problem's type and the log (never into the words)."""
    with pytest.raises(InvalidInput) as caught:
        reason_required("   ", field="note")
    assert caught.value.rule == "R-FSM-2"
    assert caught.value.errors == {"note": ["is required for this transition"]}


def test_a_suspended_application_resumes_on_its_assessments_last_valid_day_not_after_r_asm_5(time_machine):
    """SPEC §5: resume needs a valid assessment (R-ASM-5: 365 days; assessed 5 January 2026, valid
    through 5 January 2027)."""
    assert spec.ASSESSMENT_VALID_DAYS == 365
    time_machine.move_to(dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC), tick=False)
    application = queued_application(choices=["YX01"])
    other = queued_application(choices=["YX01"])
    for each in (application, other):
        services.application_suspend(application=each, reason="In hospital.", actor=actor("intake"))
    time_machine.move_to(dt.datetime(2027, 1, 5, 10, tzinfo=dt.UTC), tick=False)
    services.application_resume(application=application, actor=actor("intake"))
    assert refreshed(application).state == "waiting"
    time_machine.move_to(dt.datetime(2027, 1, 6, 10, tzinfo=dt.UTC), tick=False)
    events = other.events.count()
    with pytest.raises(RuleViolation) as caught:
        services.application_resume(application=other, actor=actor("intake"))
    assert list(caught.value.errors) == ["assessment"]
    assert (refreshed(other).state, other.events.count()) == ("suspended", events)


def test_resuming_allocates_the_bed_that_came_vacant_meanwhile_r_alloc_3(home):
    application = queued_application(choices=["YX01"])
    services.application_suspend(application=application, reason="In hospital.", actor=actor("intake"))
    bed_create(facility=home, code="NEW-3", bed_type="nursing")
    assert refreshed(application).state == "suspended"
    services.application_resume(application=application, actor=actor("intake"))
    assert refreshed(application).state == "offered"
    decision = AllocationDecision.objects.filter(facility=home, chosen__reference=application.reference).get()
    assert (decision.bed.code, decision.trigger) == ("NEW-3", "application_resumed")


def test_approval_takes_the_newest_of_two_assessments_approved_the_same_day_r_asm_4():
    """Returned for a new assessment after a stroke (same day): the application is queued on the
    second assessment, not the first, though both are approved and dated the same."""
    application = reviewed_application(choices=["YX01"], grade=1)
    first = Assessment.objects.get(application=application, state="approved")
    asm.application_return_for_assessment(application=application, reason="Had a stroke.", actor=actor("reviewer"))
    second = completed_assessment(refreshed(application), total=GRADE_TOTALS[4], assessed_on=first.assessed_on)
    asm.assessment_approve(assessment=second, actor=actor("reviewer"))
    services.application_approve(application=refreshed(application), categories=[], exemption=None, actor=actor("r"))
    application = refreshed(application)
    assert application.current_assessment == second
    assert QueueEntry.objects.get(application=application).care_level == "nursing"


def test_an_assessment_carried_over_still_approves_on_its_last_valid_day_r_asm_5(time_machine):
    """SPEC §5 / R-ASM-5: assessed 2 March 2026, valid through 2 March 2027, that day included."""
    application = reapplied(time_machine, dt.date(2027, 3, 2))
    assert application.state == "review"
    services.application_approve(application=refreshed(application), categories=[], exemption=None, actor=actor("r"))
    assert refreshed(application).state == "waiting"
