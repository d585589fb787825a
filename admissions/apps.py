from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdmissionsConfig(AppConfig):
    name = "admissions"
    verbose_name = _("Applications, queues and admissions")

    def ready(self) -> None:
        from django.db.models.signals import pre_save

        # The tasks register the outbox's senders (services/outbox.py): the services never import them.
        from admissions import tasks  # noqa: F401
        from admissions.chain import seal_on_save
        from admissions.models import AllocationDecision

        # R-VER-1, R-VER-2: every decision is sealed (keyed hash, public form, public hash) as it
        # is inserted, whichever service writes it.
        pre_save.connect(seal_on_save, sender=AllocationDecision, dispatch_uid="admissions.chain.seal")

        # R-POL-1: any read that finds a new policy version due runs the act first; the reads
        # (selectors) cannot import the service, so it is handed to them here.
        from admissions.selectors import policy_activation_register
        from admissions.services.policy import policy_activate_due

        policy_activation_register(policy_activate_due)

        # R-ALLOC-3: a home's own nursing target changed (facilities cannot import the allocation).
        from admissions.services.allocation import allocation_after_nursing_target_change
        from facilities.signals import nursing_target_changed

        nursing_target_changed.connect(
            allocation_after_nursing_target_change, dispatch_uid="admissions.allocation.nursing_target"
        )

        # Issue 18: every write to a queue (or to what the public lookup shows of it) moves the
        # home's queue version in its own transaction, so the lookup's cache is never stale.
        from admissions.services.queue_versions import queue_versions_connect

        queue_versions_connect()
