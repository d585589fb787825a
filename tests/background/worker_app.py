"""The Celery app the background tests' worker runs: config.celery's own, consuming and sending on a
queue of the test run's own (BACKGROUND_TEST_QUEUE), so that other workers on the shared Redis never
take its tasks and it never takes theirs. Everything else is the production configuration."""

import os

from config.celery import app

app.conf.task_default_queue = os.environ["BACKGROUND_TEST_QUEUE"]

__all__ = ["app"]
