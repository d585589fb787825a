"""Applying (SPEC §3): R-APP-1 … R-APP-10, driven through admissions.services.applications.

Every refusal is checked for two things: the error names the field and the rule, and nothing was
written (SPEC §10: a rejected input changes nothing).
"""

import datetime as dt
import hashlib
import hmac
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from admissions.models import (
    Applicant,
    Application,
    ApplicationEvent,
    CategoryClaim,
    FacilityChoice,
    Policy,
    QueueEntry,
)
from admissions.models.applications import DuplicateReview
from admissions.policy import PolicyParameters
from admissions.services import applications as services
from admissions.services.applications import LOOKUP_CODE_ALPHABET
from core.errors import Conflict, InvalidInput, RuleViolation, WrongState
from tests import spec
from tests.factories import (
    FacilityFactory,
    actor,
    district,
    id_number,
    intake,
    queued_application,
    reviewed_application,
    staff_actor,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def homes():
    """Two district-level homes in Yuexiu, one in Haizhu, two city-level homes, one closed to applications."""
    return {
        "YX01": FacilityFactory(code="YX01", level="district", district=district("yuexiu")),
        "YX02": FacilityFactory(code="YX02", level="district", district=district("yuexiu")),
        "HZ01": FacilityFactory(code="HZ01", level="district", district=district("haizhu")),
        "GZC01": FacilityFactory(code="GZC01", level="city", district=district("tianhe")),
        "GZC02": FacilityFactory(code="GZC02", level="city", district=district("baiyun")),
        "YX09": FacilityFactory(
            code="YX09", level="district", district=district("yuexiu"), accepting_applications=False
        ),
    }


def create(data=None, *, submit: bool = True, **overrides):
    """application_create as an intake officer; by default a good application choosing YX01."""
    if data is None:
        overrides.setdefault("choices", ["YX01"])
        data = intake(**overrides)
    return services.application_create(data=data, submit=submit, actor=actor("intake"))


def row_counts() -> dict[str, int]:
    return {
        "applicants": Applicant.objects.count(),
        "applications": Application.objects.count(),
        "events": ApplicationEvent.objects.count(),
        "choices": FacilityChoice.objects.count(),
        "claims": CategoryClaim.objects.count(),
    }


def refused(error_class, data=None, **overrides):
    """Create, expect `error_class`, check nothing was written, and return the error."""
    before = row_counts()
    with pytest.raises(error_class) as caught:
        create(data, **overrides)
    assert row_counts() == before, "a refused application must change nothing"
    return caught.value


def id_number_ending_in_x(born: dt.date, *, sex: str = "F") -> str:
    for serial in range(1000):
        body = f"440104{born:%Y%m%d}{serial:03d}"
        if (int(body[16]) % 2 == 1) == (sex == "M") and ric.calc_check_digit(body + "0") == "X":
            return body + "X"
    raise AssertionError("no serial gives the check character X")


# --- R-APP-1 identity ----------------------------------------------------------------------------
BORN = dt.date(1941, 3, 2)


def test_an_id_number_with_a_wrong_check_character_is_refused_saying_so_r_app_1():
    good = id_number(BORN)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    error = refused(InvalidInput, id_number=wrong, date_of_birth=BORN)
    assert error.status == 400
    assert any("check character" in m for m in error.errors["applicant.id_number"])


def test_a_birth_date_that_differs_from_the_id_number_is_refused_on_the_birth_date_field_r_app_1():
    error = refused(InvalidInput, id_number=id_number(BORN), date_of_birth=dt.date(1941, 3, 3))
    assert "1941-03-02" in error.errors["applicant.date_of_birth"][0]
    assert "birth date in the ID number" in error.errors["applicant.date_of_birth"][0]
    assert "applicant.id_number" not in error.errors


def test_a_sex_that_disagrees_with_the_id_numbers_sex_digit_is_refused_on_the_sex_field_r_app_1():
    error = refused(InvalidInput, id_number=id_number(BORN, sex="M"), date_of_birth=BORN, sex="F")
    assert "sex digit" in error.errors["applicant.sex"][0]


@pytest.mark.parametrize("sex", ["", "FM", "X"])
def test_a_sex_that_is_neither_f_nor_m_is_refused_as_such_not_as_a_mismatch_r_app_1(sex):
    error = refused(InvalidInput, id_number=id_number(BORN), date_of_birth=BORN, sex=sex)
    assert error.errors["applicant.sex"] == ["must be F or M"]


def test_an_id_number_of_17_digits_is_refused_naming_its_length_r_app_1():
    error = refused(InvalidInput, id_number=id_number(BORN)[:17], date_of_birth=BORN)
    assert "18 characters, not 17" in error.errors["applicant.id_number"][0]


def test_an_id_number_with_letters_among_the_digits_is_refused_r_app_1():
    good = id_number(BORN)
    error = refused(InvalidInput, id_number=good[:10] + "AB" + good[12:], date_of_birth=BORN)
    assert "17 digits" in error.errors["applicant.id_number"][0]


def test_a_person_born_before_their_place_code_existed_is_accepted_r_app_1():
    """越秀 440104 dates from 1983; a person born there in 1941 holds it. stdnum's own validate()
    refuses the number (the reason the spec forbids it), the service must not."""
    number = id_number(BORN, place="440104")
    with pytest.raises(StdnumError):
        ric.validate(number)
    application, _ = create(id_number=number, date_of_birth=BORN)
    assert application.state == "submitted"
    assert application.applicant.id_number == number


def test_a_lower_case_x_check_character_is_accepted_and_stored_as_capital_x_r_app_1():
    number = id_number_ending_in_x(BORN)
    application, _ = create(id_number=number.lower(), date_of_birth=BORN)
    assert application.applicant.id_number == number
    assert number.endswith("X")


# --- R-APP-2 age ---------------------------------------------------------------------------------
APPLICATION_DAY = dt.date(2026, 3, 2)


def test_a_person_aged_59_is_refused_with_422_r_app_2(time_machine):
    time_machine.move_to(at(APPLICATION_DAY), tick=False)
    born = dt.date(1966, 3, 3)  # turns 60 tomorrow
    error = refused(RuleViolation, date_of_birth=born)
    assert error.status == 422
    assert "must be at least" in error.errors["applicant.date_of_birth"][0]


def test_a_person_who_turns_60_on_the_application_date_is_accepted_r_app_2(time_machine):
    time_machine.move_to(at(APPLICATION_DAY), tick=False)
    application, _ = create(date_of_birth=dt.date(1966, 3, 2))
    assert application.state == "submitted"


def test_age_is_judged_on_the_date_the_application_is_submitted_r_app_2(time_machine):
    """A draft may be registered at 59; it is submitted once the person is 60."""
    time_machine.move_to(at(APPLICATION_DAY - dt.timedelta(days=1)), tick=False)
    draft, _ = create(date_of_birth=dt.date(1966, 3, 2), submit=False)
    with pytest.raises(RuleViolation) as caught:
        services.application_submit(application=draft, actor=actor("intake"))
    assert "applicant.date_of_birth" in caught.value.errors
    draft.refresh_from_db()
    assert draft.state == "draft"

    time_machine.move_to(at(APPLICATION_DAY), tick=False)
    submitted = services.application_submit(application=draft, actor=actor("intake"))
    assert submitted.state == "submitted"
    assert submitted.submitted_at.date() == APPLICATION_DAY


# --- R-APP-3 residence ---------------------------------------------------------------------------
def test_an_outside_hukou_without_the_contributor_exemption_is_refused_r_app_3():
    error = refused(RuleViolation, hukou_district="other", residence_district="yuexiu")
    assert "contributor exemption" in error.errors["applicant.hukou_district"][0]


def test_an_unknown_hukou_district_is_refused_with_400_r_app_3():
    error = refused(InvalidInput, hukou_district="atlantis")
    assert error.status == 400
    assert "not a district" in error.errors["applicant.hukou_district"][0]


def test_an_unknown_residence_district_is_refused_with_400_r_app_3():
    error = refused(InvalidInput, residence_district="atlantis")
    assert "applicant.residence_district" in error.errors


def test_under_the_exemption_a_residence_district_is_required_r_app_3():
    error = refused(
        RuleViolation, hukou_district="other", residence_district=None, contributor_exemption_requested=True
    )
    assert "applicant.residence_district" in error.errors


def test_under_the_exemption_the_residence_district_stands_in_for_the_hukou_in_choices_r_app_3_r_app_7():
    exempt = dict(hukou_district="other", residence_district="haizhu", contributor_exemption_requested=True)
    application, _ = create(choices=["HZ01"], **exempt)
    assert application.state == "submitted"
    assert application.hukou_district is None
    assert application.effective_district_id == district("haizhu").pk

    error = refused(RuleViolation, choices=["YX01"], **exempt)
    assert "choices.0" in error.errors


EXEMPT = dict(hukou_district="other", residence_district="haizhu", contributor_exemption_requested=True)


def test_refusing_the_exemption_at_approval_rejects_the_application_r_app_3():
    application = reviewed_application(choices=["HZ01"], **EXEMPT)
    services.application_approve(
        application=application,
        categories=[],
        exemption={"granted": False, "note": "No record of a contribution to the city."},
        actor=actor("reviewer"),
    )
    application.refresh_from_db()
    assert application.state == "rejected"
    assert application.contributor_exemption_granted is False
    assert application.closing_reason == "exemption_refused"
    event = application.events.last()
    assert (event.transition, event.from_state, event.to_state) == ("reject", "review", "rejected")
    assert event.reason == "No record of a contribution to the city."
    assert event.data == {"exemption": "refused"}
    assert not QueueEntry.objects.filter(application=application).exists()


def test_granting_the_exemption_with_a_note_queues_the_application_r_app_3():
    application = reviewed_application(choices=["HZ01"], **EXEMPT)
    services.application_approve(
        application=application,
        categories=[],
        exemption={"granted": True, "note": "City model worker 1988, file 12."},
        actor=actor("reviewer"),
    )
    application.refresh_from_db()
    assert application.state == "waiting"
    assert application.contributor_exemption_granted is True
    assert application.contributor_exemption_note == "City model worker 1988, file 12."
    assert list(application.queue_entries.values_list("facility__code", flat=True)) == ["HZ01"]


def test_the_exemption_cannot_be_decided_without_a_note_r_app_3():
    application = reviewed_application(choices=["HZ01"], **EXEMPT)
    events = application.events.count()
    with pytest.raises(InvalidInput) as caught:
        services.application_approve(
            application=application, categories=[], exemption={"granted": True, "note": " "}, actor=actor("reviewer")
        )
    assert "exemption" in caught.value.errors
    application.refresh_from_db()
    assert application.state == "review"
    assert application.contributor_exemption_granted is None
    assert application.events.count() == events


# --- R-APP-4 health declarations -----------------------------------------------------------------
@pytest.mark.parametrize("declaration", ["no_infectious_disease", "no_serious_mental_disorder"])
def test_each_missing_health_declaration_is_refused_by_name_r_app_4(declaration):
    error = refused(RuleViolation, **{declaration: False})
    assert list(error.errors) == [f"declarations.{declaration}"]
    assert "must be declared" in error.errors[f"declarations.{declaration}"][0]


def test_a_draft_may_lack_the_health_declarations_until_it_is_submitted_r_app_4():
    draft, _ = create(no_infectious_disease=False, submit=False)
    with pytest.raises(RuleViolation) as caught:
        services.application_submit(application=draft, actor=actor("intake"))
    assert "declarations.no_infectious_disease" in caught.value.errors
    draft.refresh_from_db()
    assert draft.state == "draft"


# --- R-APP-5 one open application at a time ------------------------------------------------------
def test_a_second_open_application_is_refused_naming_the_open_one_r_app_5():
    first, _ = create()
    error = refused(Conflict, id_number=first.applicant.id_number, choices=["YX02"])
    assert error.status == 409
    assert error.extra["open_application"] == first.reference
    assert first.reference in error.errors["applicant.id_number"][0]


def test_after_the_first_is_withdrawn_the_same_person_may_apply_again_r_app_5():
    first, _ = create()
    services.application_withdraw(application=first, reason="family changed their mind", actor=actor("intake"))
    second, _ = create(id_number=first.applicant.id_number, choices=["YX02"])
    assert second.state == "submitted"
    assert second.applicant_id == first.applicant_id
    assert Applicant.objects.count() == 1


def test_the_database_itself_refuses_a_second_open_application_row_r_app_5():
    first, _ = create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(reference="2026-999999", applicant=first.applicant)
    assert Application.objects.filter(applicant=first.applicant).count() == 1


def test_the_database_allows_a_new_row_beside_a_closed_one_r_app_5():
    first, _ = create()
    services.application_withdraw(application=first, reason="moved away", actor=actor("intake"))
    Application.objects.create(reference="2026-999999", applicant=first.applicant)
    assert Application.objects.filter(applicant=first.applicant).count() == 2


# --- R-APP-6 bar ---------------------------------------------------------------------------------
def test_staff_cannot_remove_for_the_refusal_limit_which_is_the_systems_r_off_5():
    first, _ = create()
    with pytest.raises(InvalidInput) as error:
        services.application_remove(application=first, reason="refusal_limit", actor=actor("reviewer"))
    assert "reason" in error.value.errors


def test_a_barred_person_is_refused_until_the_bar_ends_and_may_apply_that_day_r_app_6(time_machine):
    time_machine.move_to(at(APPLICATION_DAY), tick=False)
    first, _ = create()
    with transaction.atomic():  # the refusal limit's own path (R-OFF-5), as the offer services call it
        locked = Application.objects.select_for_update().get(pk=first.pk)
        services.application_remove_for_refusals(application=locked)
    first.applicant.refresh_from_db()
    bar_end = first.applicant.barred_until
    assert bar_end == APPLICATION_DAY + dt.timedelta(days=365)

    time_machine.move_to(at(bar_end - dt.timedelta(days=1)), tick=False)
    error = refused(RuleViolation, id_number=first.applicant.id_number)
    assert error.status == 422
    assert error.extra["barred_until"] == bar_end.isoformat()
    assert "barred until" in error.errors["applicant.id_number"][0]

    time_machine.move_to(at(bar_end), tick=False)
    again, _ = create(id_number=first.applicant.id_number)
    assert again.state == "submitted"


# --- R-APP-7 choices -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("choices", "field"),
    [
        pytest.param([], "choices", id="none"),
        pytest.param(["YX01", "YX02", "GZC01"], "choices", id="three"),
        pytest.param(["YX01", "YX01"], "choices.1", id="the same home twice"),
        pytest.param(["GZC01", "GZC02"], "choices.1", id="two city-level homes"),
        pytest.param(["HZ01"], "choices.0", id="a district-level home outside the applicant's district"),
        pytest.param(["GZC01", "YX09"], "choices.1", id="a home not accepting applications"),
    ],
)
def test_choices_that_break_the_rules_are_refused_naming_the_choice_r_app_7(choices, field):
    """0 or 3 choices are a fault of the list, so `choices` itself is named; the others name the item."""
    error = refused(RuleViolation, choices=choices)
    assert error.status == 422
    assert list(error.errors) == [field]
    words = ("choose", "chosen twice", "city-level", "own district", "not accepting")
    assert any(word in error.errors[field][0] for word in words)


