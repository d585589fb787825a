"""The public lookup (SPEC §8, R-PUB-1…3): a family asks with the reference and the lookup code.

Shared by the REST API (`POST /public/lookup/`) and the family portal, so both keep the same rate
limits and give the same answers.

- R-PUB-1: both the reference and the code must match. An unknown reference, a wrong code and a
  malformed one give the same `LookupNotFound`, and do the same work (one query, one HMAC, one
  constant-time comparison), so neither the answer nor its timing says which part was wrong.
- R-PUB-2: failures are counted per client address and per reference string (known or not) in
  Django's cache, which every process shares (the database cache locally, Redis in production).
  Each failure claims a "slot" with `cache.add`, which is atomic on both backends (an INSERT on a
  unique key; SET NX), so simultaneous failures from many workers are all counted. When a subject
  has as many failures within the window as its limit allows, it is locked; while locked every
  lookup for it is refused with `LookupLocked` (429), right code or not, and a refused lookup is not
  another failure. The cache keys and the log hold hashes of the address and the reference, never
  the raw values; the code is never logged.

R-SEC-4: an attempt is counted before its code is checked (see `public_lookup`). The client address
is whatever the caller passes: the API and the portal pass `config.proxies.client_address`, which
is REMOTE_ADDR unless the request comes from one of TRUSTED_PROXIES.

Call this outside any transaction that an error rolls back: with the database cache the failure
counts are rows in that database.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from admissions.models import (
    FINAL_STATES,
    LIVE_OFFER_STATES,
    AllocationDecision,
    Application,
    ApplicationState,
    Category,
    CoupleMember,
    FacilityChoice,
    Offer,
    QueueEntry,
    QueueEntryStatus,
    ReconfirmedVia,
    ReviewOutcome,
    ReviewRequest,
    ReviewRequestState,
)
from admissions.models.reconfirmation import with_reconfirmation
from admissions.policy import PolicyInForce, PolicyParameters
from admissions.public import mask_reference
from admissions.selectors import Position, policy_in_force, positions_for_application
from core.dates import shown_date, shown_datetime
from core.errors import DomainError, NotFound
from core.prepared import PreparedValues
from core.typing import as_typed

from . import lookup_positions
from .applications import (
    LOOKUP_CODE_ALPHABET,
    LOOKUP_CODE_LENGTH,
    lookup_code_matching_key,
    lookup_code_rehash,
)
from .couples import couple_of
from .queue_versions import queue_versions_of
from .reconfirmation import FAMILY, awaiting_confirmation, reconfirm, reconfirm_due

logger = logging.getLogger("admissions.lookup")

# --- R-PUB-2 in one place ------------------------------------------------------------------------
FAILURES_PER_ADDRESS = 10  # failed lookups within the window, then locked
FAILURES_PER_REFERENCE = 5
FAILURE_WINDOW_SECONDS = 3600  # "an hour"
LOCK_SECONDS = 3600  # locked for an hour

LIMITS = {"address": FAILURES_PER_ADDRESS, "reference": FAILURES_PER_REFERENCE}
REFERENCE_MAX_LENGTH = 20  # Application.reference
CACHE_PREFIX = "public-lookup:v1"
# Compared against when the reference is unknown: a SHA-256 hex digest never equals it.
_UNMATCHABLE = "-" * 64


class LookupNotFound(NotFound):
    """Any mismatch: unknown reference, wrong code, malformed input. One message for all."""


class LookupLocked(DomainError):
    """R-PUB-2: too many failed lookups for this address or reference; `retry_after` in seconds."""

    status = 429
    title = gettext_lazy("Too many requests")

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after


# --- the answer (R-PUB-3) --------------------------------------------------------------------------
@dataclass(frozen=True)
class LookupOffer:
    facility: str
    facility_name: str
    address: str
    phone: str
    state: str
    respond_by: dt.datetime
    admit_by: dt.datetime | None


@dataclass(frozen=True)
class LookupPosition:
    facility: str
    facility_name: str
    care_level: str
    position: int
    ahead_same_care_level: int
    ahead_on_hold: int
    score: int
    score_breakdown: dict[str, int]
    queued_at: dt.datetime
    estimated_wait: dict[str, int] | None


@dataclass(frozen=True)
class LookupReReview:
    """A re-review of an assessment, as the family sees it (R-ASM-6): no staff names."""

    requested_at: dt.datetime
    state: str
    state_label: str
    due_by: dt.datetime
    outcome: str | None
    outcome_label: str | None
    decided_at: dt.datetime | None
    applied: bool


@dataclass(frozen=True)
class LookupResult:
    reference: str
    state: str
    state_label: str
    applicant_name_masked: str
    channel: str | None
    channel_label: str | None
    channel_reason: str | None
    care_level: str | None
    assessment_valid_until: dt.date | None
    offer: LookupOffer | None
    positions: list[LookupPosition] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    re_reviews: list[LookupReReview] = field(default_factory=list)
    # R-CHG-3: the day by which the family must confirm while they are asked (past once paused for
    # want of it), else, while waiting, the day of the next ask (`reconfirm_due`, as on the
    # application of the staff API); and whether they are asked now.
    reconfirm_due: dt.date | None = None
    reconfirm_requested: bool = False


# --- the service ------------------------------------------------------------------------------------
def public_lookup(*, reference: str, code: str, client_address: str, shape: Shape | None = None) -> Any:
    """R-PUB-1…3: the application that matches, as the family may see it (`public_application_match`);
    in the caller's `shape` when given (`lookup_result`)."""
    application = public_application_match(reference=reference, code=code, client_address=client_address)
    return lookup_result(application, shape=shape)


