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