def test_an_unknown_facility_code_is_refused_with_400_naming_the_choice_r_app_7():
    error = refused(InvalidInput, choices=["YX01", "NOPE"])
    assert "choices.1" in error.errors


def test_one_city_level_and_one_own_district_home_are_kept_in_order_of_preference_r_app_7():
    application, _ = create(choices=["GZC01", "YX01"])
    assert list(application.choices.values_list("facility__code", "rank")) == [("GZC01", 1), ("YX01", 2)]


# --- R-APP-8 categories and channels -------------------------------------------------------------
def test_a_category_without_evidence_is_refused_r_app_8():
    error = refused(InvalidInput, categories=[{"code": "dibao", "evidence": "  "}])
    assert "needs evidence" in error.errors["categories.0.evidence"][0]


def test_an_unknown_category_is_refused_with_400_r_app_8():
    error = refused(InvalidInput, categories=[{"code": "millionaire", "evidence": "bank letter"}])
    assert error.status == 400
    assert "categories.0.code" in error.errors


def test_a_claimed_category_counts_for_nothing_until_verified_r_app_8():
    application = queued_application(
        choices=["YX01"],
        categories=[{"code": "dibao", "evidence": "低保证 2024-118"}, {"code": "youfu", "evidence": "优待证 55"}],
        verify=(),  # dibao not decided at all
    )
    assert application.channel_code == "ordinary"
    assert application.category_claims.get(code="dibao").status == "claimed"


