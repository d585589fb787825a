"""The verifiable decision log (SPEC §15): the keyed chain, the public form and the checkpoints.

R-VER-1 Each allocation decision carries an HMAC-SHA256 (`keyed_hash`) under a key from the
environment (`DECISION_CHAIN_KEY`, key id stored on the decision), over the RFC 8785 canonical JSON
of every field of the decision and the keyed hash of the decision before it. Someone who can write
the database but does not hold the key cannot recompute it.
R-VER-2 Each decision also has a public form, stored when it is written, and a `public_hash`: the
SHA-256 of the canonical JSON of that form with the previous decision's public hash and its
sequence number. The form and the hash are computed by `tools/verify_log.py`'s own functions, so the
standalone verifier cannot drift from what the application writes.
R-VER-3 Checkpoints: for each home the sequence number and public hash of its newest decision,
signed with the bureau's Ed25519 key (`CHECKPOINT_SIGNING_KEY`), written only after the whole keyed
chain has verified.

Keys: `DECISION_CHAIN_KEY` is `id:secret[,id:secret…]`, newest first; the newest writes, every one
listed verifies, so a key rotates by putting the new one in front. `CHECKPOINT_SIGNING_KEY` is
`id:base64(32-byte Ed25519 private key)[,…]`, newest first; the newest signs and the public halves
of all are published. `python manage.py chain_keys` prints fresh ones. Unset, both are derived from
SECRET_KEY under the key id `dev` (local use only; `check --deploy` says so).

New decisions are sealed by a pre_save signal (connected in AdmissionsConfig.ready), so every path
that saves an AllocationDecision seals it without knowing about this module; a bulk writer (the
city generator) calls `seal` itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.core import checks
from django.db import IntegrityError, transaction
from django.utils import timezone

from admissions.models.checkpoints import city_time
from tools.verify_log import canonical_json, checkpoint_message, public_hash

KEYED_HASH_VERSION = 1
DEV_KEY_ID = "dev"

# Every field of a decision the keyed hash covers (R-VER-1). `id` is given by the database after
# the hash is made, and `keyed_hash` is the hash itself; a field added to AllocationDecision must
# be added here or to NOT_COVERED (a test fails otherwise), so nothing escapes the chain unnoticed.
KEYED_FIELDS = (
    "facility_id",
    "sequence",
    "bed_id",
    "made_at",
    "policy_version",
    "trigger",
    "chosen_entry_id",
    "chosen",
    "skipped",
    "quota_before",
    "quota_after",
    "previous_hash",
    "hash",
    "key_id",
    "public",
    "public_hash",
    "prev_public_hash",
    "partner_decision_id",
)
NOT_COVERED = ("id", "keyed_hash")
# Fields added after decisions were chained: in the payload only when set, so the decisions
# written before them keep their hashes (R-CPL-2's partner_decision).
OPTIONAL_KEYED_FIELDS = ("partner_decision_id",)

CHANNEL_OF_RANK = {0: "special", 1: "priority", 2: "ordinary"}


class ChainKeyError(Exception):
    """A key in the environment is malformed."""


# --- keys ----------------------------------------------------------------------------------------
def _pairs(raw: str, name: str) -> list[tuple[str, str]]:
    pairs = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.strip() or not secret.strip():
            raise ChainKeyError(f"{name}: each key must be written id:secret, comma-separated, newest first")
        pairs.append((key_id.strip(), secret.strip()))
    return pairs


@cache
def _chain_keys(raw: str, secret_key: str) -> tuple[tuple[str, bytes], ...]:
    pairs = _pairs(raw, "DECISION_CHAIN_KEY")
    if not pairs:
        return ((DEV_KEY_ID, hashlib.sha256(b"decision-chain:" + secret_key.encode()).digest()),)
    return tuple((key_id, secret.encode()) for key_id, secret in pairs)


def chain_keys() -> tuple[tuple[str, bytes], ...]:
    """(key id, secret), newest first."""
    return _chain_keys(getattr(settings, "DECISION_CHAIN_KEY", ""), settings.SECRET_KEY)


@cache
def _signing_keys(raw: str, secret_key: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pairs = _pairs(raw, "CHECKPOINT_SIGNING_KEY")
    if not pairs:
        seed = hashlib.sha256(b"checkpoint-signing:" + secret_key.encode()).digest()
        return ((DEV_KEY_ID, Ed25519PrivateKey.from_private_bytes(seed)),)
    keys = []
    for key_id, secret in pairs:
        try:
            keys.append((key_id, Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret, validate=True))))
        except (ValueError, binascii.Error) as error:
            raise ChainKeyError(
                f"CHECKPOINT_SIGNING_KEY: key {key_id!r} is not a base64 32-byte Ed25519 private key"
            ) from error
    return tuple(keys)


def signing_keys():
    """(key id, Ed25519PrivateKey), newest first."""
    return _signing_keys(getattr(settings, "CHECKPOINT_SIGNING_KEY", ""), settings.SECRET_KEY)


def public_keys() -> dict[str, str]:
    """{key id: base64 raw public key}: what /public/checkpoints/keys/ publishes (R-VER-3)."""
    from cryptography.hazmat.primitives import serialization

    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    return {key_id: base64.b64encode(key.public_key().public_bytes(*raw)).decode() for key_id, key in signing_keys()}


# --- the decision's forms ------------------------------------------------------------------------
def mask_reference(reference: str) -> str:
    from admissions.public import mask_reference as mask

    return mask(reference)


def _public_row(row: dict, subjects: dict[str, tuple[str, str]], *, skipped: bool) -> dict:
    channel, care_level = subjects.get(str(row.get("reference", "")), (None, None))
    public = {
        "reference": mask_reference(str(row.get("reference", ""))),
        "rank": row.get("rank"),
        "score": row.get("score"),
        "channel": channel,
        "care_level": care_level,
    }
    if skipped:
        public["reason"] = row.get("reason")
    return public


def public_form(decision, *, facility_code: str, bed_code: str, subjects: dict[str, tuple[str, str]]) -> dict:
    """R-VER-2: what anyone may see of a decision: masked references with rank, channel, care level,
    score and reason; bed code, time, policy version, trigger, quota figures. `subjects` maps a
    reference to its entry's (channel, care level) at this home when the decision was made."""
    form = {
        "facility": facility_code,
        "bed": bed_code,
        "made_at": city_time(decision.made_at),
        "policy_version": decision.policy_version,
        "trigger": decision.trigger,
        "chosen": _public_row(decision.chosen, subjects, skipped=False) if decision.chosen else None,
        "skipped": [_public_row(row, subjects, skipped=True) for row in decision.skipped],
        "quota_before": decision.quota_before,
        "quota_after": decision.quota_after,
    }
    partner = getattr(decision, "partner_decision", None)
    if partner is not None:
        # R-CPL-2: the joint offer's first decision, by its sequence number in this home's chain.
        form["partner_decision"] = partner.sequence
    return form


