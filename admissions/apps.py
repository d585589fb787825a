from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdmissionsConfig(AppConfig):
    name = "admissions"
    verbose_name = _("Applications, queues and admissions")

    def ready(self) -> None:
        # The tasks register the outbox's senders (services/outbox.py): the services never import them.
        from admissions import tasks  # noqa: F401