def public_reconfirm(*, reference: str, code: str, client_address: str) -> Application:
    """R-CHG-3: the family confirms they still want to wait, with the reference and lookup code,
    under the lookup's rate limits (R-PUB-2, R-SEC-4): a wrong code is a failed lookup. Raises
    LookupLocked / LookupNotFound."""
    application = public_application_match(reference=reference, code=code, client_address=client_address)
    return reconfirm(application=application, actor=FAMILY, via=ReconfirmedVia.FAMILY)


def family_typed(value: object) -> str:
    """What a family typed, as the system writes it: full-width digits, letters and dashes (a Chinese
    input method's default) read as their half-width forms (NFKC), spaces around dropped, capitals.
    Without it "２０２６－０００１２３" is "not found" and counts towards the lockout (R-PUB-2)."""
    return as_typed(value).upper()


def public_application_match(*, reference: str, code: str, client_address: str) -> Application:
    """R-PUB-1, R-PUB-2: the application this reference and code name, under the lookup's rate limits.
    Every public act by a family that holds the code (the lookup, a re-confirmation: R-CHG-3) goes
    through here, so they share one set of limits. Raises `LookupLocked` while the address or the
    reference is locked (or every attempt its limit allows is taken), and `LookupNotFound` for any
    mismatch (which counts as a failure for both).

    R-SEC-4: the attempt is counted *before* the code is checked. Each subject's attempt claims one
    of its limited slots atomically (`cache.add`); a lookup that cannot claim one is refused without
    checking the code, so a parallel burst tests at most as many codes as the limit allows. A lookup
    that succeeds gives its slots back; a failed one keeps them (it is a failure)."""
    reference, code = family_typed(reference), family_typed(code)
    code = "".join(code.split()).replace("-", "")
    subjects = {
        "address": _subject_key("address", client_address or "unknown"),
        "reference": _subject_key("reference", reference),
    }
    now = time.time()

    _refuse_if_locked(subjects, now)
    claimed: dict[str, str] = {}
    for kind, subject in subjects.items():
        slot = _claim_slot(subject, kind, now)
        if slot is None:
            _release(claimed)
            _refuse(subjects, retry_after=_full_for(subject, kind, now), why=f"{kind} limit")
        claimed[kind] = slot
    # A lock set by a failure that finished between the first check and the claims still holds.
    try:
        _refuse_if_locked(subjects, now)
    except LookupLocked:
        _release(claimed)
        raise

    application = _application_matching(reference, code)
    if application is None:
        logger.info("lookup failed ref=%s addr=%s", _tag(subjects["reference"]), _tag(subjects["address"]))
        for kind in _lock_full_subjects(subjects, claimed, now):
            logger.warning(
                "lookup lockout: %s %s locked for %ss after %s failed lookups",
                kind,
                _tag(subjects[kind]),
                LOCK_SECONDS,
                LIMITS[kind],
            )
        raise LookupNotFound(gettext("No application matches this reference and lookup code."))

    _release(claimed)
    logger.info("lookup ok ref=%s addr=%s", mask_reference(application.reference), _tag(subjects["address"]))
    return application


