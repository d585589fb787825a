"""The policy parameters of SPEC §9: their defaults, their validation, and the version in force.

This is the one place a parameter is named. A stored Policy version holds a JSON object of
overrides; anything it leaves out takes the default below.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

DEFAULT_CHANNEL_MAPPING = {
    "tekun": "special",
    "dibao": "special",
    "low_income": "special",
    "youfu": "priority",
    "family_planning_special": "priority",
    "model_worker": "priority",
    "heroic_deed": "priority",
}

# R-Q-3 defaults.
DEFAULT_SCORE_WEIGHTS = {
    "care": {"0": 0, "1": 10, "2": 20, "3": 30, "4": 40},
    # [lowest age, points], checked from the top: 100+ → 10, 90–99 → 8, 80–89 → 5, 70–79 → 2.
    "age": [[100, 10], [90, 8], [80, 5], [70, 2]],
    "family": {"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 5},
    "waiting": {"points": 1, "period_days": 30},
}


class PolicyError(ValueError):
    """A parameter is missing, of the wrong type or out of range; `errors` maps names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# The parameters that must be at least 1 (a limit of 0 days or choices would stop the process); the
# API's policy serializer reads the same table, so the OpenAPI document gives the same minimum.
POSITIVE_PARAMETERS = {
    name: 1
    for name in (
        "max_choices",
        "offer_response_working_days",
        "admission_working_days",
        "refusal_limit",
        "assessment_valid_days",
        "retention_years",
        "vacancy_alert_days",
        "out_of_service_alert_days",
        "review_decision_working_days",
        "reconfirm_interval_days",
        "reconfirm_grace_days",
    )
}


