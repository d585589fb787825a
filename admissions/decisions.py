"""Checking the hash chain of allocation decisions (R-ALLOC-2)."""

from __future__ import annotations

from dataclasses import dataclass

from admissions.models import AllocationDecision
from admissions.services.allocation import decision_hash, decision_payload


@dataclass(frozen=True)
class ChainBreak:
    decision: AllocationDecision
    problem: str


def first_chain_break(facility_id: int | None = None) -> ChainBreak | None:
    """Walk every facility's chain in sequence order; return the first decision whose stored hash
    does not match its content, or whose link to the one before is wrong."""
    decisions = AllocationDecision.objects.order_by("facility_id", "sequence")
    if facility_id is not None:
        decisions = decisions.filter(facility_id=facility_id)
    previous: AllocationDecision | None = None
    for decision in decisions.iterator(chunk_size=1000):
        if previous is None or previous.facility_id != decision.facility_id:
            expected_previous_hash, expected_sequence = None, 1
        else:
            expected_previous_hash, expected_sequence = previous.hash, previous.sequence + 1
        if decision.sequence != expected_sequence:
            return ChainBreak(decision, f"sequence {decision.sequence}, expected {expected_sequence}")
        if decision.previous_hash != expected_previous_hash:
            return ChainBreak(decision, "previous_hash does not match the decision before it")
        if decision.hash != decision_hash(decision_payload(decision)):
            return ChainBreak(decision, "hash does not match the decision's content")
        previous = decision
    return None