def test_a_refused_category_counts_for_nothing_r_app_8():
    application = reviewed_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-118"}])
    services.application_approve(
        application=application,
        categories=[{"code": "dibao", "verified": False, "note": "expired certificate"}],
        exemption=None,
        actor=actor("reviewer"),
    )
    application.refresh_from_db()
    assert application.channel_code == "ordinary"
    assert application.category_claims.get(code="dibao").status == "refused"


@pytest.mark.parametrize(
    ("claimed", "channel"),
    [(("dibao",), "special"), (("youfu",), "priority"), (("dibao", "youfu"), "special"), ((), "ordinary")],
)
def test_the_channel_is_the_highest_that_any_verified_category_gives_r_app_8(claimed, channel):
    application = queued_application(
        choices=["YX01"],
        categories=[{"code": code, "evidence": f"certificate {code}"} for code in claimed],
        verify=claimed,
    )
    assert application.state == "waiting"
    assert application.channel_code == channel
    assert (
        QueueEntry.objects.get(application=application).channel_rank
        == {"special": 0, "priority": 1, "ordinary": 2}[channel]
    )


@pytest.mark.parametrize(
    ("approved_on", "channel"), [(dt.date(2026, 3, 4), "ordinary"), (dt.date(2026, 3, 5), "priority")]
)
def test_turning_100_by_the_approval_date_puts_the_applicant_in_priority_r_app_8(time_machine, approved_on, channel):
    time_machine.move_to(at(APPLICATION_DAY), tick=False)
    application = reviewed_application(choices=["YX01"], date_of_birth=dt.date(1926, 3, 5))  # 99 today
    time_machine.move_to(at(approved_on), tick=False)
    services.application_approve(application=application, categories=[], exemption=None, actor=actor("reviewer"))
    application.refresh_from_db()
    assert application.channel_code == channel