def _value(decision, name: str):
    # A bulk writer's row (the city generator) may lack a field added later: it is not set.
    value = getattr(decision, name, None) if name in OPTIONAL_KEYED_FIELDS else getattr(decision, name)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value


def keyed_payload(decision, previous_keyed_hash: str | None) -> dict:
    """R-VER-1: every field of the decision and the keyed hash of the one before."""
    payload = {name: _value(decision, name) for name in KEYED_FIELDS}
    for name in OPTIONAL_KEYED_FIELDS:
        if payload[name] is None:
            del payload[name]
    payload["previous_keyed_hash"] = previous_keyed_hash
    payload["v"] = KEYED_HASH_VERSION
    return payload


def keyed_hash(decision, previous_keyed_hash: str | None, key: bytes) -> str:
    return hmac.new(key, canonical_json(keyed_payload(decision, previous_keyed_hash)), hashlib.sha256).hexdigest()


def seal(decision, *, previous, facility_code: str, bed_code: str, subjects: dict[str, tuple[str, str]]) -> None:
    """Set the public form, the public hash and the keyed hash of a decision about to be inserted.
    `previous` is the facility's decision at sequence − 1 (None for the first)."""
    decision.public = public_form(decision, facility_code=facility_code, bed_code=bed_code, subjects=subjects)
    decision.prev_public_hash = previous.public_hash if previous is not None else None
    decision.public_hash = public_hash(decision.public, decision.prev_public_hash, decision.sequence)
    key_id, key = chain_keys()[0]
    decision.key_id = key_id
    decision.keyed_hash = keyed_hash(decision, previous.keyed_hash if previous is not None else None, key)


