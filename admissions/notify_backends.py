"""How a notification leaves the building: SMS through a small gateway interface, email through
Django's email backends (EMAIL_BACKEND; SMTP in production).

`deliver` sends one notification or raises `SendFailed`; it never writes to the database (the
service in admissions/services/notifications.py owns the row, the attempts and the retries).
Phone numbers, addresses and message texts are personal data (SPEC §10): no log line and no
error text recorded here holds them.

SMS backends, chosen by settings.SMS_BACKEND:
- `console` (the default): logs the notification's id and kind, and counts it as sent.
- `http`: POSTs {"to", "text", "template"} as JSON to SMS_GATEWAY_URL with SMS_GATEWAY_KEY as a
  bearer token; any 2xx answer means sent. The `Idempotency-Key` header names the notification,
  so a gateway that honours it sends a message once even if a crashed worker's send is repeated.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.text import capfirst

from admissions.models import Notification

logger = logging.getLogger("admissions.notifications")


class SendFailed(Exception):
    """The message did not go out. `permanent`: trying again cannot help (e.g. an unknown channel)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class SmsGateway(Protocol):
    def send(self, notification: Notification) -> None:
        """Send the notification's body to its recipient, or raise SendFailed."""


class ConsoleSmsGateway:
    """Development: nothing leaves the machine, and the log names only the notification."""

    def send(self, notification: Notification) -> None:
        logger.info("SMS notification %s (%s) sent to the console backend", notification.pk, notification.kind)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not a sent message (urllib would follow it with a GET and call that success)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HttpSmsGateway:
    def __init__(self, *, url: str, key: str, template: str, timeout: float):
        self.url, self.key, self.template, self.timeout = url, key, template, timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, notification: Notification) -> None:
        if not self.url:
            raise SendFailed("SMS_GATEWAY_URL is not set")
        body = json.dumps(
            {"to": notification.recipient, "text": notification.body, "template": self.template},
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "care-home-waiting-list-sms/1",
            "Idempotency-Key": f"notification-{notification.pk}",
        }
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SendFailed(f"SMS gateway answered HTTP {exc.code}") from None
        except Exception as exc:  # refused, timed out, bad TLS: all mean "try again later"
            raise SendFailed(f"SMS gateway unreachable: {type(exc).__name__}: {exc}"[:500]) from None
        if not 200 <= status < 300:
            raise SendFailed(f"SMS gateway answered HTTP {status}")


def sms_gateway() -> SmsGateway:
    """The gateway settings.SMS_BACKEND names (read on each call, so tests can switch it)."""
    backend = getattr(settings, "SMS_BACKEND", "console")
    if backend == "http":
        return HttpSmsGateway(
            url=settings.SMS_GATEWAY_URL,
            key=settings.SMS_GATEWAY_KEY,
            template=settings.SMS_TEMPLATE,
            timeout=settings.SMS_GATEWAY_TIMEOUT,
        )
    if backend == "console":
        return ConsoleSmsGateway()
    raise SendFailed(f"unknown SMS_BACKEND {backend!r}")


def email_send(notification: Notification) -> None:
    """One message through Django's EMAIL_BACKEND, with a subject in the applicant's language."""
    with translation.override(notification.language):
        subject = str(capfirst(Notification._meta.verbose_name))
    message = EmailMessage(
        subject=subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        # The same id on every attempt, so a repeated send can be recognised by the mail system.
        headers={"Message-ID": f"<notification-{notification.pk}@{_domain()}>"},
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPResponseException as exc:
        # Its text may quote the address: keep the code and the class only. Even a 5xx is tried
        # again (a misconfigured or overloaded relay answers 5xx too), until the attempts run out.
        raise SendFailed(f"SMTP {exc.smtp_code} ({type(exc).__name__})") from None
    except smtplib.SMTPServerDisconnected as exc:  # its text says why ("… closed: timed out"), no address
        raise SendFailed(f"email not sent: SMTP server disconnected ({exc})"[:500]) from None
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("SMTP server refused the recipient (SMTPRecipientsRefused)") from None
    except Exception as exc:  # connection refused, timed out, TLS: try again later
        raise SendFailed(f"email not sent: {type(exc).__name__}") from None


def _domain() -> str:
    from_email = settings.DEFAULT_FROM_EMAIL
    return from_email.rsplit("@", 1)[-1].strip(" >") if "@" in from_email else "localhost"


def deliver(notification: Notification) -> None:
    """Send by the notification's channel, or raise SendFailed."""
    if notification.channel == "sms":
        sms_gateway().send(notification)
    elif notification.channel == "email":
        email_send(notification)
    else:
        raise SendFailed(f"unknown channel {notification.channel!r}", permanent=True)
