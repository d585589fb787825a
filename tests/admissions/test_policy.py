"""Versioned policy (SPEC §9)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from admissions.models import Policy
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