# --- the plain hash of R-ALLOC-2, beside the keyed one --------------------------------------------
def decision_hash(payload: dict) -> str:
    """SHA-256 of the decision's content and the previous hash, in a canonical JSON form."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def decision_payload(decision) -> dict:
    """What the hash covers: everything the decision says (R-ALLOC-2). verify_decisions uses it too."""
    payload = {
        "facility": decision.facility_id,
        "sequence": decision.sequence,
        "bed": decision.bed_id,
        "made_at": decision.made_at.astimezone(dt.UTC).isoformat(),
        "policy_version": decision.policy_version,
        "trigger": decision.trigger,
        "chosen": decision.chosen,
        "skipped": decision.skipped,
        "quota_before": decision.quota_before,
        "quota_after": decision.quota_after,
        "previous_hash": decision.previous_hash,
    }
    partner_decision_id = getattr(decision, "partner_decision_id", None)  # a bulk writer's row may lack it
    if partner_decision_id is not None:  # R-CPL-2; absent before couples, so old hashes hold
        payload["partner_decision"] = partner_decision_id
    return payload


def decision_references(decision) -> list[str]:
    rows = ([decision.chosen] if decision.chosen else []) + list(decision.skipped)
    return [str(row.get("reference", "")) for row in rows]


def subjects_at(queue_entry_model, facility_id: int, references: list[str]) -> dict[str, tuple[str, str]]:
    """reference → (channel, care level) of its entry at this facility."""
    rows = queue_entry_model.objects.filter(facility_id=facility_id, application__reference__in=references)
    return {
        reference: (CHANNEL_OF_RANK.get(rank), care_level)
        for reference, rank, care_level in rows.values_list("application__reference", "channel_rank", "care_level")
    }


def seal_on_save(sender, instance, raw=False, **kwargs) -> None:
    """pre_save of AllocationDecision: seal a new decision that is not sealed yet."""
    if raw or not instance._state.adding or instance.keyed_hash:
        return
    from admissions.models import QueueEntry

    previous = (
        sender.objects.filter(facility_id=instance.facility_id, sequence=instance.sequence - 1).first()
        if instance.sequence > 1
        else None
    )
    seal(
        instance,
        previous=previous,
        facility_code=instance.facility.code,
        bed_code=instance.bed.code,
        subjects=subjects_at(QueueEntry, instance.facility_id, decision_references(instance)),
    )


# --- verification --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainBreak:
    """The first decision or checkpoint that does not hold."""

    problem: str
    decision: object | None = None
    checkpoint: object | None = None

    def describe(self) -> str:
        if self.decision is not None:
            d = self.decision
            return f"decision id={d.pk} facility={d.facility.code} sequence={d.sequence}: {self.problem}"
        if self.checkpoint is not None:
            return f"checkpoint id={self.checkpoint.pk}: {self.problem}"
        return self.problem


@dataclass
class Heads:
    """Per facility, the newest verified decision: {facility_id: (code, seq, public_hash)}."""

    by_facility: dict[int, tuple[str, int, str]] = field(default_factory=dict)

    def as_list(self) -> list[dict]:
        return sorted(
            ({"facility": code, "seq": seq, "public_hash": ph} for code, seq, ph in self.by_facility.values()),
            key=lambda head: head["facility"],
        )


def _decision_problem(decision, previous, keys: dict[str, bytes]) -> str | None:

    if previous is None:
        expected_previous_hash, expected_sequence = None, 1
    else:
        expected_previous_hash, expected_sequence = previous.hash, previous.sequence + 1
    if decision.sequence != expected_sequence:
        return f"sequence {decision.sequence}, expected {expected_sequence}"
    if decision.previous_hash != expected_previous_hash:
        return "previous_hash does not match the decision before it"
    if decision.hash != decision_hash(decision_payload(decision)):
        return "hash does not match the decision's content"
    if not decision.keyed_hash or not decision.key_id:
        return "it has no keyed hash (R-VER-1): it was not written by the application"
    key = keys.get(decision.key_id)
    if key is None:
        return f"its key id {decision.key_id!r} is not among DECISION_CHAIN_KEY's keys"
    previous_keyed = previous.keyed_hash if previous is not None else None
    if not hmac.compare_digest(decision.keyed_hash, keyed_hash(decision, previous_keyed, key)):
        return "keyed hash does not match the decision's content and the chain before it (R-VER-1)"
    expected_prev_public = previous.public_hash if previous is not None else None
    if decision.prev_public_hash != expected_prev_public:
        return "prev_public_hash does not match the decision before it (R-VER-2)"
    if decision.public is None or decision.public_hash != public_hash(
        decision.public, decision.prev_public_hash, decision.sequence
    ):
        return "public_hash does not match its public form (R-VER-2)"
    return None


def first_decision_break(facility_id: int | None = None, heads: Heads | None = None) -> ChainBreak | None:
    """Walk every facility's chain in sequence order; return the first decision that does not hold
    (plain chain of R-ALLOC-2, keyed chain of R-VER-1, public chain of R-VER-2)."""
    from admissions.models import AllocationDecision

    keys = dict(chain_keys())
    decisions = AllocationDecision.objects.select_related("facility").order_by("facility_id", "sequence")
    if facility_id is not None:
        decisions = decisions.filter(facility_id=facility_id)
    previous = None
    for decision in decisions.iterator(chunk_size=1000):
        if previous is not None and previous.facility_id != decision.facility_id:
            previous = None
        problem = _decision_problem(decision, previous, keys)
        if problem:
            return ChainBreak(problem, decision=decision)
        if heads is not None:
            heads.by_facility[decision.facility_id] = (decision.facility.code, decision.sequence, decision.public_hash)
        previous = decision
    return None


def _checkpoint_problem(checkpoint, verifiers: dict, chain: dict[tuple[str, int], str]) -> str | None:
    from cryptography.exceptions import InvalidSignature

    verifier = verifiers.get(checkpoint.key_id)
    if verifier is None:
        return f"signed with key id {checkpoint.key_id!r}, which is not among CHECKPOINT_SIGNING_KEY's keys"
    try:
        verifier.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint_message(checkpoint.public))
    except (InvalidSignature, ValueError, binascii.Error):
        return f"the signature does not verify with key {checkpoint.key_id!r}"
    for head in checkpoint.heads:
        where = f"home {head.get('facility')} seq {head.get('seq')}"
        current = chain.get((head.get("facility"), head.get("seq")))
        if current is None:
            return f"{where} is no longer in the log (a checkpointed decision was deleted)"
        if current != head.get("public_hash"):
            return f"{where} has public_hash {current}, not the signed {head.get('public_hash')}: history was rewritten"
    return None


def first_checkpoint_break() -> ChainBreak | None:
    """Every checkpoint's signature, and every head it signed still in the log (R-VER-3)."""
    from admissions.models import AllocationDecision, Checkpoint

    verifiers = {key_id: key.public_key() for key_id, key in signing_keys()}
    checkpoints = list(Checkpoint.objects.order_by("id"))
    if not checkpoints:
        return None
    wanted = {(head.get("facility"), head.get("seq")) for cp in checkpoints for head in cp.heads}
    codes = {code for code, _ in wanted}
    chain = {
        (code, seq): ph
        for code, seq, ph in AllocationDecision.objects.filter(facility__code__in=codes).values_list(
            "facility__code", "sequence", "public_hash"
        )
        if (code, seq) in wanted
    }
    for checkpoint in checkpoints:
        problem = _checkpoint_problem(checkpoint, verifiers, chain)
        if problem:
            return ChainBreak(problem, checkpoint=checkpoint)
    return None


