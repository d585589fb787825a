"""The public lookup's positions from a per-process picture of each home's queue (issue 18).

`admissions.selectors.position_for_entry` is what R-Q-4 means: two counts in the database over the
home's open entries, and R-Q-5's admissions count, three queries a home. Every answer at one home
reads the same rows, so the lookup keeps, per process and per (home, queue version), what those
queries read: each open entry's sort key parts (R-Q-2: channel, base score, queued_at, reference),
its care level and whether its application is on hold, and the home's admissions of the last 365
days by care level (R-Q-5). A position is then a bisect in the keys sorted for the moment asked.

Never stale: the version moves in the transaction of every change to the queue, its applications'
states or the home's admissions (services/queue_versions.py), and the caller reads it before this
picture is built, so a picture is never older than its version. Scores move with time (R-Q-3); the
sorted keys are kept for the *window* between two of the home's ticks (the seconds at which some
entry gains a waiting point), within which no score moves. `tests/admissions/test_lookup_positions.py`
checks the answers against `position_for_entry` on a queue with ties, holds and both care levels.
"""

from __future__ import annotations

import bisect
import datetime as dt
from array import array
from dataclasses import dataclass

from admissions.models import ON_HOLD_STATES, QueueEntry, QueueEntryStatus
from admissions.policy import PolicyInForce, PolicyParameters
from admissions.selectors import (
    Position,
    admissions_by_care_level,
    estimated_wait_from,
    position_for_entry,
    score_breakdown,
    waiting_points,
)

PICTURES_KEPT = 400  # (home, version) pictures per process; the largest home's is ~5,000 rows


@dataclass(frozen=True)
class _Rows:
    """One home's open entries at one queue version, as the position counts read them."""

    channel_rank: tuple[int, ...]
    base_score: tuple[int, ...]
    queued_epoch: tuple[int, ...]
    queued_at: tuple[dt.datetime, ...]
    reference: tuple[str, ...]
    care_level: tuple[str, ...]
    on_hold: tuple[bool, ...]


@dataclass(frozen=True)
class _Sorted:
    """The rows in queue order (R-Q-2) for one window of time, with running counts of those ahead."""

    keys: list[tuple]
    same_care_level: dict[str, array]  # care level → how many of that level among the first i
    on_hold: array  # how many on hold among the first i


_rows: dict[tuple[int, int, int], _Rows] = {}
_sorted: dict[tuple, _Sorted] = {}
_admissions: dict[tuple[int, int, dt.date], dict[str, int]] = {}
_phases: dict[tuple[int, int, int], array] = {}
_asked: dict[tuple[int, int, int], bool] = {}


def forget() -> None:
    """For the tests, whose rolled-back databases give a (home, version) pair again."""
    for store in (_rows, _sorted, _admissions, _phases, _asked):
        store.clear()


def _kept(store: dict, key, build):
    value = store.get(key)
    if value is None:
        if len(store) >= PICTURES_KEPT:
            store.clear()
        value = store[key] = build()
    return value


def _full_periods(now: int, epoch: int, period: int) -> int:
    """As the database divides (`_score_expression`): integer division truncating toward zero."""
    elapsed = now - epoch
    return elapsed // period if elapsed >= 0 else -((-elapsed) // period)


def home_rows(facility_id: int, version: int, period: int) -> _Rows:
    """The home's open entries at this version (one query, once per process per version)."""

    def build() -> _Rows:
        rows = list(
            QueueEntry.objects.filter(facility_id=facility_id, status=QueueEntryStatus.OPEN)
            .order_by()
            .values_list(
                "channel_rank",
                "base_score",
                "queued_epoch",
                "queued_at",
                "application__reference",
                "care_level",
                "application__state",
            )
        )
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        return _Rows(
            channel_rank=columns[0],
            base_score=columns[1],
            queued_epoch=columns[2],
            queued_at=columns[3],
            reference=columns[4],
            care_level=columns[5],
            on_hold=tuple(state in ON_HOLD_STATES for state in columns[6]),
        )

    return _kept(_rows, (facility_id, version, period), build)