def _refuse_if_locked(subjects: dict[str, str], now: float) -> None:
    retry_after = _locked_for(subjects, now)
    if retry_after:
        _refuse(subjects, retry_after=retry_after, why="locked")


def _refuse(subjects: dict[str, str], *, retry_after: int, why: str):
    logger.info(
        "lookup refused (%s) ref=%s addr=%s retry_after=%ss",
        why,
        _tag(subjects["reference"]),
        _tag(subjects["address"]),
        retry_after,
    )
    raise LookupLocked(
        gettext("Too many failed lookups. Please try again in %(minutes)s minutes.")
        % {"minutes": max(1, math.ceil(retry_after / 60))},
        retry_after=retry_after,
    )


def _application_matching(reference: str, code: str) -> Application | None:
    """The same work whatever is wrong: one query, one HMAC per key, one constant-time comparison
    per key (R-SEC-8: a code issued under an older key is re-hashed under the newest)."""
    application = None
    if len(reference) <= REFERENCE_MAX_LENGTH and "\x00" not in reference:  # PostgreSQL refuses NUL
        application = (
            Application.objects.select_related("applicant", "current_assessment").filter(reference=reference).first()
        )
    if application is not None and application.lookup_code_hash:
        expected = application.lookup_code_hash
    else:
        application, expected = None, _UNMATCHABLE
    matched_key = lookup_code_matching_key(expected, reference, code)
    well_formed_code = len(code) == LOOKUP_CODE_LENGTH and all(c in LOOKUP_CODE_ALPHABET for c in code)
    if application is None or matched_key is None or not well_formed_code:
        return None
    if matched_key != 0:
        lookup_code_rehash(application, code)
    return application


# --- rate limits (R-PUB-2, R-SEC-4) -------------------------------------------------------------------
# Each subject (an address, a reference) has LIMITS[kind] slots per *generation* of the window's
# length; an attempt claims a free one with `cache.add`, which is atomic on both backends (an INSERT
# on a unique key; SET NX). A slot's key names its generation and lives longer than one, so it is
# never found expired within its own generation (the database cache's `add` over an expired row is
# not atomic). The failures of the previous generation still in the window take room from this one,
# which makes the window slide: never more than the limit within any hour.
def _subject_key(kind: str, value: str) -> str:
    """A keyed hash, so neither the cache nor the log holds an address or a reference."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{CACHE_PREFIX}:{kind}:{digest[:40]}"


def _tag(subject_key: str) -> str:
    return subject_key.rsplit(":", 1)[-1][:12]


def _lock_key(subject_key: str) -> str:
    return f"{subject_key}:locked-until"


def _generation(now: float) -> int:
    return int(now // FAILURE_WINDOW_SECONDS)


def _slot_keys(subject_key: str, kind: str, generation: int) -> list[str]:
    return [f"{subject_key}:g{generation}:{i}" for i in range(LIMITS[kind])]


def _at(value) -> float | None:
    """When a slot was taken: its value is the time while the attempt is in flight, and
    [time, "failed"] once it failed."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], int | float):
        return float(value[0])
    return None


def _failed(value) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and value[1] == "failed"


def _carried(subject_key: str, kind: str, now: float) -> list:
    """The previous generation's slots still inside the window."""
    previous = cache.get_many(_slot_keys(subject_key, kind, _generation(now) - 1)).values()
    return [value for value in previous if _in_window(_at(value), now)]


def _claim_slot(subject_key: str, kind: str, now: float) -> str | None:
    room = LIMITS[kind] - len(_carried(subject_key, kind, now))
    for slot in _slot_keys(subject_key, kind, _generation(now))[: max(0, room)]:
        if cache.add(slot, now, timeout=FAILURE_WINDOW_SECONDS + 60):
            return slot
    return None


def _release(claimed: dict[str, str]) -> None:
    if claimed:
        cache.delete_many(list(claimed.values()))


