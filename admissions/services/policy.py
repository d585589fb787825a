"""Policy versions (SPEC §9): creating one is an administrator's audited act; none is ever edited."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.identity import age_on
from admissions.models import QUEUED_STATES, Application, FacilityChoice, Policy, PolicyActivation, QueueEntry
from admissions.models.applications import CHANNEL_RANK
from admissions.policy import PolicyError, PolicyParameters
from admissions.selectors import policy_activation_running, policy_in_force, score_parts_of
from core.actor import SYSTEM, Actor
from core.errors import Conflict, InvalidInput
from facilities.models import AuditEntry, BedStatus, Facility

from .allocation import allocation_run

logger = logging.getLogger(__name__)
# Rows per UPDATE … WHERE id IN (…): below SQLite's variable limit, and few statements at 200,000.
CHUNK = 5000


def policy_create(*, effective_from: dt.date, parameters: dict, actor: Actor, note: str = "") -> Policy:
    """A new version: the parameters given override those of the version in force on
    `effective_from`; the rest carry over. It may not start in the past, which would change the
    rules of decisions already made."""
    if effective_from < timezone.localdate():
        raise InvalidInput(
            _("A policy version cannot take effect in the past."),
            errors={"effective_from": [_("must be today or later (decisions keep the version they used)")]},
        )
    base = policy_in_force(effective_from).parameters.to_json()
    try:
        merged = PolicyParameters.from_json({**base, **parameters})
    except PolicyError as exc:
        raise InvalidInput(
            _("Some policy parameters are not valid."), errors={k: [v] for k, v in exc.errors.items()}
        ) from exc
    with transaction.atomic():
        latest = Policy.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        try:
            with transaction.atomic():
                policy = Policy.objects.create(
                    version=latest + 1,
                    effective_from=effective_from,
                    parameters=merged.to_json(),
                    note=note or "",
                    created_by=actor.user,
                )
        except IntegrityError as exc:
            raise Conflict(_("Another policy version was created at the same moment; try again.")) from exc
        changed = {k: v for k, v in merged.to_json().items() if base.get(k) != v}
        AuditEntry.objects.create(
            user=actor.user,
            actor_name=actor.name,
            action="policy_create",
            object_type="Policy",
            object_key=f"v{policy.version}",
            changes={"effective_from": effective_from.isoformat(), "changed": changed, "note": note or ""},
        )
        if effective_from == timezone.localdate():
            # R-POL-1: a version created for today takes effect at once (in this transaction).
            policy_activate_due()
    return policy


# --- R-POL-1: a version takes effect as one act -----------------------------------------------------
def policy_activate_due(*, now: dt.datetime | None = None) -> PolicyActivation | None:
    """R-POL-1: if the version that should be in force today has not been brought into force, do it
    now, in one transaction: care levels, channels and base scores of every open entry and queued
    application; `queued_at`, offers already made and assessments untouched. Audited once with
    per-facility counts; allocation follows, after commit, at every facility with a vacant bed
    (R-ALLOC-3). Idempotent: returns None when nothing was due (or another process did it)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    target = Policy.objects.filter(effective_from__lte=today).order_by("-effective_from", "-version").first()
    if target is None or PolicyActivation.objects.filter(policy=target).exists():
        return None
    with transaction.atomic(), policy_activation_running():
        # One act per version: the second of two processes that found it due waits here, then finds
        # it done.
        target = Policy.objects.select_for_update().get(pk=target.pk)
        if PolicyActivation.objects.filter(policy=target).exists():
            return None
        previous = policy_in_force(today)  # the activated version answering until now
        params = PolicyParameters.from_json(target.parameters)
        counts = _bring_under(version=target.version, params=params)
        activation = PolicyActivation.objects.create(policy=target, activated_at=now, counts=counts)
        AuditEntry.objects.create(
            user=None,
            actor_name=SYSTEM.name,
            action="policy_activate",
            object_type="Policy",
            object_key=f"v{target.version}",
            changes={
                "effective_from": target.effective_from.isoformat(),
                "previous_version": previous.version,
                "facilities": counts,
            },
        )
        transaction.on_commit(_allocate_where_vacant)
    logger.info("policy v%s in force: %s facilities' queues brought under it", target.version, len(counts))
    return activation


def _allocate_where_vacant() -> None:
    """R-ALLOC-3: a new version in force starts allocation at every facility with a vacant bed.
    One facility's failure is logged and does not stop the others (their next trigger retries)."""
    vacant = Facility.objects.filter(beds__status=BedStatus.VACANT).distinct().order_by("pk")
    for facility in vacant:
        try:
            allocation_run(facility=facility, trigger="policy_in_force", until_nobody=True)
        except Exception:
            logger.exception("allocation after a policy version came into force failed at %s", facility.code)


def _update_in_groups(model, groups: dict[tuple, list[int]], fields_of) -> None:
    """One UPDATE per distinct set of new values (and per CHUNK ids): set-based, not a save per row."""
    for key, ids in groups.items():
        values = fields_of(key)
        for start in range(0, len(ids), CHUNK):
            model.objects.filter(pk__in=ids[start : start + CHUNK]).update(**values)


