"""Checking the allocation decisions: the plain chain of R-ALLOC-2, the keyed chain of R-VER-1, the
public chain of R-VER-2 and the signed checkpoints of R-VER-3. The work is in admissions/chain.py."""

from __future__ import annotations

from admissions.chain import ChainBreak, first_break, first_decision_break

__all__ = ["ChainBreak", "first_chain_break"]


def first_chain_break(facility_id: int | None = None) -> ChainBreak | None:
    """The first decision (in facility, then sequence order) or checkpoint that does not hold.
    With a facility, only that facility's decisions are walked."""
    if facility_id is not None:
        return first_decision_break(facility_id)
    return first_break()