def _attempts(subject_key: str, kind: str, now: float) -> list:
    """Every slot taken within the window: failures and attempts still in flight."""
    current = cache.get_many(_slot_keys(subject_key, kind, _generation(now))).values()
    return [value for value in current if _in_window(_at(value), now)] + _carried(subject_key, kind, now)


def _full_for(subject_key: str, kind: str, now: float) -> int:
    """Seconds until the oldest attempt that fills the subject's slots leaves the window."""
    attempts = [_at(value) for value in _attempts(subject_key, kind, now)]
    if not attempts:
        return 1
    return max(1, math.ceil(min(attempts) + FAILURE_WINDOW_SECONDS - now))


def _locked_for(subjects: dict[str, str], now: float) -> int:
    """Seconds until every lock on these subjects ends; 0 when none holds."""
    keys = [_lock_key(key) for key in subjects.values()]
    until = [value for value in cache.get_many(keys).values() if isinstance(value, int | float) and value > now]
    return math.ceil(max(until) - now) if until else 0


def _lock_full_subjects(subjects: dict[str, str], claimed: dict[str, str], now: float) -> list[str]:
    """After a failure: mark this attempt's slots failed, then lock each subject whose failures in
    the window reach its limit (attempts still in flight are not failures: one of them may be the
    right code). Returns the kinds this failure locked."""
    for slot in claimed.values():
        cache.set(slot, [now, "failed"], timeout=FAILURE_WINDOW_SECONDS + 60)
    locked = []
    for kind, subject in subjects.items():
        failures = [value for value in _attempts(subject, kind, now) if _failed(value)]
        if len(failures) >= LIMITS[kind] and cache.add(_lock_key(subject), now + LOCK_SECONDS, timeout=LOCK_SECONDS):
            locked.append(kind)
    return locked


def _in_window(at: float | None, now: float) -> bool:
    return at is not None and now - FAILURE_WINDOW_SECONDS < at <= now


# --- the answer, cached (issue 18) ----------------------------------------------------------------
# A family's answer is read from the cache under a key that changes whenever anything it is built
# from changes: the application as read by the match (and its version), each of its homes' queue
# versions (moved in the transaction of every change to that queue: services/queue_versions.py),
# the next instant any entry of those queues gains a waiting point (R-Q-3), the day (R-Q-5's year of
# admissions, the policy in force) and the language. So no answer outlives what it shows. The rate
# limits (R-PUB-2, R-SEC-4) are applied before, by `public_application_match`.
ANSWER_CACHE_PREFIX = "public-lookup:answer:v1"
Shape = Callable[[LookupResult], Any]
ANSWER_CACHE_SECONDS = 86400  # never longer than the day in its key anyway
# Room for every home of a large city at one version each: each application's lowest home keys its
# policy, so fewer than the homes would rebuild the policy on most lookups (issue 18: 200 homes).
_POLICIES_KEPT = 4096


def lookup_result(application: Application, *, now: dt.datetime | None = None, shape: Shape | None = None) -> Any:
    """What R-PUB-3 lets the family see of this one application, and nothing else: from the cache
    when nothing it shows has changed since it was built. With `shape` (a module-level function of
    the `LookupResult`, such as the API's serializer) the shaped answer is what is cached, so a cached
    answer costs its caller no work (issue 18: the serializer took half a millisecond a lookup)."""
    now = now or timezone.now()
    # The versions are read before anything the answer is built from: a change committing in
    # between is stored under the old versions, which no later lookup reads.
    versions = queue_versions_of(application.pk)
    policy = _policy_at(timezone.localdate(now), versions)
    period = policy.parameters.waiting_period_days * 86400
    seconds = int(now.timestamp())
    ticks = [
        lookup_positions.next_tick(lookup_positions.home_phases(pk, version, period), period, seconds)
        for pk, version in versions.items()
    ]
    assessment = application.current_assessment
    key_parts = (
        application.pk,
        application.version,
        application.state,
        application.channel_code,
        sorted((application.channel_reason or {}).items(), key=str),
        application.care_level,
        application.applicant.masked_name,
        assessment.pk if assessment else None,
        assessment.care_level if assessment else None,
        assessment.valid_until if assessment else None,
        translation.get_language(),
        f"{shape.__module__}.{shape.__qualname__}" if shape is not None else None,
        timezone.localdate(now),
        now.date(),
        sorted(versions.items()),
        min((tick for tick in ticks if tick is not None), default=None),
    )
    key = f"{ANSWER_CACHE_PREFIX}:{hashlib.sha256(repr(key_parts).encode()).hexdigest()}"
    answer = cache.get(key)
    if answer is None:
        answer = lookup_answer(application, now=now, versions=versions, policy=policy)
        if shape is not None:
            answer = shape(answer)
        cache.set(key, answer, timeout=ANSWER_CACHE_SECONDS)
    return answer