def test_a_centenarian_with_a_special_category_stays_special_r_app_8():
    application = queued_application(
        choices=["YX01"],
        date_of_birth=dt.date(1920, 5, 1),
        categories=[{"code": "tekun", "evidence": "特困证 7"}],
        verify=("tekun",),
    )
    assert application.channel_code == "special"


def test_the_channel_mapping_is_policy_data_r_app_8():
    """A new policy version that maps youfu to special changes the channel of the next approval."""
    mapping = {**PolicyParameters().channel_mapping, "youfu": "special"}
    Policy.objects.create(
        version=2,
        effective_from=dt.date(2020, 1, 1),
        parameters={**PolicyParameters().to_json(), "channel_mapping": mapping},
    )
    application = queued_application(
        choices=["YX01"], categories=[{"code": "youfu", "evidence": "优待证 55"}], verify=("youfu",)
    )
    assert application.channel_code == "special"
    assert application.events.get(transition="approve").data["policy"] == 2


# --- R-APP-9 family situation --------------------------------------------------------------------
def test_the_family_situation_is_recorded_at_intake_r_app_9():
    application, _ = create(
        lives_alone=True, no_spouse_no_children=False, choices=["GZC01", "YX01"], spouse_resident_in=["YX01"]
    )
    application.refresh_from_db()
    assert application.lives_alone is True
    assert application.no_spouse_no_children is False
    assert dict(application.choices.values_list("facility__code", "spouse_resident")) == {"GZC01": False, "YX01": True}


