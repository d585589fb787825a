"""Checking item scores and turning them into a grade (SPEC §4, R-ASM-1 to R-ASM-3).

Pure functions over a mapping of item code → points, as stored in `Assessment.items`. Messages
are translated (English source) in the language active when they are made.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from assessments.instrument import (
    CONSCIOUSNESS_ITEM,
    DOMAINS,
    ITEMS,
    ITEMS_BY_CODE,
    MAX_TOTAL,
)

# R-ASM-1: the lowest total of each grade, best grade first.
GRADE_THRESHOLDS: tuple[tuple[int, int], ...] = (
    (90, 0),
    (66, 1),
    (46, 2),
    (30, 3),
    (0, 4),
)

# R-ASM-2: a person in a coma is graded at least this, whatever the total.
COMA_MIN_GRADE = 3

GRADE_LABELS: dict[int, tuple[str, str]] = {
    0: ("能力完好", "intact"),
    1: ("轻度失能", "mild"),
    2: ("中度失能", "moderate"),
    3: ("重度失能", "severe"),
    4: ("完全失能", "complete"),
}


def _is_whole_number(value: object) -> bool:
    # bool is a subclass of int, but a ticked box is not a score; floats (even 3.0) and
    # numeric strings are refused too, so the stored items are exactly what was scored.
    return isinstance(value, int) and not isinstance(value, bool)


def item_errors(items: Mapping[str, object], *, coma: bool) -> dict[str, str]:
    """R-ASM-3: every problem with an assessment's items, keyed by item code.

    An empty result means the items may be completed. Missing items (absent or None), values
    that are not whole numbers, values outside the item's range and unknown item codes are all
    reported. R-ASM-2: the coma box may be ticked only when consciousness (B3.9) is 0; that
    error is keyed "coma".
    """
    errors: dict[str, str] = {}
    for item in ITEMS:
        value = items.get(item.code)
        allowed = f"{item.min_points}–{item.max_points}"
        if value is None:
            errors[item.code] = _("%(item)s: missing") % {"item": item.code}
        elif not _is_whole_number(value):
            errors[item.code] = _("%(item)s: %(value)s is not a whole number %(range)s") % {
                "item": item.code,
                "value": f"{value!r:.20}",
                "range": allowed,
            }
        elif not item.min_points <= value <= item.max_points:
            errors[item.code] = _("%(item)s: %(value)s is outside %(range)s") % {
                "item": item.code,
                "value": value,
                "range": allowed,
            }

    for code in items:
        if code not in ITEMS_BY_CODE:
            errors[code] = _("%(item)s: unknown item") % {"item": f"{code!s:.20}"}

    # Only judged when consciousness itself is valid; otherwise its own error says enough.
    consciousness = items.get(CONSCIOUSNESS_ITEM)
    if coma and CONSCIOUSNESS_ITEM not in errors and consciousness != 0:
        errors["coma"] = _("coma: allowed only when %(item)s (consciousness) is 0") % {"item": CONSCIOUSNESS_ITEM}
    return errors


def domain_totals(items: Mapping[str, int]) -> dict[str, int]:
    """Points per domain, {"B1": …, "B4": …} (SPEC §4). Assumes `item_errors` found nothing."""
    totals = {domain.code: 0 for domain in DOMAINS}
    for item in ITEMS:
        totals[item.domain] += items[item.code]
    return totals


def total_points(items: Mapping[str, int]) -> int:
    """The assessment total, 0–90 (SPEC §4). Assumes `item_errors` found nothing."""
    return sum(domain_totals(items).values())


def grade_for(total: int, *, coma: bool) -> int:
    """R-ASM-1: the grade 0 (intact) to 4 (complete) for a total; R-ASM-2: coma → at least 3."""
    if not 0 <= total <= MAX_TOTAL:
        raise ValueError(f"total {total} is outside 0–{MAX_TOTAL}")
    grade = next(grade for lowest, grade in GRADE_THRESHOLDS if total >= lowest)
    if coma:
        grade = max(grade, COMA_MIN_GRADE)
    return grade