_policies: dict[tuple, PolicyInForce] = {}


def _policy_at(day: dt.date, versions: dict[int, int]) -> PolicyInForce:
    """R-POL-1's version in force on `day`, read once per process per queue version: a new policy
    version or its activation moves every home's queue version (queue_versions._every_home), so
    any one home's version read before stands for them all. An application with no home reads it."""
    if not versions:
        return policy_in_force(day)
    home = min(versions)
    key = (day, home, versions[home])
    policy = _policies.get(key)
    if policy is None:
        if len(_policies) >= _POLICIES_KEPT:
            _policies.clear()
        policy = _policies[key] = policy_in_force(day)
    return policy


def forget_phases() -> None:
    """For the tests, whose rolled-back databases give a (home, version) pair again (and whose
    mutants of `_facts_query` must be compiled)."""
    _policies.clear()
    _facts.forget()
    lookup_positions.forget()


# --- building the answer ---------------------------------------------------------------------------
def lookup_answer(
    application: Application,
    *,
    now: dt.datetime | None = None,
    versions: dict[int, int] | None = None,
    policy: PolicyInForce | None = None,
) -> LookupResult:
    """The answer built from the database (`lookup_result` serves it from the cache). With the
    queue versions read before (`lookup_result`), the positions come from the homes' pictures at
    those versions (`lookup_positions`) rather than three queries a home."""
    now = now or timezone.now()
    policy = policy or policy_in_force(timezone.localdate(now))
    assessment = application.current_assessment
    facts = _facts_of(application)
    offer = None
    if facts["has_offer"]:
        offer = (
            Offer.objects.filter(application=application, state__in=LIVE_OFFER_STATES)
            .select_related("facility")
            .first()
        )
    live_offer = None
    if offer is not None:
        live_offer = LookupOffer(
            facility=offer.facility.code,
            facility_name=offer.facility.local_name,
            address=offer.facility.local_address,
            phone=offer.facility.phone,
            state=offer.state,
            respond_by=offer.respond_by,
            admit_by=offer.admit_by,
        )
    positions = [
        LookupPosition(
            facility=p.entry.facility.code,
            facility_name=p.entry.facility.local_name,
            care_level=p.entry.care_level,
            position=p.position,
            ahead_same_care_level=p.ahead_same_care_level,
            ahead_on_hold=p.ahead_on_hold,
            score=p.score,
            score_breakdown=p.score_breakdown,
            queued_at=p.entry.queued_at,
            estimated_wait=p.estimated_wait,
        )
        for p in _positions(application, now=now, versions=versions, policy=policy)
    ]
    channel = application.channel
    return LookupResult(
        reference=application.reference,
        state=application.state,
        state_label=str(ApplicationState(application.state).label),
        applicant_name_masked=application.applicant.masked_name,
        channel=channel.value if channel else None,
        channel_label=str(channel.label) if channel else None,
        channel_reason=_channel_reason(application),
        # R-POL-1: the level under the policy in force, kept on the application once approved.
        care_level=application.care_level or (assessment.care_level if assessment is not None else None),
        assessment_valid_until=assessment.valid_until if assessment is not None else None,
        offer=live_offer,
        positions=positions,
        next_steps=next_steps(
            application, offer=live_offer, now=now, params=policy.parameters, in_couple=facts["in_couple"]
        ),
        re_reviews=_re_reviews(application) if facts["has_re_reviews"] else [],
        reconfirm_due=reconfirm_due(facts["reconfirmation"], policy.parameters),
        reconfirm_requested=facts["reconfirm_open"] and awaiting_confirmation(application) is not None,
    )


