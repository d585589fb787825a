"""Selectors for what anyone may see without an account (SPEC §8): the city's homes with their
public figures, and each home's queue board with its recent allocation decisions (R-PUB-4).

Built on the selectors in admissions/selectors.py, so the board shows exactly the order and the
scores the allocation uses. References are masked (2026-00**23), and nothing else about a person
(no name, no ID number, no district) leaves here. The REST API and the family portal both call
these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone

from facilities.models import Facility, InPageLanguage

from .dashboard import facility_figures
from .models import AllocationDecision, QueueEntry, QueueEntryStatus
from .models.applications import CHANNEL_RANK
from .selectors import policy_in_force, queue_for_facility

RECENT_DECISIONS = 20
CHANNEL_OF_RANK = {rank: channel for channel, rank in CHANNEL_RANK.items()}


def mask_reference(reference: str) -> str:
    """2026-000023 → 2026-00**23: the first 7 and the last 2 characters kept (R-PUB-4)."""
    if len(reference) <= 9:
        return "*" * len(reference)
    return reference[:7] + "*" * (len(reference) - 9) + reference[-2:]


# --- the city's homes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicFacility(InPageLanguage):
    code: str
    name: str
    district: str
    district_name: str
    level: str
    address: str
    phone: str
    accepting_applications: bool
    beds_in_service: int
    vacant: int
    queue_length: int
    nursing_share: float | None
    name_en: str = ""
    address_en: str = ""


def public_facilities(*, language: str = "zh-hans") -> list[PublicFacility]:
    """Every home with its public figures, in three queries whatever the number of homes."""
    policy = policy_in_force()
    queues = dict(
        QueueEntry.objects.filter(status=QueueEntryStatus.OPEN)
        .values("facility_id")
        .annotate(n=Count("id"))
        .values_list("facility_id", "n")
    )
    out = []
    for figures in facility_figures(Facility.objects.select_related("district").order_by("code"), policy=policy):
        facility = figures.facility
        out.append(
            PublicFacility(
                code=facility.code,
                name=facility.name,
                district=facility.district.code,
                district_name=facility.district.name(language),
                level=facility.level,
                address=facility.address,
                phone=facility.phone,
                accepting_applications=facility.accepting_applications,
                beds_in_service=figures.in_service,
                vacant=figures.vacant,
                queue_length=queues.get(facility.pk, 0),
                nursing_share=figures.quota.nursing_share,
                name_en=facility.name_en,
                address_en=facility.address_en,
            )
        )
    return out


# --- one home's board (R-PUB-4) ---------------------------------------------------------------------
@dataclass(frozen=True)
class BoardEntry:
    rank: int
    reference_masked: str
    channel: str
    care_level: str
    score: int
    queued_month: str  # YYYY-MM


@dataclass(frozen=True)
class BoardDecisionRow:
    reference_masked: str
    rank: int
    score: int
    reason: str | None = None


@dataclass(frozen=True)
class BoardDecision:
    sequence: int
    made_at: dt.datetime
    bed_code: str
    bed_type: str
    trigger: str
    policy_version: int
    chosen: BoardDecisionRow | None
    skipped: list[BoardDecisionRow]
    quota_before: dict[str, int]
    quota_after: dict[str, int]
    public_hash: str | None = None  # R-VER-2: the decision's place in the public log
    prev_public_hash: str | None = None


@dataclass(frozen=True)
class Board:
    facility: str
    facility_name: str
    entries: list[BoardEntry]
    recent_decisions: list[BoardDecision]


def _decision_row(row: dict) -> BoardDecisionRow:
    return BoardDecisionRow(
        reference_masked=mask_reference(str(row.get("reference", ""))),
        rank=int(row.get("rank", 0)),
        score=int(row.get("score", 0)),
        reason=row.get("reason"),
    )


def _empty_signature(decision: AllocationDecision):
    """What makes two empty decisions "the same" (R-ALLOC-2): the (reference, reason) pairs and the
    quota figures; None for a decision that chose someone."""
    if decision.chosen is not None:
        return None
    pairs = sorted((str(r.get("reference")), str(r.get("reason"))) for r in decision.skipped)
    return (pairs, decision.quota_before, decision.quota_after)


def _each_bed_once(decisions) -> list[AllocationDecision]:
    """§15, R-ALLOC-2: a bed that stayed empty shows once. Since confirmation rows, a repeated empty
    attempt writes no decision; decisions written before them repeat, and of a run of such repeats
    for one bed only the newest is shown."""
    shown: list[AllocationDecision] = []
    newer: dict[int, object] = {}  # bed → the signature of its newer decision already seen
    for decision in decisions:
        signature = _empty_signature(decision)
        if signature is not None and newer.get(decision.bed_id) == signature:
            continue
        newer[decision.bed_id] = signature
        shown.append(decision)
    return shown


def public_board(facility: Facility, *, now: dt.datetime | None = None) -> Board:
    """Every open entry in queue order (R-Q-2) and the last decisions, references masked."""
    now = now or timezone.now()
    rows = queue_for_facility(facility, now=now).values(
        "application__reference", "channel_rank", "care_level", "score", "queued_at"
    )
    entries = [
        BoardEntry(
            rank=rank,
            reference_masked=mask_reference(row["application__reference"]),
            channel=CHANNEL_OF_RANK[row["channel_rank"]],
            care_level=row["care_level"],
            score=row["score"],
            queued_month=timezone.localtime(row["queued_at"]).strftime("%Y-%m"),
        )
        for rank, row in enumerate(rows, start=1)
    ]
    decisions = _each_bed_once(
        AllocationDecision.objects.filter(facility=facility)
        .select_related("bed")
        .order_by("-made_at", "-sequence")[: RECENT_DECISIONS * 3]
    )[:RECENT_DECISIONS]
    recent = [
        BoardDecision(
            sequence=d.sequence,
            made_at=d.made_at,
            bed_code=d.bed.code,
            bed_type=d.bed.bed_type,
            trigger=d.trigger,
            policy_version=d.policy_version,
            chosen=_decision_row(d.chosen) if d.chosen else None,
            skipped=[_decision_row(row) for row in d.skipped],
            quota_before=d.quota_before,
            quota_after=d.quota_after,
            public_hash=d.public_hash,
            prev_public_hash=d.prev_public_hash,
        )
        for d in decisions
    ]
    return Board(facility=facility.code, facility_name=facility.name, entries=entries, recent_decisions=recent)