def test_a_spouse_can_only_be_resident_in_a_chosen_home_r_app_9():
    error = refused(InvalidInput, choices=["YX01"], spouse_resident_in=["GZC01"])
    assert "among the choices" in error.errors["spouse_resident_in"][0]


# --- R-APP-10 possible duplicates ----------------------------------------------------------------
@pytest.fixture
def namesakes():
    """Two people with the same name and birth date (different ID numbers)."""
    first, _ = create()
    second, _ = create()
    assert first.applicant_id != second.applicant_id
    return first, second


def test_a_possible_duplicate_is_dismissed_with_a_note_r_app_10(namesakes):
    first, second = namesakes
    review = services.duplicate_review_record(
        application=second,
        other_reference=first.reference,
        match="name_dob",
        decision="dismissed",
        note="Different ID numbers and addresses; two people.",
        actor=actor("intake"),
    )
    assert (review.other_application, review.decision, review.decided_by.username) == (first, "dismissed", "intake")
    event = second.events.last()
    assert event.transition == "duplicate_reviewed"
    assert event.reason == "Different ID numbers and addresses; two people."
    assert event.data == {"other": first.reference, "match": "name_dob", "decision": "dismissed"}


def test_a_duplicate_review_needs_a_note_r_app_10(namesakes):
    first, second = namesakes
    with pytest.raises(InvalidInput) as caught:
        services.duplicate_review_record(
            application=second,
            other_reference=first.reference,
            match="name_dob",
            decision="dismissed",
            note="   ",
            actor=actor("intake"),
        )
    assert "note" in caught.value.errors
    assert not DuplicateReview.objects.exists()


def test_a_possible_duplicate_is_reviewed_only_once_r_app_10(namesakes):
    first, second = namesakes
    review = dict(application=second, other_reference=first.reference, match="phone", note="Same carer's phone.")
    services.duplicate_review_record(decision="dismissed", actor=actor("intake"), **review)
    events = ApplicationEvent.objects.count()
    with pytest.raises(Conflict):
        services.duplicate_review_record(decision="confirmed", actor=actor("intake"), **review)
    assert DuplicateReview.objects.get().decision == "dismissed"
    assert ApplicationEvent.objects.count() == events


