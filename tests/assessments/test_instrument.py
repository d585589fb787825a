"""The GB/T 42195-2022 instrument as data (SPEC §4). No database needed."""

from dataclasses import replace

import pytest

from assessments.instrument import (
    CONSCIOUSNESS_ITEM,
    DOMAINS,
    DOMAINS_BY_CODE,
    ITEMS,
    ITEMS_BY_CODE,
    MAX_TOTAL,
    InstrumentError,
    Level,
    check_instrument,
)

# SPEC §4, written out again by hand so a slip in the data shows up as a difference.
SPEC_RANGES = {
    "B1.1": 4,  # eating
    "B1.2": 4,  # grooming
    "B1.3": 4,  # bathing
    "B1.4": 4,  # upper-body dressing
    "B1.5": 4,  # lower-body dressing
    "B1.6": 4,  # bladder control
    "B1.7": 4,  # bowel control
    "B1.8": 4,  # toileting
    "B2.1": 4,  # bed mobility
    "B2.2": 4,  # bed–chair transfer
    "B2.3": 4,  # level walking
    "B2.4": 3,  # stairs
    "B3.1": 4,  # time orientation
    "B3.2": 4,  # place orientation
    "B3.3": 4,  # person orientation
    "B3.4": 4,  # memory
    "B3.5": 4,  # comprehension
    "B3.6": 4,  # expression
    "B3.7": 1,  # aggressive behaviour
    "B3.8": 1,  # depressive symptoms
    "B3.9": 2,  # consciousness
    "B4.1": 2,  # vision
    "B4.2": 2,  # hearing
    "B4.3": 4,  # running daily affairs
    "B4.4": 3,  # going out by transport
    "B4.5": 4,  # social interaction
}


def test_instrument_has_26_items_in_4_domains():
    assert len(ITEMS) == 26
    assert [domain.code for domain in DOMAINS] == ["B1", "B2", "B3", "B4"]


def test_item_codes_follow_the_order_of_spec_section_4():
    assert [item.code for item in ITEMS] == list(SPEC_RANGES)
    assert list(ITEMS_BY_CODE) == list(SPEC_RANGES)


def test_each_item_belongs_to_the_domain_its_code_names():
    for item in ITEMS:
        assert item.code.split(".")[0] == item.domain


@pytest.mark.parametrize(("code", "maximum"), SPEC_RANGES.items())
def test_each_item_is_scored_from_zero_to_its_spec_maximum(code, maximum):
    item = ITEMS_BY_CODE[code]
    assert (item.min_points, item.max_points) == (0, maximum)


def test_domain_maxima_are_32_15_28_15_and_the_total_is_90():
    assert {code: d.max_points for code, d in DOMAINS_BY_CODE.items()} == {
        "B1": 32,
        "B2": 15,
        "B3": 28,
        "B4": 15,
    }
    assert MAX_TOTAL == 90
    assert sum(item.max_points for item in ITEMS) == 90


def test_every_item_has_one_level_per_point_highest_first():
    for item in ITEMS:
        points = [level.points for level in item.levels]
        assert points == list(range(item.max_points, -1, -1)), item.code


def test_every_item_and_level_has_a_chinese_and_an_english_text():
    for item in ITEMS:
        assert item.name_zh.strip() and item.name_en.strip(), item.code
        for level in item.levels:
            assert level.label_zh.strip(), (item.code, level.points)
            assert level.label_en.strip(), (item.code, level.points)


def test_level_descriptions_differ_within_an_item():
    for item in ITEMS:
        assert len({level.label_zh for level in item.levels}) == len(item.levels)
        assert len({level.label_en for level in item.levels}) == len(item.levels)


def test_consciousness_is_b3_9_and_its_zero_is_stupor_or_coma():
    consciousness = ITEMS_BY_CODE[CONSCIOUSNESS_ITEM]
    assert CONSCIOUSNESS_ITEM == "B3.9"
    assert consciousness.name_en == "Consciousness"
    assert "coma" in consciousness.levels[-1].label_en.lower()
    assert "昏迷" in consciousness.levels[-1].label_zh


def test_names_and_labels_are_chinese_for_zh_hans_and_english_otherwise():
    eating = ITEMS_BY_CODE["B1.1"]
    assert eating.name("zh-hans") == "进食"
    assert eating.name("en") == "Eating"
    assert eating.name("fr") == "Eating"
    assert eating.levels[0].label("zh-hans") == eating.levels[0].label_zh
    assert eating.levels[0].label("en") == eating.levels[0].label_en
    assert DOMAINS_BY_CODE["B1"].name("zh-hans") == "自理能力"
    assert DOMAINS_BY_CODE["B1"].name("en") == "Self-care"


def test_the_shipped_instrument_passes_its_own_check():
    check_instrument()


def _with_item(code, **changes):
    return tuple(replace(item, **changes) if item.code == code else item for item in ITEMS)


def test_check_fails_loudly_when_an_item_maximum_no_longer_adds_up():
    stairs = ITEMS_BY_CODE["B2.4"]
    typo = _with_item(
        "B2.4",
        max_points=4,
        levels=(Level(4, "多", "extra"), *stairs.levels),
    )
    with pytest.raises(InstrumentError, match="B2: items add up to 16, not 15"):
        check_instrument(items=typo)


def test_check_fails_loudly_when_a_level_is_skipped():
    eating = ITEMS_BY_CODE["B1.1"]
    typo = _with_item("B1.1", levels=eating.levels[:2] + eating.levels[3:])
    with pytest.raises(InstrumentError, match=r"B1\.1: levels \[4, 3, 1, 0\]"):
        check_instrument(items=typo)


def test_check_fails_loudly_when_a_level_label_is_blank():
    vision = ITEMS_BY_CODE["B4.1"]
    typo = _with_item("B4.1", levels=(Level(2, "  ", "Reads"), *vision.levels[1:]))
    with pytest.raises(InstrumentError, match=r"B4\.1: level 2 lacks a label"):
        check_instrument(items=typo)


def test_check_fails_loudly_when_the_domains_do_not_add_up_to_the_total():
    with pytest.raises(InstrumentError, match="domains add up to 90, not 100"):
        check_instrument(max_total=100)


def test_check_fails_loudly_when_items_are_out_of_order():
    swapped = (ITEMS[1], ITEMS[0], *ITEMS[2:])
    with pytest.raises(InstrumentError, match="not numbered in order"):
        check_instrument(items=swapped)
