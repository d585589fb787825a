"""schemathesis hooks for `.ci/schemathesis` (issue 16): a pool of targets per one-shot act.

An act that moves what it acts on (withdraw an application, accept an offer, take a bed out of
service, register a person, link a couple, ...) succeeds once on a target; every later request on
that target is refused for its state (409) or its rule (422). With one target per act, schemathesis
saw one success and then nothing but refusals, and reported the operation's generated data as
"mostly rejected". `.ci/fuzz_values.py` prepares a pool of targets per operation, each in the state
the act needs, and writes them to the JSON file named by FUZZ_POOLS:

    {"POST /api/v1/applications/{reference}/withdraw/": [{"path.reference": "2026-000012"}, ...],
     "POST /api/v1/applications/": [{"body.applicant.id_number": "...", "body.applicant.sex": "F", ...}]}

Before each request meant to be valid, the operation's current target is put in: its path
parameters and body fields (a request meant to be invalid is left as generated). After a success
(2xx) the next target is used; the last one stays once the pool runs out. A target that refuses a
valid request (409 or 422: spent, or never in the state the act needs) is left for the next one too. An operation
with one target is simply given values that hold in every phase (schemathesis.toml's body
parameters reach only the fuzzing phase), such as an evidence file whose content is a PDF: the
document can say "a binary file", not that its first bytes must be a PDF, JPEG or PNG signature, so
a generated file is always refused (400) for its content.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import schemathesis
from schemathesis import GenerationMode

POOLS: dict[str, list[dict]] = json.loads(Path(os.environ["FUZZ_POOLS"]).read_text(encoding="utf-8"))
# Each phase has targets of its own: the examples and coverage phases send many valid requests and
# would use up a pool the fuzzing phase then finds empty. One target each for the examples, coverage
# and stateful phases, the rest for the fuzzing phase; a pool of fewer than four is shared.
SHARES = {"examples": (0, 1), "coverage": (1, 2), "stateful": (2, 3), "fuzzing": (3, None)}
# The fuzzing phase comes back after the stateful one (a round each, while time is left), and each
# round is judged on its own: a round takes at most a third of the phase's targets, so three rounds
# each find one. A round is the phase's requests for the operation with no pause of ROUND_GAP seconds.
ROUNDS = 3
ROUND_GAP = 30.0
_lock = threading.Lock()


class Place:
    """Where an operation's phase is in its share of the pool. (Not a dataclass: schemathesis loads this
    file as a module it does not register, which dataclasses need.)"""

    def __init__(self, index: int):
        self.index = index
        self.spent = False  # the target at `index` has been acted on (or cannot be)
        self.successes = 0  # in this round
        self.last = 0.0


_places: dict[tuple[str, str], Place] = {}
_used: dict[int, tuple[str, str, int]] = {}  # the case (by id) -> operation, phase, the target it was sent to


def _share(label: str, phase: str) -> range:
    size = len(POOLS[label])
    if size < len(SHARES):
        return range(size)
    start, stop = SHARES.get(phase, SHARES["fuzzing"])
    return range(start, size if stop is None else stop)


def _target(case) -> tuple[str, str, int] | None:
    label = case.operation.label
    if label not in POOLS:
        return None
    phase = case.meta.phase.name.value if case.meta is not None else "fuzzing"
    share = _share(label, phase)
    now = time.monotonic()
    with _lock:
        place = _places.setdefault((label, phase), Place(index=share[0]))
        if now - place.last > ROUND_GAP:  # a new round: a fresh target, if any is left
            place.successes = 0
            if place.spent and place.index < share[-1]:
                place.index, place.spent = place.index + 1, False
        place.last = now
        return label, phase, place.index


def _put(body: dict, path: list[str], value) -> None:
    for name in path[:-1]:
        if not isinstance(body.get(name), dict):
            body[name] = {}
        body = body[name]
    body[path[-1]] = value


@schemathesis.hook
def before_call(context, case, kwargs):
    # Only a request meant to be valid: one meant to be invalid keeps what makes it so (a path
    # parameter outside its enum, a mistyped field) and the target schemathesis.toml names.
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    found = _target(case)
    if found is None:
        return
    label, _phase, index = found
    for key, value in POOLS[label][index].items():
        where, _, name = key.partition(".")
        if where == "path":
            case.path_parameters = {**(case.path_parameters or {}), name: value}
        elif where == "body" and isinstance(case.body, dict):
            _put(case.body, name.split("."), value)
    with _lock:
        _used[id(case)] = found


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        found = _used.pop(id(case), None)
        if found is None:
            return
        label, phase, index = found
        place = _places[(label, phase)]
        share = _share(label, phase)
        status = response.status_code
        # 2xx: done; 409 or 422 to a valid request: spent, or never in the state the act needs.
        if place.index != index or not (200 <= status < 300 or status in (409, 422)):
            return
        place.successes += 200 <= status < 300
        place.spent = True
        quota = max(1, len(share) // ROUNDS) if phase == "fuzzing" else len(share)
        if place.successes < quota and place.index < share[-1]:
            place.index, place.spent = place.index + 1, False