# --- SPEC §10: a refused input changes nothing ---------------------------------------------------
def test_a_refused_application_from_a_known_person_changes_nothing_r_app_5():
    """The applicant row exists already: a refusal must not update its name or phone either."""
    first, _ = create()
    applicant_before = Applicant.objects.values().get(pk=first.applicant_id)
    refused(Conflict, id_number=first.applicant.id_number, name="陈秀英改", phone="13700000000")
    assert Applicant.objects.values().get(pk=first.applicant_id) == applicant_before


def test_a_refused_intake_correction_changes_nothing_r_app_7():
    application, _ = create()
    before = row_counts()
    version = application.version
    with pytest.raises(RuleViolation):
        services.application_update(
            application=application,
            data=intake(id_number=application.applicant.id_number, choices=["HZ01"], name="改名"),
            actor=staff_actor("intake-officer", "intake"),
        )
    assert row_counts() == before
    application.refresh_from_db()
    assert application.version == version
    assert application.applicant.name == "陈秀英"
    assert list(application.choices.values_list("facility__code", flat=True)) == ["YX01"]


# --- R-PUB-1 lookup codes ------------------------------------------------------------------------
def test_the_lookup_code_is_six_characters_that_cannot_be_confused_r_pub_1():
    assert not spec.LOOKUP_CODE_CONFUSABLE & set(LOOKUP_CODE_ALPHABET)
    for _ in range(20):
        _, code = create(submit=False)
        assert len(code) == spec.LOOKUP_CODE_LENGTH
        assert code.isascii() and code.isalnum() and code == code.upper()
        assert not spec.LOOKUP_CODE_CONFUSABLE & set(code)


def test_the_lookup_code_is_stored_only_as_a_hash_and_matches_in_any_case_r_pub_1():
    application, code = create()
    application.refresh_from_db()
    assert code not in application.lookup_code_hash
    assert services.lookup_code_matches(application, code)
    assert services.lookup_code_matches(application, code.lower())
    assert services.lookup_code_matches(application, f" {code} ")
    assert not services.lookup_code_matches(application, "222222" if code != "222222" else "333333")


def test_a_new_lookup_code_ends_the_old_one_r_pub_1():
    application, old = create()
    new = services.lookup_code_issue(application=application, actor=actor("intake"))
    application.refresh_from_db()
    assert services.lookup_code_matches(application, new)
    assert new != old  # 32**6 codes: a repeat would be a broken generator
    assert not services.lookup_code_matches(application, old)
    assert application.events.last().transition == "lookup_code_issued"


def test_a_submitted_application_is_stamped_and_its_creation_recorded_r_fsm_2():
    application, _ = create()
    assert application.submitted_at is not None
    assert list(application.events.values_list("transition", "from_state", "to_state")) == [
        ("create", "", "draft"),
        ("submit", "draft", "submitted"),
    ]


def test_an_id_number_with_non_ascii_digits_is_refused_not_a_crash_r_app_1():
    """ "¹" is a digit to str.isdigit but not to int()."""
    from admissions.identity import id_number_errors

    assert "applicant.id_number" in id_number_errors("44010419410302002¹", date_of_birth=None, sex=None)
    assert "applicant.id_number" in id_number_errors(
        "４４０１０４１９４１０３０２００２X", date_of_birth=None, sex=None
    )


# --- found unpinned by mutation testing (docs/mutation.md, intake) ---------------------------------
def test_a_correction_to_the_id_number_of_a_person_with_an_open_application_is_refused_r_app_5():
    """R-APP-5 holds for a correction too: the draft cannot become a second open application of
    another person; the draft's own open state does not count against itself."""
    first, _ = create()
    second, _ = create(submit=False)
    with pytest.raises(Conflict) as caught:
        services.application_update(
            application=second,
            data=intake(id_number=first.applicant.id_number, choices=["YX01"]),
            actor=actor("intake"),
            reason="the receipt showed a typing error",
        )
    assert first.reference in caught.value.errors["applicant.id_number"][0]
    second.refresh_from_db()
    corrected = services.application_update(
        application=second,
        data=intake(id_number=second.applicant.id_number, name="陈秀英", choices=["YX01"]),
        actor=actor("intake"),
    )
    assert corrected.state == "draft"


def test_the_channel_reason_names_the_verified_category_r_app_8():
    """R-APP-8: the channel's reason (shown to the family, R-PUB-3) names the category that gave it."""
    application = queued_application(
        choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-001"}], verify=("dibao",)
    )
    assert application.channel_reason["because"] == "dibao"
    assert application.channel_reason["verified_categories"] == ["dibao"]


