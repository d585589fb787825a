"""The settings the tests run with (pyproject.toml): config.settings, with DEBUG on explicitly.

DEBUG is off unless the environment turns it on (R-SEC-1); the tests want the local defaults
(plain static files storage, console email) that come with it. pytest-django still runs each test
with settings.DEBUG False. Set here in the environment, so the processes tests start (a celery
worker, gunicorn) inherit it unless they choose otherwise.
"""

import os

os.environ.setdefault("DEBUG", "1")

from config.settings import *  # noqa: E402, F403

# A fast hasher: Django hashes on every login attempt, even for an unknown username (for timing),
# and the login throttle's tests make dozens. Production keeps the default (PBKDF2).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests of other rules move the clock by days with one logged-in client (offer deadlines, reminders);
# the staff session limits (and the 8-hour session cookie) would log it out. tests/config/
# test_staff_login.py turns the limits on.
STAFF_SESSION_LIMITS = False
SESSION_COOKIE_AGE = 14 * 24 * 60 * 60  # Django's default