def _facts_query(pk: int):
    """Which of the answer's other parts one application has (a live offer, a live couple,
    re-reviews, an open re-confirmation ask) and what `reconfirm_due` reads, in one query."""
    return (
        with_reconfirmation(Application.objects.filter(pk=pk))
        .annotate(
            has_offer=Exists(Offer.objects.filter(application=OuterRef("pk"), state__in=LIVE_OFFER_STATES)),
            in_couple=Exists(CoupleMember.objects.filter(application=OuterRef("pk"), live=True)),
            has_re_reviews=Exists(ReviewRequest.objects.filter(application=OuterRef("pk"))),
        )
        .values(*_RECONFIRMATION_FACTS, "has_offer", "in_couple", "has_re_reviews")
    )


_RECONFIRMATION_FACTS = ("reconfirm_open", "reconfirm_open_respond_by", "reconfirm_last_settled")
# Compiled once per process: Django took about 4 ms of CPU to build this query, many times what
# the database takes to answer it (issue 18).
_facts = PreparedValues(_facts_query, int)


def _facts_of(application: Application) -> dict:
    """`_facts_query`'s row, so the parts an application lacks cost no query (issue 18: a built
    answer in a few queries)."""
    [row] = _facts.rows(application.pk)  # the application was just read: its row is there
    reconfirmation = copy.copy(application)  # `reconfirm_due` reads these annotations when present
    for name in _RECONFIRMATION_FACTS:
        setattr(reconfirmation, name, row[name])
    return {**row, "reconfirmation": reconfirmation, "reconfirm_open": bool(row["reconfirm_open"])}


def _positions(
    application: Application, *, now: dt.datetime, versions: dict[int, int] | None, policy: PolicyInForce
) -> list[Position]:
    """One position per open entry, in the order of the applicant's choices (as
    `positions_for_application`), the entries and their choice ranks read in one query."""
    if versions is None:
        return positions_for_application(application, now=now)
    rank = FacilityChoice.objects.filter(application_id=application.pk, facility_id=OuterRef("facility_id"))
    entries = list(
        QueueEntry.objects.filter(application=application, status=QueueEntryStatus.OPEN)
        .select_related("facility")
        .annotate(choice_rank=Coalesce(Subquery(rank.values("rank")[:1]), 99))
        .order_by("choice_rank", "facility__code")
    )
    for entry in entries:
        entry.application = application  # what a position counted in the database reads of it
    return lookup_positions.positions_at(
        entries, reference=application.reference, versions=versions, now=now, policy=policy
    )


def _re_reviews(application: Application) -> list[LookupReReview]:
    """R-ASM-6: the family sees each re-review and its outcome."""
    return [
        LookupReReview(
            requested_at=r.requested_at,
            state=r.state,
            state_label=str(ReviewRequestState(r.state).label),
            due_by=r.due_by,
            outcome=r.outcome,
            outcome_label=str(ReviewOutcome(r.outcome).label) if r.outcome else None,
            decided_at=r.decided_at,
            applied=r.applied_at is not None,
        )
        for r in application.review_requests.order_by("-requested_at", "-id")
    ]


def _channel_reason(application: Application) -> str | None:
    """Why this channel (R-APP-8), in plain words."""
    if not application.channel_code:
        return None
    because = (application.channel_reason or {}).get("because")
    if because == "centenarian":
        return gettext("because the applicant was 100 or older when the application was approved")
    if because in Category.values:
        return gettext("because of the verified status: %(category)s") % {"category": Category(because).label}
    return gettext("no category giving a higher channel was verified")


def _local(moment: dt.datetime) -> str:
    return shown_datetime(moment)