def test_a_duplicate_review_without_any_note_is_refused_r_app_10(namesakes):
    first, second = namesakes
    for note in ("", None):
        with pytest.raises(InvalidInput) as caught:
            services.duplicate_review_record(
                application=second,
                other_reference=first.reference,
                match="name_dob",
                decision="dismissed",
                note=note,
                actor=actor("intake"),
            )
        assert "note" in caught.value.errors
    assert not DuplicateReview.objects.exists()


def test_a_man_entered_for_a_womans_id_number_is_refused_on_the_sex_field_r_app_1():
    """R-APP-1 both ways: "M" against an even digit 17 as well as "F" against an odd one."""
    error = refused(InvalidInput, id_number=id_number(BORN, sex="F"), date_of_birth=BORN, sex="M")
    assert "sex digit" in error.errors["applicant.sex"][0]


def test_a_category_with_an_evidence_file_and_no_reference_is_taken_r_app_8():
    """R-APP-8: the evidence is a document reference *or* a file."""
    application, _ = create(categories=[{"code": "dibao", "evidence": "", "evidence_file": "evidence/dibao.pdf"}])
    claim = application.category_claims.get(code="dibao")
    assert (claim.evidence, claim.evidence_file.name) == ("", "evidence/dibao.pdf")


def test_an_application_records_how_it_came_in():
    """SPEC §10 audit: the channel an application was created through (web, api)."""
    application, _ = services.application_create(
        data=intake(choices=["YX01"]), submit=True, actor=actor("intake"), via="api"
    )
    assert application.created_via == "api"
    by_page, _ = create()
    assert Application.objects.get(pk=by_page.pk).created_via == "web"


def test_an_exemption_decision_without_granted_or_refused_is_refused_naming_it_r_app_3():
    """R-APP-3: the reviewer must say granted or refused; a note alone decides nothing."""
    application = reviewed_application(choices=["HZ01"], **EXEMPT)
    with pytest.raises(InvalidInput) as caught:
        services.application_approve(
            application=application,
            categories=[],
            exemption={"note": "City model worker 1988, file 12."},
            actor=actor("reviewer"),
        )
    assert "exemption" in caught.value.errors
    application.refresh_from_db()
    assert (application.state, application.contributor_exemption_granted) == ("review", None)