def first_break(heads: Heads | None = None) -> ChainBreak | None:
    """Decisions first, then checkpoints: what `verify_decisions` and the nightly check report."""
    return first_decision_break(heads=heads) or first_checkpoint_break()


# --- checkpoints (R-VER-3) -----------------------------------------------------------------------
class ChainBroken(Exception):
    def __init__(self, broken: ChainBreak):
        super().__init__(broken.describe())
        self.broken = broken


def checkpoint_write(*, made_by: str = "system", now: dt.datetime | None = None):
    """Verify the whole keyed chain and every earlier checkpoint, then sign and append a checkpoint
    of every home's newest decision. Raises ChainBroken (and writes nothing) when anything fails."""
    from admissions.models import Checkpoint
    from facilities.models import AuditEntry

    heads = Heads()
    broken = first_break(heads=heads)
    if broken is not None:
        raise ChainBroken(broken)
    made_at = (now or timezone.now()).replace(microsecond=0)
    key_id, key = signing_keys()[0]
    for _attempt in range(3):
        last = Checkpoint.objects.order_by("-id").values_list("id", flat=True).first() or 0
        checkpoint = Checkpoint(id=last + 1, made_at=made_at, heads=heads.as_list(), key_id=key_id, made_by=made_by)
        checkpoint.signature = base64.b64encode(key.sign(checkpoint_message(checkpoint.public))).decode()
        try:
            with transaction.atomic():
                checkpoint.save()
                AuditEntry.objects.create(
                    actor_name=made_by,
                    action="checkpoint_written",
                    object_type="checkpoint",
                    object_key=str(checkpoint.id),
                    changes={"heads": len(checkpoint.heads), "key_id": key_id},
                )
        except IntegrityError:  # another checkpoint took this id at the same moment: number again
            continue
        return checkpoint
    raise RuntimeError("could not number a checkpoint after three attempts")


