"""Grading an assessment: R-ASM-1 (grade by total), R-ASM-2 (coma), R-ASM-3 (valid items)."""

import pytest

from assessments.grading import (
    GRADE_LABELS,
    domain_totals,
    grade_for,
    item_errors,
    total_points,
)
from assessments.instrument import ITEMS


def full_marks() -> dict[str, int]:
    return {item.code: item.max_points for item in ITEMS}


def no_marks() -> dict[str, int]:
    return {item.code: 0 for item in ITEMS}


# STORIES.md story 2: Mrs Chen needs help bathing and dressing, walks 50 m with a stick,
# cannot manage stairs, knows the year but not the date; the running total shows 58.
MRS_CHEN = {
    "B1.1": 4,  # eating: independent
    "B1.2": 3,  # grooming: needs prompting
    "B1.3": 1,  # bathing: relies mostly on help
    "B1.4": 2,  # upper-body dressing: needs help, does most of it
    "B1.5": 1,  # lower-body dressing: relies mostly on help
    "B1.6": 3,  # bladder: occasional accident
    "B1.7": 4,  # bowel: full control
    "B1.8": 3,  # toileting: supervised
    "B2.1": 3,  # bed mobility: uses the rail
    "B2.2": 3,  # bed–chair transfer: supervised
    "B2.3": 3,  # walks about 50 m with a stick
    "B2.4": 0,  # cannot manage stairs
    "B3.1": 2,  # knows the year but not the date
    "B3.2": 3,
    "B3.3": 4,
    "B3.4": 2,
    "B3.5": 3,
    "B3.6": 3,
    "B3.7": 1,
    "B3.8": 1,
    "B3.9": 2,
    "B4.1": 1,
    "B4.2": 1,
    "B4.3": 2,
    "B4.4": 1,
    "B4.5": 2,
}


# --- R-ASM-1 and R-ASM-2 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "grade"),
    [
        (90, 0),
        (89, 1),
        (66, 1),
        (65, 2),
        (46, 2),
        (45, 3),
        (30, 3),
        (29, 4),
        (0, 4),
    ],
)
def test_grade_follows_the_total_at_every_boundary_of_r_asm_1(total, grade):
    assert grade_for(total, coma=False) == grade


@pytest.mark.parametrize("total", [-1, 91])
def test_a_total_outside_0_to_90_is_refused_r_asm_1(total):
    with pytest.raises(ValueError, match="outside 0–90"):
        grade_for(total, coma=False)


@pytest.mark.parametrize("total", [90, 89, 66, 65, 46, 45, 30])
def test_coma_raises_any_better_grade_to_severe_r_asm_2(total):
    assert grade_for(total, coma=True) == 3


@pytest.mark.parametrize("total", [29, 0])
def test_coma_does_not_lower_a_complete_grade_r_asm_2(total):
    assert grade_for(total, coma=True) == 4


def test_grade_labels_name_each_grade_in_both_languages_r_asm_1():
    assert GRADE_LABELS == {
        0: ("能力完好", "intact"),
        1: ("轻度失能", "mild"),
        2: ("中度失能", "moderate"),
        3: ("重度失能", "severe"),
        4: ("完全失能", "complete"),
    }


def test_story_2_mrs_chen_totals_58_and_is_graded_moderate():
    """STORIES.md story 2, R-ASM-1: 58 → grade 2 (中度失能)."""
    assert item_errors(MRS_CHEN, coma=False) == {}
    assert domain_totals(MRS_CHEN) == {"B1": 21, "B2": 9, "B3": 21, "B4": 7}
    assert total_points(MRS_CHEN) == 58
    assert grade_for(total_points(MRS_CHEN), coma=False) == 2
    assert GRADE_LABELS[2][0] == "中度失能"


def test_full_marks_total_90_and_no_marks_total_0():
    assert domain_totals(full_marks()) == {"B1": 32, "B2": 15, "B3": 28, "B4": 15}
    assert total_points(full_marks()) == 90
    assert domain_totals(no_marks()) == {"B1": 0, "B2": 0, "B3": 0, "B4": 0}
    assert total_points(no_marks()) == 0


# --- R-ASM-3 and the coma box ---------------------------------------------------------------


def test_a_complete_set_of_items_in_range_has_no_errors_r_asm_3():
    assert item_errors(full_marks(), coma=False) == {}
    assert item_errors(no_marks(), coma=False) == {}


def test_a_missing_item_is_named_r_asm_3():
    items = full_marks()
    del items["B2.4"]
    assert item_errors(items, coma=False) == {"B2.4": "B2.4: missing"}


def test_an_item_left_blank_counts_as_missing_r_asm_3():
    items = full_marks() | {"B1.3": None}
    assert item_errors(items, coma=False) == {"B1.3": "B1.3: missing"}


def test_an_empty_assessment_names_all_26_items_r_asm_3():
    errors = item_errors({}, coma=False)
    assert list(errors) == [item.code for item in ITEMS]


@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("B2.4", 4, "B2.4: 4 is outside 0–3"),
        ("B2.4", 5, "B2.4: 5 is outside 0–3"),
        ("B1.1", -1, "B1.1: -1 is outside 0–4"),
        ("B3.7", 2, "B3.7: 2 is outside 0–1"),
        ("B4.1", 3, "B4.1: 3 is outside 0–2"),
    ],
)
def test_an_out_of_range_item_is_named_with_its_range_r_asm_3(code, value, message):
    items = full_marks() | {code: value}
    assert item_errors(items, coma=False) == {code: message}


@pytest.mark.parametrize("value", [True, False, "3", 3.0, 2.5])
def test_bools_strings_and_floats_are_not_whole_numbers_r_asm_3(value):
    items = full_marks() | {"B1.1": value}
    errors = item_errors(items, coma=False)
    assert list(errors) == ["B1.1"]
    assert "not a whole number 0–4" in errors["B1.1"]


def test_an_unknown_item_code_is_reported_r_asm_3():
    items = full_marks() | {"B5.1": 2}
    assert item_errors(items, coma=False) == {"B5.1": "B5.1: unknown item"}


def test_every_bad_item_is_named_at_once_r_asm_3():
    items = full_marks() | {"B1.1": 7, "B3.9": "x", "B9.9": 1}
    del items["B4.5"]
    assert set(item_errors(items, coma=False)) == {"B1.1", "B3.9", "B4.5", "B9.9"}


def test_coma_is_accepted_when_consciousness_is_0_r_asm_2():
    items = full_marks() | {"B3.9": 0}
    assert item_errors(items, coma=True) == {}


@pytest.mark.parametrize("consciousness", [1, 2])
def test_coma_is_rejected_when_consciousness_is_not_0_r_asm_2(consciousness):
    items = full_marks() | {"B3.9": consciousness}
    errors = item_errors(items, coma=True)
    assert list(errors) == ["coma"]
    assert "B3.9" in errors["coma"] and "consciousness" in errors["coma"]


def test_coma_is_not_judged_again_when_consciousness_is_itself_invalid_r_asm_3():
    items = full_marks()
    del items["B3.9"]
    assert list(item_errors(items, coma=True)) == ["B3.9"]