def test_a_verified_category_records_who_verified_it_and_when_r_app_8(time_machine):
    """R-APP-8: a category counts once a reviewer verifies it; the claim keeps who and when (SPEC §10 audit)."""
    time_machine.move_to(at(dt.date(2026, 11, 2), hour=15), tick=False)
    application = reviewed_application(choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 2024-118"}])
    reviewer = actor("the-reviewer")
    services.application_approve(
        application=application,
        categories=[{"code": "dibao", "verified": True, "note": "certificate seen"}],
        exemption=None,
        actor=reviewer,
    )
    claim = application.category_claims.get(code="dibao")
    assert (claim.status, claim.note, claim.verified_by) == ("verified", "certificate seen", reviewer.user)
    assert claim.verified_at == at(dt.date(2026, 11, 2), hour=15)


def test_a_correction_keeps_the_familys_chosen_language_r_chg_1():
    """R-CHG-1: a correction changes what was corrected; an English-speaking family keeps English."""
    application, _ = services.application_create(
        data=intake(choices=["YX01"], language="en"), submit=True, actor=actor("intake")
    )
    services.application_update(
        application=application,
        data=intake(id_number=application.applicant.id_number, choices=["YX01"], language="en", phone="13800000001"),
        actor=actor("intake"),
    )
    application.applicant.refresh_from_db()
    assert (application.applicant.phone, application.applicant.language) == ("13800000001", "en")


def test_a_finished_application_gets_no_new_lookup_code_naming_its_state_r_fsm_3():
    """R-FSM-3: refused with 409, naming the current state and no transitions; the old code is kept."""
    application, code = create()
    services.application_withdraw(application=application, reason="moved away", actor=actor("intake"))
    with pytest.raises(WrongState) as caught:
        services.lookup_code_issue(application=application, actor=actor("intake"))
    assert caught.value.status == 409
    assert (caught.value.current_state, caught.value.available_transitions) == ("withdrawn", [])
    application.refresh_from_db()
    assert services.lookup_code_matches(application, code)


def test_a_second_open_application_is_refused_under_the_rule_code_r_app_5():
    """The API problem's `type` names the rule (API.md): R-APP-5, as SPEC writes it."""
    first, _ = create()
    assert refused(Conflict, id_number=first.applicant.id_number, choices=["YX02"]).rule == "R-APP-5"


@pytest.mark.parametrize("field", ["phone", "contact_phone"])
def test_a_phone_that_is_no_phone_number_is_refused_in_words_naming_the_field_r_sec_9(field):
    error = refused(InvalidInput, **{field: "call me"})
    path = {"phone": "applicant.phone", "contact_phone": "contact.phone"}[field]
    (message,) = error.errors[path]
    assert "phone number" in message


def test_a_contact_update_bumps_the_version_and_records_the_fields_it_changed_r_fsm_2():
    application, _ = create()
    version = application.version
    services.application_contact_update(
        application=application, changes={"contact_name": "儿子"}, actor=actor("admin"), via="admin"
    )
    application.refresh_from_db()
    assert (application.contact_name, application.version) == ("儿子", version + 1)
    event = application.events.last()
    assert (event.transition, event.from_state, event.to_state) == ("update", "submitted", "submitted")
    assert event.data == {"fields": ["contact_name"], "via": "admin"}


def test_the_lookup_code_hash_is_hmac_sha256_of_reference_and_code_in_capitals_r_pub_1(settings):
    """R-PUB-1 / R-SEC-8: a stored hash is HMAC-SHA256 under the key of "reference:CODE" (the code in
    capitals, as issued), so every hash stored so far keeps matching whatever case the family types."""
    settings.LOOKUP_CODE_KEYS = ["the-newest-key"]
    expected = hmac.new(b"the-newest-key", b"2026-000123:ABC234", hashlib.sha256).hexdigest()
    assert services.lookup_code_hash("2026-000123", " abc234 ") == expected


# --- found unpinned by mutation testing, second round (docs/mutation.md, intake) -----------------------
def test_a_new_lookup_code_is_one_new_version_r_pub_1_r_fsm_4():
    application, _ = create()
    version = Application.objects.get(pk=application.pk).version
    services.lookup_code_issue(application=application, actor=actor("intake"))
    assert Application.objects.get(pk=application.pk).version == version + 1


def test_a_code_that_matched_under_an_older_key_is_stored_again_under_the_newest_r_sec_8(settings):
    settings.LOOKUP_CODE_KEYS = ["key-2026"]
    application, code = create()
    settings.LOOKUP_CODE_KEYS = ["key-2027", "key-2026"]
    application = Application.objects.get(pk=application.pk)
    assert services.lookup_code_matching_key(application.lookup_code_hash, application.reference, code) == 1
    services.lookup_code_rehash(application, code)
    stored = Application.objects.get(pk=application.pk).lookup_code_hash
    expected = hmac.new(b"key-2027", f"{application.reference}:{code}".encode(), hashlib.sha256).hexdigest()
    assert stored == application.lookup_code_hash == expected
    settings.LOOKUP_CODE_KEYS = ["key-2027"]
    assert services.lookup_code_matches(Application.objects.get(pk=application.pk), code)


@pytest.mark.parametrize("other", ["itself", "unknown"])
def test_a_duplicate_review_names_another_existing_application_r_app_10(namesakes, other):
    first, second = namesakes
    with pytest.raises(InvalidInput) as caught:
        services.duplicate_review_record(
            application=second,
            other_reference=second.reference if other == "itself" else "2099-999999",
            match="name_dob",
            decision="dismissed",
            note="Checked.",
            actor=actor("intake"),
        )
    assert caught.value.errors == {"other_reference": ["is not another application"]}
    assert caught.value.rule == "R-APP-10"
    assert not DuplicateReview.objects.exists()


@pytest.mark.parametrize("name", [None, "", "   "])
def test_an_application_without_a_name_is_refused_naming_the_name_r_app_1(name):
    error = refused(InvalidInput, name=name)
    assert error.errors["applicant.name"] == ["is required"]


def test_a_contact_email_of_254_characters_is_taken_and_one_more_is_refused():
    """The contact's email receives notifications (R-OFF-6): at most 254 characters, the longest
    address a mail server takes (RFC 5321), with a 64-character local part."""
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    longest = "a" * 64 + "@" + domain
    assert len(longest) == 254
    application, _ = create(contact_email=longest)
    assert application.contact_email == longest
    error = refused(InvalidInput, contact_email="a" * 64 + "@" + domain.replace(".com", "d.com"))
    assert error.errors == {"contact.email": ["must be at most 254 characters"]}