@dataclass(frozen=True)
class PolicyParameters:
    min_age: int = 60
    max_choices: int = 2
    max_city_level_choices: int = 1
    nursing_target: Decimal = Decimal("0.78")
    nursing_min_grade: int = 2
    centenarian_age: int = 100  # R-APP-8: aged 100+ on the approval date → priority at least
    # Deep copies: a caller that edits its parameters' weights must never change the defaults.
    channel_mapping: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_CHANNEL_MAPPING))
    score_weights: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_SCORE_WEIGHTS))
    assessment_valid_days: int = 365
    reassessment_reminder_days: int = 30
    offer_response_working_days: int = 5
    admission_working_days: int = 5
    refusal_limit: int = 3
    refusal_window_days: int = 365
    bar_days: int = 365
    # R-PRIV-3: a person whose applications have all been final this long is anonymised.
    retention_years: int = 5
    # R-WATCH-1: the watchdog report names beds vacant or out of service for longer than these.
    vacancy_alert_days: int = 14
    out_of_service_alert_days: int = 30
    admission_extension_working_days: int = 5  # R-OFF-7
    admission_grace_working_days: int = 2  # R-OFF-7
    review_request_days: int = 30  # R-ASM-6: how long after an outcome a re-review may be asked
    review_decision_working_days: int = 20  # R-ASM-6: a re-review is decided within this, from the request
    reconfirm_interval_days: int = 365  # R-CHG-3: asked this long after queued_at and each confirmation
    reconfirm_grace_days: int = 30  # R-CHG-3: suspended as not_reconfirmed when this runs out
    couples_together: bool = True  # R-CPL-1: with it off, new links may only be either_first

    # --- derived helpers (one place for each rule that reads a parameter) -----------------------
    def care_level_for_grade(self, grade: int) -> str:
        """R-CARE-1."""
        return "nursing" if grade >= self.nursing_min_grade else "self_care"

    def channel_of(self, *, verified_codes: list[str], age: int | None) -> tuple[str, str | None]:
        """R-APP-8: the highest channel any verified category gives; aged `centenarian_age` or more on
        the approval date → priority at least. Returns the channel and why (a category code,
        "centenarian" or None). A code the mapping no longer names gives the ordinary channel."""
        candidates: list[tuple[str, str | None]] = [("ordinary", None)]
        candidates += [(self.channel_mapping.get(code, "ordinary"), code) for code in verified_codes]
        if age is not None and age >= self.centenarian_age:
            candidates.append(("priority", "centenarian"))
        order = {"special": 0, "priority": 1, "ordinary": 2}
        return min(candidates, key=lambda c: order[c[0]])

    def refusal_limit_reached(self, refusals: int) -> bool:
        """R-OFF-5: with this many refusals in the window the application is removed and the person
        barred. The one comparison: the offers service (after a refusal), a withdrawal with a live
        offer (counting it) and the confirmation pages (saying what one more would do) ask here."""
        return refusals >= self.refusal_limit

    def care_points(self, grade: int) -> int:
        return int(self.score_weights["care"][str(grade)])

    def age_points(self, age: int) -> int:
        for lowest, points in self.score_weights["age"]:
            if age >= lowest:
                return int(points)
        return 0

    def family_points(self, *, no_spouse_no_children: bool, lives_alone: bool, spouse_resident: bool) -> int:
        weights = self.score_weights["family"]
        return (
            (weights["no_spouse_no_children"] if no_spouse_no_children else 0)
            + (weights["lives_alone"] if lives_alone else 0)
            + (weights["spouse_resident"] if spouse_resident else 0)
        )

    @property
    def waiting_points(self) -> int:
        return int(self.score_weights["waiting"]["points"])

    @property
    def waiting_period_days(self) -> int:
        return int(self.score_weights["waiting"]["period_days"])

    def to_json(self) -> dict:
        data = asdict(self)
        data["nursing_target"] = str(self.nursing_target)
        return data

    @classmethod
    def from_json(cls, data: dict) -> PolicyParameters:
        """Validate a stored or submitted set of parameters; unknown names and bad values raise."""
        if not isinstance(data, dict):
            raise PolicyError({"parameters": _("must be an object")})
        known = {f.name: f for f in fields(cls)}
        errors: dict[str, str] = {}
        values: dict = {}
        for name, value in data.items():
            if name not in known:
                errors[name] = _("is not a policy parameter")
                continue
            values[name] = value
        defaults = cls()
        for name in (
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
        ):
            if name in values:
                value = values[name]
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
                    errors[name] = _("must be a whole number from %(low)s to %(high)s") % {"low": 0, "high": 100_000}
        for name, low in POSITIVE_PARAMETERS.items():
            if name in values and name not in errors and values[name] < low:
                errors[name] = _("must be at least %(low)s") % {"low": low}
        if "nursing_min_grade" in values and "nursing_min_grade" not in errors and values["nursing_min_grade"] > 4:
            errors["nursing_min_grade"] = _("must be a grade from 0 to 4")
        if "couples_together" in values and not isinstance(values["couples_together"], bool):
            errors["couples_together"] = _("must be true or false")
        if "nursing_target" in values:
            try:
                target = Decimal(str(values["nursing_target"]))
                if isinstance(values["nursing_target"], bool) or not Decimal(0) <= target <= Decimal(1):
                    raise InvalidOperation
                values["nursing_target"] = target.quantize(Decimal("0.001"))
            except (InvalidOperation, ValueError):
                errors["nursing_target"] = _("must be a number from 0 to 1")
        if "channel_mapping" in values:
            mapping = values["channel_mapping"]
            if (
                not isinstance(mapping, dict)
                or set(mapping) != set(DEFAULT_CHANNEL_MAPPING)
                or not all(v in ("special", "priority", "ordinary") for v in mapping.values())
            ):
                errors["channel_mapping"] = _(
                    "must map every category (%(categories)s) to special, priority or ordinary"
                ) % {"categories": ", ".join(DEFAULT_CHANNEL_MAPPING)}
        if "score_weights" in values:
            problem = _score_weights_problem(values["score_weights"])
            if problem:
                errors["score_weights"] = problem
        if not errors:
            merged = {**asdict(defaults), **values}
            # R-PRIV-3: anonymising a person must not come before their refusals stop counting
            # (R-OFF-5) or their bar ends (R-APP-6), or both would be forgotten too early.
            kept_days = merged["retention_years"] * 365
            if kept_days <= merged["refusal_window_days"] or kept_days <= merged["bar_days"]:
                errors["retention_years"] = _(
                    "× 365 (%(days)s days) must be more than refusal_window_days (%(window)s) and bar_days (%(bar)s)"
                ) % {"days": kept_days, "window": merged["refusal_window_days"], "bar": merged["bar_days"]}
        if errors:
            raise PolicyError(errors)
        return cls(**{**asdict(defaults), **values})


def _score_weights_problem(weights: object) -> str | None:
    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000

    if not isinstance(weights, dict) or set(weights) != {"care", "age", "family", "waiting"}:
        return _("must have care, age, family and waiting")
    care, age, family, waiting = weights["care"], weights["age"], weights["family"], weights["waiting"]
    if not isinstance(care, dict) or set(care) != {"0", "1", "2", "3", "4"} or not all(map(whole, care.values())):
        return _("care must give whole points for grades 0 to 4")
    if (
        not isinstance(age, list)
        or not all(isinstance(row, list) and len(row) == 2 and whole(row[0]) and whole(row[1]) for row in age)
        or [row[0] for row in age] != sorted((row[0] for row in age), reverse=True)
    ):
        return _("age must be a list of [lowest age, points], highest age first")
    if (
        not isinstance(family, dict)
        or set(family) != {"no_spouse_no_children", "lives_alone", "spouse_resident"}
        or not all(map(whole, family.values()))
    ):
        return _("family must give whole points for no_spouse_no_children, lives_alone and spouse_resident")
    if (
        not isinstance(waiting, dict)
        or set(waiting) != {"points", "period_days"}
        or not whole(waiting["points"])
        or not whole(waiting["period_days"])
        or waiting["period_days"] < 1
    ):
        return _("waiting must give whole points per period_days (at least 1 day)")
    return None


@dataclass(frozen=True)
class PolicyInForce:
    version: int
    effective_from: dt.date
    parameters: PolicyParameters