def home_phases(facility_id: int, version: int, period: int) -> array:
    """Where in the period each open entry of the home gains its points, sorted (one narrow query,
    once per process per version)."""

    def build() -> array:
        epochs = QueueEntry.objects.filter(facility_id=facility_id, status=QueueEntryStatus.OPEN).values_list(
            "queued_epoch", flat=True
        )
        return array("q", sorted({epoch % period for epoch in epochs}))

    return _kept(_phases, (facility_id, version, period), build)


def next_tick(phases: array, period: int, now: int) -> int | None:
    """The next second (after `now`) at which an open entry of the home gains a waiting point
    (R-Q-3: +1 at every full period since `queued_at`, as `waiting_points` counts whole seconds)."""
    if not phases:
        return None
    into_period = now % period
    i = bisect.bisect_right(phases, into_period)
    return now - into_period + (phases[i] if i < len(phases) else period + phases[0])


def _sort_key(channel_rank: int, score: int, queued_at: dt.datetime, reference: str) -> tuple:
    """R-Q-2: channel, then the higher score, then the earlier queued_at, then the reference
    (`admissions.selectors.QUEUE_ORDER`)."""
    return (channel_rank, -score, queued_at, reference)


def _sorted_rows(rows: _Rows, key: tuple, *, now: int, params: PolicyParameters) -> _Sorted:
    def build() -> _Sorted:
        period, points = params.waiting_period_days * 86400, params.waiting_points
        order = sorted(
            (
                _sort_key(
                    rows.channel_rank[i],
                    rows.base_score[i] + _full_periods(now, rows.queued_epoch[i], period) * points,
                    rows.queued_at[i],
                    rows.reference[i],
                ),
                rows.care_level[i],
                rows.on_hold[i],
            )
            for i in range(len(rows.reference))
        )
        levels = {level for _key, level, _held in order}
        same = {level: array("l", [0]) for level in levels}
        held = array("l", [0])
        for _key, level, is_held in order:
            for other, counts in same.items():
                counts.append(counts[-1] + (other == level))
            held.append(held[-1] + is_held)
        return _Sorted(keys=[k for k, _level, _held in order], same_care_level=same, on_hold=held)

    return _kept(_sorted, key, build)


def positions_at(
    entries: list[QueueEntry],
    *,
    reference: str,
    versions: dict[int, int],
    now: dt.datetime,
    policy: PolicyInForce,
) -> list[Position]:
    """R-Q-4 and R-Q-5 for these open entries of one application, as `position_for_entry` counts
    them: from the pictures of their homes at the versions the caller read first, or, the first
    time a home is asked at a version, by `position_for_entry` itself."""
    params = policy.parameters
    period = params.waiting_period_days * 86400
    seconds = int(now.timestamp())
    positions = []
    for entry in entries:
        version = versions.get(entry.facility_id, -1)
        home = (entry.facility_id, version, period)
        score = entry.base_score + waiting_points(queued_at=entry.queued_at, now=now, params=params)
        if home in _rows or home in _asked:
            # Asked before at this version: the picture pays for itself from the second lookup.
            rows = home_rows(*home)
            window = (*home, params.waiting_points, next_tick(home_phases(*home), period, seconds))
            ordered = _sorted_rows(rows, window, now=seconds, params=params)
            ahead = bisect.bisect_left(ordered.keys, _sort_key(entry.channel_rank, score, entry.queued_at, reference))
            same_counts = ordered.same_care_level.get(entry.care_level)
            same, on_hold = (same_counts[ahead] if same_counts is not None else 0), ordered.on_hold[ahead]
        else:
            # The first lookup at this version counts in the database, as cheap as one lookup can.
            _kept(_asked, home, lambda: True)
            counted = position_for_entry(entry, now=now, policy=policy, with_wait=False)
            ahead, same, on_hold = counted.position - 1, counted.ahead_same_care_level, counted.ahead_on_hold
        admissions = _kept(
            _admissions,
            (entry.facility_id, version, now.date()),
            lambda facility_id=entry.facility_id: admissions_by_care_level(facility_id=facility_id, today=now.date()),
        )
        positions.append(
            Position(
                entry=entry,
                position=ahead + 1,
                ahead_same_care_level=same,
                ahead_on_hold=on_hold,
                score=score,
                score_breakdown=score_breakdown(entry, now=now, params=params),
                estimated_wait=estimated_wait_from(admissions=admissions.get(entry.care_level, 0), ahead=same),
            )
        )
    return positions