# --- deployment check ----------------------------------------------------------------------------
@checks.register(checks.Tags.security, deploy=True)
def check_chain_keys(app_configs=None, **kwargs):
    """`check --deploy`: the keys must come from the environment, not from SECRET_KEY (R-VER-1, R-VER-3)."""
    problems = []
    for name, hint in (
        ("DECISION_CHAIN_KEY", "R-VER-1: the decisions' keyed chain must not depend on SECRET_KEY."),
        ("CHECKPOINT_SIGNING_KEY", "R-VER-3: checkpoints must be signed with the bureau's own key."),
    ):
        if not getattr(settings, name, ""):
            problems.append(
                checks.Warning(f"{name} is not set; a key derived from SECRET_KEY is used.", hint=hint, id="chain.W001")
            )
    return problems


@checks.register(checks.Tags.security)
def check_chain_keys_readable(app_configs=None, **kwargs):
    """Every start: a malformed key stops the service before a decision could fail to be sealed."""
    problems = []
    for read in (chain_keys, signing_keys):
        try:
            read()
        except ChainKeyError as error:
            problems.append(checks.Error(str(error), id="chain.E001"))
    return problems


# --- what a family sees (R-VER-4) ----------------------------------------------------------------
@dataclass(frozen=True)
class DecisionConcerning:
    facility: str
    facility_name: str
    seq: int
    made_at: dt.datetime
    public_hash: str | None
    chosen: bool
    reason: str | None  # why it was passed over, when it was


def decisions_concerning(reference: str, *, limit: int = 50) -> list[DecisionConcerning]:
    """The decisions that chose or passed over this application, newest first, at the homes it is
    or was queued for: the family can find each (seq, public hash) in the home's public log."""
    from django.db.models import Q, TextField
    from django.db.models.functions import Cast

    from admissions.models import AllocationDecision, QueueEntry

    facilities = QueueEntry.objects.filter(application__reference=reference).values("facility_id")
    quoted = json.dumps(reference)  # a reference is a JSON string value inside the stored rows
    decisions = (
        AllocationDecision.objects.filter(facility_id__in=facilities)
        .annotate(skipped_text=Cast("skipped", TextField()))
        .filter(Q(chosen__reference=reference) | Q(skipped_text__contains=quoted))
        .select_related("facility")
        .order_by("-made_at", "-id")[:limit]
    )
    out = []
    for d in decisions:
        chosen = bool(d.chosen) and d.chosen.get("reference") == reference
        reason = None if chosen else next((r.get("reason") for r in d.skipped if r.get("reference") == reference), None)
        if not chosen and reason is None:
            continue
        out.append(
            DecisionConcerning(d.facility.code, d.facility.name, d.sequence, d.made_at, d.public_hash, chosen, reason)
        )
    return out
