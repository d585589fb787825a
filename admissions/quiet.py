"""Quieter logs for the commands that drive the services in bulk (seed_demo, generate_city, simulate,
bench)."""

from __future__ import annotations

import logging
from contextlib import contextmanager


@contextmanager
def quiet_loggers(verbosity: int):
    """Each notification the demo causes is 'sent' (eagerly, without a broker) and logged: hundreds
    of lines that say nothing here. Shown with --verbosity 2."""
    quieter = {
        "admissions.notifications": logging.WARNING,
        "celery.app.trace": logging.WARNING,
        # Without a broker, tasks run eagerly; kombu still warns once that no broker host is set.
        "kombu.connection": logging.ERROR,
    }
    loggers = [logging.getLogger(name) for name in quieter]
    levels = [logger.level for logger in loggers]
    if verbosity < 2:
        for logger, level in zip(loggers, quieter.values(), strict=True):
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
