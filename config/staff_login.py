"""Staff login and sessions (R-SEC-2).

- Throttling, by django-axes: after 5 failed logins for one username, or 20 from one address, within
  15 minutes, every login for that username or from that address is refused for 15 minutes, the
  right password included, with a message saying when to try again. The address is the one
  config/proxies.py gives (REMOTE_ADDR, or behind TRUSTED_PROXIES the client's).
- Sessions end 8 hours after login, or after 30 minutes without a request
  (StaffSessionTimeoutMiddleware).
- Passwords: at least 12 characters, with Django's validators (settings.AUTH_PASSWORD_VALIDATORS).

Axes compares one number with one limit. Its database handler counts the failures per lockout
parameter (username, address) and takes the larger; ours scales the address's count to the
username's limit, so that 20 from one address weigh as 5 for one username.
"""

from __future__ import annotations

import datetime as dt
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in
from django.db.models import Max, Q, Sum
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from config.proxies import client_address

USERNAME_FAILURE_LIMIT = 5
ADDRESS_FAILURE_LIMIT = 20
FAILURE_WINDOW = dt.timedelta(minutes=15)  # failures older than this are forgotten; also the lockout
SESSION_MAX_AGE = dt.timedelta(hours=8)
SESSION_IDLE_LIMIT = dt.timedelta(minutes=30)


class LoginThrottleHandler(AxesDatabaseHandler):
    """AXES_HANDLER: 5 per username or 20 per address (AXES_LOCKOUT_PARAMETERS is
    ["username", "ip_address"], in that order)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        by_username, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        return max(by_username, by_address * USERNAME_FAILURE_LIMIT // ADDRESS_FAILURE_LIMIT)


def locked_until(request, credentials: dict | None = None) -> dt.datetime:
    """When the lockout of this username and address ends: 15 minutes after the latest counted failure."""
    username = get_client_username(request, credentials)
    since = timezone.now() - FAILURE_WINDOW
    latest = AccessAttempt.objects.filter(
        Q(username=username) | Q(ip_address=client_address(request)), attempt_time__gte=since
    ).aggregate(latest=Max("attempt_time"))["latest"]
    return (latest or timezone.now()) + FAILURE_WINDOW


def lockout_response(request, original_response=None, credentials: dict | None = None):
    """AXES_LOCKOUT_CALLABLE: the login page again, 429, saying when to try again."""
    until = locked_until(request, credentials)
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    message = _(
        "Too many failed logins for this username or from this address. Try again after %(time)s "
        "(in %(minutes)d minutes)."
    ) % {"time": timezone.localtime(until).strftime("%H:%M"), "minutes": minutes}
    form = AuthenticationForm(request)
    context = {"form": form, "lockout_message": message, "next": request.POST.get("next", "")}
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(math.ceil((until - timezone.now()).total_seconds()))
    return response


@receiver(user_logged_in, dispatch_uid="staff_session_started")
def _session_started(sender, request, user, **kwargs):
    """The 8 hours count from the login itself. Connected when this module is imported, which the
    middleware below makes happen at start-up."""
    if request is not None and hasattr(request, "session"):
        now = timezone.now().timestamp()
        request.session[StaffSessionTimeoutMiddleware.STARTED] = now
        request.session[StaffSessionTimeoutMiddleware.SEEN] = now


class StaffSessionTimeoutMiddleware:
    """Log a staff member out 8 hours after login or after 30 idle minutes (R-SEC-2). After
    AuthenticationMiddleware. The session is written at most once a minute for this."""

    STARTED, SEEN = "staff_session_started", "staff_session_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.STAFF_SESSION_LIMITS and request.user.is_authenticated:
            now = timezone.now().timestamp()
            started = request.session.setdefault(self.STARTED, now)
            seen = request.session.get(self.SEEN, now)
            if now - started >= SESSION_MAX_AGE.total_seconds() or now - seen >= SESSION_IDLE_LIMIT.total_seconds():
                logout(request)  # flushes the session; the request goes on as anonymous
            elif now - seen >= 60 or self.SEEN not in request.session:
                request.session[self.SEEN] = now
        return self.get_response(request)
