"""Versioned policy (SPEC §9)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from admissions.models import Policy, PolicyActivation
from admissions.policy import PolicyError, PolicyParameters
from admissions.selectors import policy_in_force
from admissions.services.policy import policy_create
from core.errors import InvalidInput
from facilities.models import AuditEntry
from tests import spec
from tests.factories import actor

pytestmark = pytest.mark.django_db


def test_the_seeded_version_carries_the_defaults_of_section_nine():
    """§9 defaults, against the numbers written out from SPEC.md (tests/spec.py)."""
    params = policy_in_force().parameters
    assert (params.min_age, params.max_choices, params.max_city_level_choices) == (
        spec.MIN_AGE,
        spec.MAX_CHOICES,
        spec.MAX_CITY_LEVEL_CHOICES,
    )
    assert Decimal(params.nursing_target) == spec.NURSING_TARGET
    assert (params.nursing_min_grade, params.assessment_valid_days, params.reassessment_reminder_days) == (
        spec.NURSING_MIN_GRADE,
        spec.ASSESSMENT_VALID_DAYS,
        spec.REASSESSMENT_REMINDER_DAYS,
    )
    assert (params.offer_response_working_days, params.admission_working_days) == (
        spec.OFFER_RESPONSE_WORKING_DAYS,
        spec.ADMISSION_WORKING_DAYS,
    )
    assert (params.refusal_limit, params.refusal_window_days, params.bar_days) == (
        spec.REFUSAL_LIMIT,
        spec.REFUSAL_WINDOW_DAYS,
        spec.BAR_DAYS,
    )
    assert params.channel_mapping == {
        "tekun": "special",
        "dibao": "special",
        "low_income": "special",
        "youfu": "priority",
        "family_planning_special": "priority",
        "model_worker": "priority",
        "heroic_deed": "priority",
    }


def test_the_default_score_weights_are_those_of_r_q_3():
    """R-Q-3 default weights, read through the policy's own scoring helpers."""
    params = policy_in_force().parameters
    assert {grade: params.care_points(grade) for grade in range(5)} == spec.CARE_POINTS_BY_GRADE
    assert {age: params.age_points(age) for age in spec.AGE_POINTS} == spec.AGE_POINTS
    family = params.family_points
    assert family(no_spouse_no_children=True, lives_alone=False, spouse_resident=False) == spec.LONELY_POINTS
    assert family(no_spouse_no_children=False, lives_alone=True, spouse_resident=False) == spec.LIVES_ALONE_POINTS
    assert family(no_spouse_no_children=False, lives_alone=False, spouse_resident=True) == spec.SPOUSE_RESIDENT_POINTS
    assert family(no_spouse_no_children=True, lives_alone=True, spouse_resident=False) == 8  # "both can apply: +8"
    assert (params.waiting_points, params.waiting_period_days) == (
        spec.WAITING_POINTS_PER_PERIOD,
        spec.WAITING_PERIOD_DAYS,
    )


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_a_new_version_applies_from_its_effective_date_and_the_change_is_audited():
    """STORIES 9: waiting points 1 → 2 from the first of next month."""
    weights = PolicyParameters().score_weights
    weights["waiting"]["points"] = 2
    policy = policy_create(
        effective_from=dt.date(2026, 12, 1),
        parameters={"score_weights": weights},
        actor=actor("admin"),
        note="more weight to waiting",
    )
    assert policy.version == 2
    assert policy_in_force(dt.date(2026, 11, 30)).version == 1
    assert policy_in_force(dt.date(2026, 12, 1)).parameters.waiting_points == 2
    assert policy_in_force(dt.date(2026, 12, 1)).parameters.min_age == 60  # carried over
    audit = AuditEntry.objects.get(action="policy_create")
    assert audit.actor_name == "admin" and "score_weights" in audit.changes["changed"]


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"min_age": -1}, "min_age"),
        ({"min_age": "sixty"}, "min_age"),
        ({"max_choices": 0}, "max_choices"),
        ({"nursing_target": 1.5}, "nursing_target"),
        ({"nursing_target": True}, "nursing_target"),
        ({"channel_mapping": {"dibao": "vip"}}, "channel_mapping"),
        ({"score_weights": {"care": {}}}, "score_weights"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter_and_nothing_is_created(parameters, field):
    with pytest.raises(InvalidInput) as refused:
        policy_create(effective_from=dt.date(2026, 12, 1), parameters=parameters, actor=actor("admin"))
    assert field in refused.value.errors
    assert Policy.objects.count() == 1 and not AuditEntry.objects.exists()


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_a_version_cannot_take_effect_in_the_past():
    with pytest.raises(InvalidInput) as refused:
        policy_create(effective_from=dt.date(2026, 11, 1), parameters={}, actor=actor("admin"))
    assert "effective_from" in refused.value.errors


def test_parameters_reject_unknown_names():
    with pytest.raises(PolicyError):
        PolicyParameters.from_json({"nope": 1})


def test_editing_one_set_of_parameters_never_changes_the_defaults():
    """§9: the defaults are one place; a caller's copy is its own."""
    weights = PolicyParameters().score_weights
    weights["care"]["2"] = 99
    weights["age"].append([60, 1])
    PolicyParameters().channel_mapping["dibao"] = "ordinary"
    fresh = PolicyParameters()
    assert fresh.care_points(2) == 20 and fresh.age_points(65) == 0
    assert fresh.channel_mapping["dibao"] == "special"


# --- §9 parameters: what a new version may and may not say (each bound on both sides) --------------
WHOLE_NUMBER_PARAMETERS = [
    "min_age",
    "max_choices",
    "max_city_level_choices",
    "nursing_min_grade",
    "centenarian_age",
    "assessment_valid_days",
    "reassessment_reminder_days",
    "offer_response_working_days",
    "admission_working_days",
    "refusal_limit",
    "refusal_window_days",
    "bar_days",
    "retention_years",
    "vacancy_alert_days",
    "out_of_service_alert_days",
    "admission_extension_working_days",
    "admission_grace_working_days",
    "review_request_days",
    "review_decision_working_days",
    "reconfirm_interval_days",
    "reconfirm_grace_days",
]
# A deadline of 0 working days, a limit of 0 refusals, 0 choices or an assessment valid 0 days would
# make the rule they set meaningless: these start at 1.
AT_LEAST_ONE = ["max_choices", "offer_response_working_days", "admission_working_days", "refusal_limit"]
AT_LEAST_ONE += ["assessment_valid_days", "retention_years", "vacancy_alert_days", "out_of_service_alert_days"]
AT_LEAST_ONE += ["review_decision_working_days", "reconfirm_interval_days", "reconfirm_grace_days"]


def weights(**changes):
    """R-Q-3's default weights (written out from SPEC.md) with some parts replaced."""
    return {
        "care": {str(grade): points for grade, points in spec.CARE_POINTS_BY_GRADE.items()},
        "age": [[100, 10], [90, 8], [80, 5], [70, 2]],
        "family": {"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 5},
        "waiting": {"points": 1, "period_days": 30},
        **changes,
    }


def refused(parameters) -> dict[str, str]:
    with pytest.raises(PolicyError) as error:
        PolicyParameters.from_json(parameters)
    return error.value.errors


@pytest.mark.parametrize("name", WHOLE_NUMBER_PARAMETERS)
@pytest.mark.parametrize("value", [-1, 100_001, True, 2.5, "3"])
def test_every_whole_number_parameter_refuses_what_is_not_a_whole_number_from_0_to_100000(name, value):
    assert list(refused({name: value})) == [name]


# The refusal window and the bar must also stay below the retention period (R-PRIV-3): left out here.
@pytest.mark.parametrize(
    "name",
    sorted(set(WHOLE_NUMBER_PARAMETERS) - set(AT_LEAST_ONE) - {"nursing_min_grade", "refusal_window_days", "bar_days"}),
)
def test_whole_number_parameters_without_a_floor_take_0_and_100000(name):
    assert getattr(PolicyParameters.from_json({name: 0}), name) == 0
    assert getattr(PolicyParameters.from_json({name: 100_000}), name) == 100_000


@pytest.mark.parametrize("name", AT_LEAST_ONE)
def test_counts_and_deadlines_start_at_one(name):
    assert refused({name: 0}) == {name: "must be at least 1"}
    # One year kept must still outlast the refusal window and the bar (R-PRIV-3).
    short = {"refusal_window_days": 1, "bar_days": 1} if name == "retention_years" else {}
    assert getattr(PolicyParameters.from_json({name: 1, **short}), name) == 1


def test_the_nursing_grade_is_a_grade_from_0_to_4():
    """R-CARE-1's threshold is a grade (R-ASM-1: 0–4)."""
    assert refused({"nursing_min_grade": 5}) == {"nursing_min_grade": "must be a grade from 0 to 4"}
    assert PolicyParameters.from_json({"nursing_min_grade": 4}).nursing_min_grade == 4
    assert PolicyParameters.from_json({"nursing_min_grade": 0}).nursing_min_grade == 0


def test_a_parameter_of_the_wrong_type_is_refused_with_its_message_not_a_crash():
    """Bad input gets a clear error naming the field (SPEC §10), also where a second check follows."""
    assert refused({"max_choices": "two", "nursing_min_grade": "two"}) == {
        "max_choices": "must be a whole number from 0 to 100000",
        "nursing_min_grade": "must be a whole number from 0 to 100000",
    }


@pytest.mark.parametrize(("given", "kept"), [(0, "0.000"), (1, "1.000"), ("0.7777", "0.778"), (0.78, "0.780")])
def test_a_nursing_target_from_0_to_1_is_kept_to_three_places(given, kept):
    """R-NQ-1's target is a share of beds."""
    assert PolicyParameters.from_json({"nursing_target": given}).nursing_target == Decimal(kept)


@pytest.mark.parametrize("given", [-0.001, 1.001, "most", None, False])
def test_a_nursing_target_outside_0_to_1_is_refused(given):
    assert refused({"nursing_target": given}) == {"nursing_target": "must be a number from 0 to 1"}


def test_every_name_that_is_not_a_parameter_is_named():
    assert set(refused({"colour": "blue", "size": 3, "min_age": 60})) == {"colour", "size"}
    assert refused([("min_age", 60)]) == {"parameters": "must be an object"}


def test_the_channel_mapping_sends_every_category_to_special_priority_or_ordinary():
    """R-Q-2 channels: a new mapping must place each category of §3."""
    mapping = {category: "ordinary" for category in spec.CATEGORY_CODES}
    mapping |= {"tekun": "special", "youfu": "priority"}
    assert PolicyParameters.from_json({"channel_mapping": mapping}).channel_mapping == mapping
    missing = {k: v for k, v in mapping.items() if k != "tekun"}
    extra = {**mapping, "vip": "special"}
    for bad in (missing, extra, {**mapping, "dibao": "vip"}, ["tekun"]):
        assert list(refused({"channel_mapping": bad})) == ["channel_mapping"]


@pytest.mark.parametrize(
    "bad",
    [
        ["care", "age", "family", "waiting"],
        {k: v for k, v in weights().items() if k != "waiting"},
        weights(care={"0": 0, "1": 10, "2": 20, "3": 30}),
        weights(care={"0": 0, "1": 10, "2": 20, "3": 30, "4": 1001}),
        weights(care={"0": 0, "1": 10, "2": 20, "3": 30, "4": -1}),
        weights(care={"0": 0, "1": 10, "2": 20, "3": 30, "4": True}),
        weights(care=[0, 10, 20, 30, 40]),
        weights(age=[[90, 8], [100, 10]]),
        weights(age=[[100, 10, 1]]),
        weights(age=[[100]]),
        weights(age=[(100, 10)]),
        weights(age=[[100, 1001]]),
        weights(age=[[1001, 10]]),
        weights(age={"100": 10}),
        weights(family={"no_spouse_no_children": 5, "lives_alone": 3}),
        weights(family={"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 1001}),
        weights(family=[5, 3, 5]),
        weights(waiting={"points": 1}),
        weights(waiting={"points": 1001, "period_days": 30}),
        weights(waiting={"points": 1, "period_days": 0}),
        weights(waiting={"points": 1, "period_days": 1001}),
        weights(waiting=[1, 30]),
    ],
)
def test_score_weights_that_do_not_give_whole_points_for_every_part_of_r_q_3_are_refused(bad):
    assert list(refused({"score_weights": bad})) == ["score_weights"]


def test_score_weights_at_their_bounds_are_taken():
    """R-Q-3 weights: whole points 0–1000, a waiting period of at least one day, ages highest first."""
    edge = weights(
        care={"0": 0, "1": 1000, "2": 0, "3": 0, "4": 0},
        age=[[1000, 1000], [70, 0], [70, 0]],
        family={"no_spouse_no_children": 0, "lives_alone": 1000, "spouse_resident": 0},
        waiting={"points": 0, "period_days": 1},
    )
    assert PolicyParameters.from_json({"score_weights": edge}).score_weights == edge
    assert PolicyParameters.from_json({"score_weights": weights(waiting={"points": 1000, "period_days": 1000})})


def test_the_parameters_written_out_keep_the_target_as_text():
    """A stored version is JSON: the target keeps its decimal places as a string."""
    data = PolicyParameters.from_json({"nursing_target": "0.8"}).to_json()
    assert data["nursing_target"] == "0.800"
    assert data["min_age"] == spec.MIN_AGE
    assert PolicyParameters.from_json(data) == PolicyParameters.from_json({"nursing_target": "0.8"})


@pytest.mark.parametrize(("grade", "level"), [(0, "self_care"), (1, "self_care"), (2, "nursing"), (4, "nursing")])
def test_the_care_level_follows_the_grade_from_the_nursing_threshold_up(grade, level):
    """R-CARE-1: grade ≥ nursing_min_grade (2) → nursing."""
    assert spec.NURSING_MIN_GRADE == 2
    assert PolicyParameters().care_level_for_grade(grade) == level


# --- R-PRIV-3 beside §9: the retention period outlasts the refusal window and the bar -----------------
@pytest.mark.parametrize("name", ["refusal_window_days", "bar_days"])
def test_the_retention_period_must_be_longer_than_the_refusal_window_and_the_bar_each(name):
    """R-PRIV-3 (with R-OFF-5, R-APP-6): retention_years × 365 must be more than refusal_window_days
    and more than bar_days; each half on its own, at the boundary (one year kept = 365 days)."""
    other = "bar_days" if name == "refusal_window_days" else "refusal_window_days"
    assert list(refused({"retention_years": 1, name: 365, other: 1})) == ["retention_years"]
    assert list(refused({"retention_years": 1, name: 366, other: 1})) == ["retention_years"]
    taken = PolicyParameters.from_json({"retention_years": 1, name: 364, other: 364})
    assert (taken.retention_years, getattr(taken, name)) == (1, 364)
    # SPEC's defaults: 5 years kept, a window and a bar of a year.
    assert spec.RETENTION_YEARS * 365 > max(spec.REFUSAL_WINDOW_DAYS, spec.BAR_DAYS)
    assert PolicyParameters.from_json({name: spec.RETENTION_YEARS * 365 - 1}).retention_years == spec.RETENTION_YEARS
    assert list(refused({name: spec.RETENTION_YEARS * 365})) == ["retention_years"]


# --- creating a version (admissions/services/policy.py) ------------------------------------------------
@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_a_version_may_take_effect_today():
    """§9: "today or later"; only a date before today is refused."""
    policy = policy_create(effective_from=dt.date(2026, 11, 29), parameters={"min_age": 65}, actor=actor("admin"))
    assert (policy.version, policy.effective_from) == (2, dt.date(2026, 11, 29))
    assert policy_in_force(dt.date(2026, 11, 29)).parameters.min_age == 65


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_a_version_carries_over_the_parameters_in_force_on_its_own_date_and_audits_only_its_changes():
    """§9: a new version overrides what it names of the version in force *on its effective date*
    (a later version already decided is built on, not today's); the audit lists exactly what changed,
    the date, the note, who and which version."""
    admin = actor("admin")
    policy_create(effective_from=dt.date(2026, 12, 1), parameters={"refusal_limit": 4}, actor=admin)
    v3 = policy_create(
        effective_from=dt.date(2026, 12, 15), parameters={"min_age": 65, "refusal_limit": 4}, actor=admin
    )
    assert v3.version == 3
    assert (v3.parameters["refusal_limit"], v3.parameters["min_age"]) == (4, 65)
    assert v3.parameters["max_choices"] == spec.MAX_CHOICES and v3.note == "" and v3.created_by == admin.user
    assert policy_in_force(dt.date(2026, 12, 14)).version == 2
    audit = AuditEntry.objects.get(action="policy_create", object_key="v3")
    assert (audit.user, audit.actor_name, audit.object_type) == (admin.user, "admin", "Policy")
    assert audit.changes == {"effective_from": "2026-12-15", "changed": {"min_age": 65}, "note": ""}


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_a_version_keeps_its_note_and_its_audit_names_every_changed_parameter():
    """§9: the note is kept on the version and in the audit."""
    policy = policy_create(
        effective_from=dt.date(2026, 12, 1),
        parameters={"bar_days": 400, "nursing_target": "0.8"},
        actor=actor("admin"),
        note="council 2026/7",
    )
    assert Policy.objects.get(version=2).note == "council 2026/7" == policy.note
    audit = AuditEntry.objects.get(action="policy_create")
    assert audit.object_key == "v2"
    assert audit.changes == {
        "effective_from": "2026-12-01",
        "changed": {"bar_days": 400, "nursing_target": "0.800"},
        "note": "council 2026/7",
    }


@time_machine.travel(dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC))
def test_the_first_version_of_a_database_without_any_is_version_one():
    """§9: versions are numbered from 1; with none stored the built-in defaults are the base."""
    PolicyActivation.objects.all().delete()  # R-POL-1's record of each version coming into force
    Policy.objects.all().delete()
    policy = policy_create(effective_from=dt.date(2026, 11, 29), parameters={}, actor=actor("admin"))
    assert policy.version == 1
    assert policy.parameters["min_age"] == spec.MIN_AGE


def test_the_later_defaults_of_section_nine_are_spec_s_numbers():
    """§9 as it grew: the retention (R-PRIV-3), the alerts (R-WATCH-1), the admission extension and
    grace (R-OFF-7), and the review, reconfirmation and couples parameters; against tests/spec.py."""
    params = policy_in_force().parameters
    assert (params.retention_years, params.vacancy_alert_days, params.out_of_service_alert_days) == (
        spec.RETENTION_YEARS,
        spec.VACANCY_ALERT_DAYS,
        spec.OUT_OF_SERVICE_ALERT_DAYS,
    )
    assert (params.admission_extension_working_days, params.admission_grace_working_days) == (
        spec.ADMISSION_EXTENSION_WORKING_DAYS,
        spec.ADMISSION_GRACE_WORKING_DAYS,
    )
    assert (params.review_request_days, params.review_decision_working_days) == (
        spec.REVIEW_REQUEST_DAYS,
        spec.REVIEW_DECISION_WORKING_DAYS,
    )
    assert (params.reconfirm_interval_days, params.reconfirm_grace_days, params.couples_together) == (
        spec.RECONFIRM_INTERVAL_DAYS,
        spec.RECONFIRM_GRACE_DAYS,
        spec.COUPLES_TOGETHER,
    )


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_couples_together_is_true_or_false_only(value):
    """§9's couples_together is a yes or no; 1 and "true" are not."""
    assert refused({"couples_together": value}) == {"couples_together": "must be true or false"}
    assert PolicyParameters.from_json({"couples_together": False}).couples_together is False
    assert PolicyParameters.from_json({"couples_together": True}).couples_together is True


def test_the_channel_is_the_highest_any_verified_category_gives_and_a_centenarian_is_priority_at_least():
    """R-APP-8: 低保 → special, 优抚 → priority, none → ordinary; aged 100 (not 99) on the approval date →
    priority at least, never lowering a special channel; a code the mapping no longer names → ordinary."""
    params = PolicyParameters()
    assert params.channel_of(verified_codes=[], age=80) == ("ordinary", None)
    assert params.channel_of(verified_codes=["youfu", "dibao"], age=80) == ("special", "dibao")
    assert params.channel_of(verified_codes=["youfu"], age=None) == ("priority", "youfu")
    assert params.channel_of(verified_codes=[], age=100) == ("priority", "centenarian")
    assert params.channel_of(verified_codes=[], age=99) == ("ordinary", None)
    assert params.channel_of(verified_codes=["dibao"], age=101) == ("special", "dibao")
    assert params.channel_of(verified_codes=["retired_code"], age=70) == ("ordinary", None)


def test_bad_score_weights_are_refused_saying_what_is_missing():
    """R-Q-3 weights, §9: the refusal names the score weights and says what they must have."""
    with pytest.raises(PolicyError) as refused:
        PolicyParameters.from_json({"score_weights": {"care": {}}})
    assert refused.value.errors["score_weights"] == "must have care, age, family and waiting"


def test_the_refusal_limit_is_reached_at_the_third_refusal_not_before_r_off_5():
    """SPEC §9: refusal_limit 3. The one comparison every caller asks (offers, withdrawal,
    confirmation pages): two refusals leave the person waiting, the third removes and bars them."""
    params = PolicyParameters()
    assert [params.refusal_limit_reached(n) for n in range(5)] == [False, False, False, True, True]
    assert PolicyParameters(refusal_limit=1).refusal_limit_reached(1)
