"""Moved to core/actor.py (issue 12). This name stays only so branches written before the move still
import; new code imports core.actor. Remove once no branch in flight uses it."""

from core.actor import SYSTEM, Actor  # noqa: F401
