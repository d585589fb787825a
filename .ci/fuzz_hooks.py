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
parameters and body fields (a request meant to be invalid is left as generated). An operation
with one target is simply given values that hold in every phase (schemathesis.toml's body
parameters reach only the fuzzing phase), such as an evidence file whose content is a PDF: the
document can say "a binary file", not that its first bytes must be a PDF, JPEG or PNG signature, so
a generated file is always refused (400) for its content.

schemathesis judges each pass of a phase over an operation (a "scenario") on its own: one whose valid
requests all failed, some of them for their data (400, 422: a NUL character in a field's name, say),
is reported "mostly rejected", however many 409s on a spent target came with them. The examples and
coverage phases run once (coverage again for catch-up passes), then the fuzzing and the stateful phases
take turns while time is left: four to six fuzzing passes in a 600 s run. So each pass of a phase needs a
target in the state its act needs, and the pools must last the whole run.

A target may also be moved by something else than its own act: another operation (an application offered
a bed elsewhere, a draft assessment completed) or an earlier pass. So each target comes with the queries
that say the state it was made in ("holds", made by .ci/fuzz_values.py); their answers are read from the
database (read-only) before the first request, and again whenever the hooks must know whether the target
is still as made. Each pass of a phase (counted by the event handler below, which sees a phase start
before its first request) starts with the target the operation's latest pass left, while that is still
as made (an edit, or a pass whose valid requests were all refused for their data, leaves it so), else
with the next unused one that is, skipping those that have moved. It takes the next one again after a
success in a fuzzing pass while the pool holds more than RESERVE unused (the passes still to come each
need one), and after a refusal of a valid request (409 or 422) before any success when the target has
moved since, or has no queries to say (a refusal of a target still as made is one for the request's
data). A pool that runs out leaves to every later pass its last target still as made, else its last.
When the run ends, a line per pool says how many targets were taken, skipped as moved, and left unused,
so that a spent pool shows in the CI log.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import schemathesis
import schemathesis.cli
from schemathesis import GenerationMode
from schemathesis.engine import events

POOLS: dict[str, list[dict]] = json.loads(Path(os.environ["FUZZ_POOLS"]).read_text(encoding="utf-8"))
# The server's SQLite database (.ci/schemathesis), opened read-only: the hooks only look.
DATABASE = "file:" + os.environ["DATABASE_URL"].removeprefix("sqlite:///") + "?mode=ro"
# Unused targets kept for the passes still to come: a 600 s run has up to six fuzzing passes after the
# examples and coverage ones (the stateful passes share one target), and some targets move meanwhile.
RESERVE = 12
# Body fields made unique per valid request, for an act that refuses a value used before (409): the
# generated value is kept, cut to leave room within the field's length, and "-" and a number appended
# (a valid home or bed code stays one). A home or a batch of beds whose codes were taken is refused,
# and hypothesis sends the same short code again and again.
UNIQUE = {
    "POST /api/v1/facilities/": ("code", 20),
    "POST /api/v1/facilities/{code}/beds/batch/": ("prefix", 30),
}
_lock = threading.Lock()
_passes: dict[str, int] = {}  # phase name -> how many passes of it have started


@schemathesis.cli.handler()
class Passes(schemathesis.cli.EventHandler):
    """Counts the passes of each phase: the engine hands each event to the handlers before it goes on, so a
    pass is counted before any of its requests is sent."""

    def handle_event(self, ctx, event) -> None:
        if isinstance(event, events.PhaseStarted):
            with _lock:
                name = str(event.phase.name.value)
                _passes[name] = _passes.get(name, 0) + 1
        elif isinstance(event, events.EngineFinished):
            _report()


def _report() -> None:
    """Per pool of more than one target: taken, skipped as moved, left unused, and "SPENT" when none is left
    and none of those taken is still in the state it was made in (the later passes met only refusals)."""
    with _lock:
        passes = ", ".join(f"{phase} {count}" for phase, count in sorted(_passes.items()))
        print(f"--- pools of targets (.ci/fuzz_hooks.py); passes: {passes}")
        for label, targets in sorted(POOLS.items()):
            if len(targets) > 1:
                left = len(targets) - _unused.get(label, 0)
                spent = not left and not any(_holds(label, index) for index in range(len(targets)))
                print(
                    f"{label:<75} taken {_taken.get(label, 0):>3}, moved {_moved.get(label, 0):>3}, "
                    f"left {left:>3} of {len(targets):>3}{'  SPENT' if spent else ''}"
                )


class Place:
    """The target a pass of a phase sends an operation's valid requests to. (Not a dataclass: schemathesis
    loads this file as a module it does not register, which dataclasses need.)"""

    def __init__(self, index: int):
        self.index = index
        self.successes = 0


_unused: dict[str, int] = {}  # operation -> the first target no pass has taken
_latest: dict[str, int] = {}  # operation -> the target its latest pass sent valid requests to
_places: dict[tuple[str, str, int], Place] = {}
_used: dict[int, tuple[str, tuple[str, str, int], int]] = {}  # the case (by id) -> operation, place, target
_sent = [0]  # valid requests given a unique field so far


def _answers(target: dict) -> list:
    """What the target's queries answer now."""
    if "holds" not in target:
        return []
    with closing(sqlite3.connect(DATABASE, uri=True, timeout=20)) as database:
        return [database.execute(sql, params).fetchall() for sql, params in target.get("holds", [])]


# Each target's answers as made: read before the first request, when nothing has moved yet.
_as_made = {
    (label, index): _answers(target) for label, targets in POOLS.items() for index, target in enumerate(targets)
}
_taken: dict[str, int] = {}  # operation -> targets handed out
_moved: dict[str, int] = {}  # operation -> targets skipped, no longer in the state they were made in


def _holds(label: str, index: int) -> bool:
    """Whether the target is still in the state it was made in (one without queries always is)."""
    return _answers(POOLS[label][index]) == _as_made[label, index]


def _take(label: str) -> int:
    """The operation's next unused target still in the state it was made in. Once none is left, the last
    one that still is (an act that does not move its target, an edit, goes on with it), else the last.
    Called with the lock held."""
    targets = POOLS[label]
    while (index := _unused.get(label, 0)) < len(targets):
        _unused[label] = index + 1
        if _holds(label, index):
            _taken[label] = _taken.get(label, 0) + 1
            return index
        _moved[label] = _moved.get(label, 0) + 1
    return next((index for index in reversed(range(len(targets))) if _holds(label, index)), len(targets) - 1)


def _start(label: str) -> int:
    """A new pass's target: the latest pass's while it is still as made, else the next. Lock held."""
    latest = _latest.get(label)
    return latest if latest is not None and _holds(label, latest) else _take(label)


def _left(label: str) -> int:
    return len(POOLS[label]) - _unused.get(label, 0)


def _put(body: dict, path: list[str], value) -> None:
    for name in path[:-1]:
        if not isinstance(body.get(name), dict):
            body[name] = {}
        body = body[name]
    body[path[-1]] = value


def _unique(case) -> None:
    field = UNIQUE.get(case.operation.label)
    if field is None or not isinstance(case.body, dict) or not isinstance(case.body.get(field[0]), str):
        return
    name, limit = field
    with _lock:
        _sent[0] += 1
        suffix = f"-{_sent[0]}"
    case.body[name] = case.body[name][: limit - len(suffix)] + suffix


@schemathesis.hook
def before_call(context, case, kwargs):
    # Only a request meant to be valid: one meant to be invalid keeps what makes it so (a path
    # parameter outside its enum, a mistyped field) and the target schemathesis.toml names.
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    _unique(case)
    label = case.operation.label
    if not POOLS.get(label):
        return
    phase = case.meta.phase.name.value if case.meta is not None else "fuzzing"
    with _lock:
        # The stateful passes share one place: schemathesis judges their scenarios as a whole, not per operation.
        key = (label, phase, 0 if phase == "stateful" else _passes.get(phase, 0))
        place = _places.get(key)
        if place is None:
            place = _places[key] = Place(_start(label))
        index = _latest[label] = place.index
        _used[id(case)] = (label, key, index)
    for key_, value in POOLS[label][index].items():
        where, _, name = key_.partition(".")
        if where == "path":
            case.path_parameters = {**(case.path_parameters or {}), name: value}
        elif where == "body" and isinstance(case.body, dict):
            _put(case.body, name.split("."), value)


def _stale_version(response) -> bool:
    """A 409 for the If-Match header schemathesis generated (R-FSM-4: it names the current version), not
    for the target's state."""
    try:
        return response.status_code == 409 and "current_version" in response.json()
    except ValueError:
        return False


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        found = _used.pop(id(case), None)
    if found is None:
        return
    label, key, index = found
    status = response.status_code
    succeeded = 200 <= status < 300
    refused = status in (409, 422) and not _stale_version(response)
    with _lock:
        place = _places[key]
        if place.index != index or not (succeeded or refused):
            return
        place.successes += succeeded
        if succeeded:
            # One success is enough for a pass of the examples or coverage phase (they send many valid
            # requests, and would take many targets); a fuzzing pass takes more while more are spare.
            more = key[1] == "fuzzing" and _left(label) > RESERVE
        else:
            # A refusal before any success: the target has moved, or (still as made) the data was refused.
            # One with no queries to say (a home that takes batches of beds until it is full) is spent.
            more = place.successes == 0 and ("holds" not in POOLS[label][index] or not _holds(label, index))
        if more:
            place.index = _take(label)


@schemathesis.hook
def filter_body(context, body):
    """A multipart form cannot say an empty list: a field's list is sent as one part per item, so []
    sends no part at all, the same request as the field left out. schemathesis generated [] for the
    evidence reference (a string) as invalid data and reported the API's 200 for the request it
    could send (ST201 "was string, became array"); such a body is not generated. A list of two
    parts is sent, and refused (400)."""
    operation = getattr(context, "operation", None)
    media_types = {getattr(part, "media_type", "") for part in getattr(operation, "body", None) or []}
    is_form = bool(media_types) and all(media.startswith("multipart/form-data") for media in media_types)
    return not (is_form and isinstance(body, dict) and any(value == [] for value in body.values()))