def next_steps(
    application: Application,
    *,
    offer: LookupOffer | None,
    now: dt.datetime,
    params: PolicyParameters | None = None,
    in_couple: bool | None = None,
) -> list[str]:
    """What the family can do next, by state, in short plain sentences. `in_couple` False: the
    caller knows the application is in no live couple (R-CPL-3's steps need no query)."""
    S = ApplicationState
    state = application.state
    params = params or policy_in_force(timezone.localdate(now)).parameters
    steps: list[str] = []
    if state == S.DRAFT:
        steps.append(gettext("The application has not been handed in yet. Contact the intake office to complete it."))
    elif state == S.SUBMITTED:
        steps.append(gettext("The intake office is checking the application. They will call to arrange an assessment."))
    elif state == S.ASSESSMENT_PENDING:
        steps.append(gettext("An assessor will visit to assess the care needs. Keep the receipt and ID card at hand."))
    elif state == S.REVIEW:
        steps.append(gettext("The assessment is being reviewed. You will be told when the application is approved."))
    elif state == S.WAITING:
        steps.append(gettext("The application is in the queue. There is nothing you need to do now."))
        steps.append(
            gettext("The score rises by %(points)s every %(days)s days of waiting.")
            % {"points": params.waiting_points, "days": params.waiting_period_days}
        )
        steps.append(gettext("When a bed is offered you will get a text message with the deadline to answer."))
    elif state == S.SUSPENDED:
        steps.append(
            gettext(
                "The application keeps its place but gets no offer while suspended. "
                "Contact the intake office to resume it."
            )
        )
    elif state == S.OFFERED and offer is not None:
        steps.append(
            gettext("Answer the offer by %(deadline)s by calling %(home)s at %(phone)s.")
            % {"deadline": _local(offer.respond_by), "home": offer.facility_name, "phone": offer.phone or "—"}
        )
        steps.append(
            gettext(
                "Declining, or not answering in time, counts as a refusal; after %(limit)s refusals within "
                "%(days)s days the application is removed."
            )
            % {"limit": params.refusal_limit, "days": params.refusal_window_days}
        )
    elif state == S.ADMISSION_CHECK and offer is not None and offer.admit_by is not None:
        steps.append(
            gettext("Come to %(home)s, %(address)s, for the admission check by %(deadline)s.")
            % {"home": offer.facility_name, "address": offer.address or "—", "deadline": _local(offer.admit_by)}
        )
        steps.append(gettext("Bring the resident ID card, the receipt and recent medical records."))
    elif state == S.ADMITTED:
        steps.append(gettext("The applicant has been admitted. This application is finished."))
    else:  # rejected, withdrawn, removed
        steps.append(gettext("This application is closed. Contact the intake office to apply again."))
    if in_couple is not False:
        steps.extend(_couple_steps(application, now=now))
    if state in (S.WAITING, S.SUSPENDED) and application.current_assessment is not None:
        valid_until = application.current_assessment.valid_until
        if valid_until is not None:
            steps.append(
                gettext("The assessment is valid until %(date)s; a new one is needed after that.")
                % {"date": shown_date(valid_until)}
            )
    return steps


def _couple_steps(application: Application, *, now: dt.datetime) -> list[str]:
    """R-CPL-3: a couple's wait explained: that they wait together, and why no bed yet."""
    view = couple_of(application)
    if view is None or application.state in FINAL_STATES:
        return []
    partner = mask_reference(view.partner.reference)
    if not view.together:
        return [
            gettext(
                "This application is linked with the spouse's application %(partner)s: either of you may be "
                "offered a bed first; the other then gains the points for a spouse living in that home."
            )
            % {"partner": partner}
        ]
    steps = [
        gettext(
            "This application waits together with the spouse's application %(partner)s: a bed is offered only "
            "when a second bed at the same home suits the spouse too. Both offers come at once and are answered "
            "together."
        )
        % {"partner": partner}
    ]
    recent = (
        AllocationDecision.objects.filter(made_at__gte=view.couple.linked_at, made_at__lte=now)
        .filter(facility__in=application.choices.values("facility"))
        .select_related("facility")
        .order_by("-made_at", "-id")[:200]
    )
    for decision in recent:
        if any(
            row.get("reference") == application.reference and row.get("reason") == "partner_bed_unavailable"
            for row in decision.skipped
        ):
            steps.append(
                gettext(
                    "On %(date)s a bed at %(home)s reached this application, but no second bed there suited the "
                    "spouse, so it was not offered. Your place in the queue is kept."
                )
                % {
                    "date": shown_date(decision.made_at),
                    "home": decision.facility.local_name,
                }
            )
            break
    return steps
