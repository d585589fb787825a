"""Policy versions (SPEC §9): creating one is an administrator's audited act; none is ever edited."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import Policy
from admissions.policy import PolicyError, PolicyParameters
from admissions.selectors import policy_in_force
from core.actor import Actor
from core.errors import Conflict, InvalidInput
from facilities.models import AuditEntry


def policy_create(*, effective_from: dt.date, parameters: dict, actor: Actor, note: str = "") -> Policy:
    """A new version: the parameters given override those of the version in force on
    `effective_from`; the rest carry over. It may not start in the past, which would change the
    rules of decisions already made."""
    if effective_from < timezone.localdate():
        raise InvalidInput(
            _("A policy version cannot take effect in the past."),
            errors={"effective_from": [_("must be today or later (SPEC §9: decisions keep the version they used)")]},
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
    return policy