def _bring_under(*, version: int, params: PolicyParameters) -> dict[str, dict[str, int]]:
    """Recompute what the policy decides for every queued application and open entry, write only
    what changed, and return the per-facility counts for the audit."""
    # Applications: channel (mapping, centenarian age on the approval date) and care level.
    verified_missing = 0
    apps: dict[int, tuple[str | None, str | None]] = {}
    app_groups: dict[tuple, list[int]] = defaultdict(list)
    rows = (
        Application.objects.filter(state__in=QUEUED_STATES)
        .values_list(
            "pk",
            "channel_code",
            "channel_reason",
            "care_level",
            "current_assessment__grade",
            "applicant__date_of_birth",
            "queued_at",
        )
        .order_by()
    )
    for pk, channel, reason, care_level, grade, born, queued_at in rows.iterator(chunk_size=CHUNK):
        reason = dict(reason or {})
        verified = reason.get("verified_categories")
        age = reason.get("age_on_approval")
        if age is None and born is not None and queued_at is not None:
            age = age_on(born, timezone.localdate(queued_at))
        if verified is None:  # approved before the reason recorded them: the channel is kept
            verified_missing += 1
            new_channel, because = channel, reason.get("because")
        else:
            new_channel, because = params.channel_of(verified_codes=list(verified), age=age)
        new_care = params.care_level_for_grade(grade) if grade is not None else care_level
        apps[pk] = (new_channel, new_care)
        if new_channel != channel or new_care != care_level or (channel and reason.get("because") != because):
            new_reason = {**reason, "because": because, "age_on_approval": age}
            if verified is not None:  # unknown stays unknown: [] would read as "none verified" next time
                new_reason["verified_categories"] = list(verified)
            new_reason["policy"] = version
            app_groups[(new_channel, json.dumps(new_reason, sort_keys=True), new_care)].append(pk)
    _update_in_groups(
        Application,
        app_groups,
        lambda key: {"channel_code": key[0], "channel_reason": json.loads(key[1]), "care_level": key[2]},
    )
    if verified_missing:
        logger.warning("policy v%s: %s channels kept (no verified categories recorded)", version, verified_missing)

    # Open entries: channel rank, care level, base score (queued_at, and so waiting time, unchanged).
    counts: dict[str, dict[str, int]] = {}
    codes = dict(Facility.objects.values_list("pk", "code"))
    entry_groups: dict[tuple, list[int]] = defaultdict(list)
    spouse_here = FacilityChoice.objects.filter(
        application=OuterRef("application"), facility=OuterRef("facility"), spouse_resident=True
    )
    entries = (
        QueueEntry.objects.filter(status="open")
        .annotate(spouse_here=Exists(spouse_here))
        .values_list(
            "pk",
            "facility_id",
            "application_id",
            "channel_rank",
            "care_level",
            "base_score",
            "score_parts",
            "spouse_here",
            "application__no_spouse_no_children",
            "application__lives_alone",
            "application__current_assessment__grade",
            "application__current_assessment__assessed_on",
            "application__applicant__date_of_birth",
        )
        .order_by()
    )
    for row in entries.iterator(chunk_size=CHUNK):
        pk, facility_id, application_id, rank, care, base, parts, spouse, alone_none, alone, grade, assessed, born = row
        tally = counts.setdefault(codes[facility_id], {"open_entries": 0, "scores": 0, "care_levels": 0, "channels": 0})
        tally["open_entries"] += 1
        if grade is None or assessed is None or born is None:
            continue
        new_channel, new_care = apps.get(application_id, (None, None))
        new_rank = CHANNEL_RANK[new_channel] if new_channel else rank
        new_care = new_care or params.care_level_for_grade(grade)
        new_parts = score_parts_of(
            params=params,
            grade=grade,
            age=age_on(born, assessed),
            no_spouse_no_children=alone_none,
            lives_alone=alone,
            spouse_resident=spouse,
        )
        new_base = sum(new_parts.values())
        if (new_rank, new_care, new_base, new_parts) == (rank, care, base, parts):
            continue
        tally["scores"] += new_base != base
        tally["care_levels"] += new_care != care
        tally["channels"] += new_rank != rank
        entry_groups[(new_rank, new_care, json.dumps(new_parts, sort_keys=True))].append(pk)
    _update_in_groups(
        QueueEntry,
        entry_groups,
        lambda key: {
            "channel_rank": key[0],
            "care_level": key[1],
            "score_parts": json.loads(key[2]),
            "base_score": sum(json.loads(key[2]).values()),
            "policy_version": version,
        },
    )
    # The entries whose values did not change: only the version they are scored under (each row is
    # written once: the changed ones got it above).
    QueueEntry.objects.filter(Q(policy_version__lt=version) | Q(policy_version__gt=version), status="open").update(
        policy_version=version
    )
    return counts
