"""The outbox's hand-over: after a transaction commits, each notification and webhook delivery it wrote
is queued for sending (Celery). The rows are the truth; the hand-over only makes them go sooner, and
the outbox sweep (admissions.tasks.redispatch_outbox) sends whatever was not handed over.

The senders are registered by admissions.tasks (imported when the app is ready), so the services never
import the tasks that call them. `outbox_held()` is the public switch that keeps everything on this side:
the rows are written, nothing is handed over. The policy simulator runs under it (simulation/simulator.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# kind → (send one row by id, what the log says when the broker refuses it)
_senders: dict[str, tuple[Callable[[int], None], str]] = {}
# While held: what to tell of each hand-over that did not happen (innermost last).
_holds: list[Callable[[str], None]] = []


def outbox_sender_register(kind: str, send: Callable[[int], None], *, refused: str) -> None:
    """`send(id)` queues one row of `kind`; `refused` is logged (with the id) when it raises."""
    _senders[kind] = (send, refused)


def outbox_dispatch(kind: str, ids: list[int]) -> None:
    """Hand these rows over for sending, unless held. A broker that is down loses nothing: the row
    stays pending and the sweep sends it."""
    if _holds:
        _holds[-1](kind)
        return
    send, refused = _senders[kind]
    for row_id in ids:
        try:
            send(row_id)
        except Exception:  # the broker is down: the row stays pending and the sweep sends it later
            logger.exception(refused, row_id)


@contextmanager
def outbox_held(on_held: Callable[[str], None] = lambda kind: None) -> Iterator[None]:
    """Within: notifications and webhook deliveries are written but never handed over;
    `on_held(kind)` is told of each hand-over held back."""
    _holds.append(on_held)
    try:
        yield
    finally:
        _holds.remove(on_held)
