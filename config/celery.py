"""The Celery app. Without CELERY_BROKER_URL tasks run eagerly (settings.CELERY_TASK_ALWAYS_EAGER).

Run `celery -A config worker` for the tasks and one `celery -A config beat` for the schedule below.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The schedule is static, in code. Every task in it is idempotent, so a run repeated or missed
# (beat restarted, a worker late) does the work once. crontab times are in CELERY_TIMEZONE,
# which is settings.TIME_ZONE (Asia/Shanghai).
app.conf.beat_schedule = {
    # R-OFF-4, R-OFF-5: an offer expires within a minute of its deadline.
    "expire-offers": {"task": "admissions.tasks.expire_offers", "schedule": 60.0},
    # R-POL-1: a new policy version is brought into force at 00:00 of its date; hourly after that
    # only in case the midnight run was missed (the first read of the day would run it anyway).
    "activate-policy": {"task": "admissions.tasks.activate_policy", "schedule": crontab(minute=0)},
    # SPEC §10: anything pending and due (lost task, backoff over) is queued again.
    "redispatch-outbox": {"task": "admissions.tasks.redispatch_outbox", "schedule": 60.0},
    # R-OFF-6, R-ASM-5: each reminder is sent once, so hourly only bounds how late it can be.
    "send-reminders": {"task": "admissions.tasks.send_reminders", "schedule": crontab(minute=5)},
    # R-CHG-3: asks, reminders and suspensions of re-confirmation; hourly bounds how late each is.
    "reconfirmations": {"task": "admissions.tasks.reconfirmations_sweep", "schedule": crontab(minute=35)},
    # R-PRIV-3: nightly, anonymise people whose applications have all been final for retention_years.
    "anonymise-persons-nightly": {"task": "admissions.tasks.anonymise_persons", "schedule": crontab(hour=3, minute=15)},
    # R-SEC-3: Idempotency-Key records (answers to POSTs) are deleted once 24 hours old.
    "purge-idempotency-records": {"task": "api.tasks.purge_idempotency_records", "schedule": crontab(minute=20)},
    # R-ALLOC-2: the nightly chain check, alerting the administrators when it is broken.
    "verify-decisions-nightly": {
        "task": "admissions.tasks.verify_decisions_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    # R-VER-3: the day's signed checkpoint, written only after the keyed chain has verified.
    "write-checkpoint-daily": {
        "task": "admissions.tasks.write_checkpoint_daily",
        "schedule": crontab(hour=3, minute=0),
    },
    # Issue 18: the public lookup's queue versions stay a row or two per home (their sums unchanged).
    "fold-queue-changes": {"task": "admissions.tasks.fold_queue_changes", "schedule": crontab(minute=50)},
    # R-WATCH-1: the monthly watchdog report to the administrators (sent once per month).
    "watchdog-report-monthly": {
        "task": "admissions.tasks.watchdog_report_monthly",
        "schedule": crontab(day_of_month=1, hour=7, minute=0),
    },
}
