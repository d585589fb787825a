"""R-SEC-5: webhooks go only to hosts listed in WEBHOOK_ALLOWED_HOSTS (empty: none), checked after
name resolution, with loopback, link-local and private addresses refused unless listed explicitly,
at subscription and at delivery; the delivery log is no port scanner; a delivery never runs inside
a web request (without a broker the outbox process beside the server sends it)."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.utils import translation

from admissions import webhook_hosts
from admissions.models import WebhookDelivery
from admissions.services.webhooks import webhook_subscribe, webhooks_enqueue
from core.errors import InvalidInput
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, actor, queued_application
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db
SECRET = "s3cret-s3cret-s3cret"


def subscribe(address: str):
    return webhook_subscribe(url=address, events=["offer.made"], secret=SECRET, actor=actor("admin"))


def refused(address: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        subscribe(address)
    assert set(caught.value.errors) == {"url"}
    return caught.value.errors["url"]


@pytest.fixture
def dns(monkeypatch):
    """Set what a name resolves to, as a DNS server (or an attacker controlling one) would."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return table[host]

    monkeypatch.setattr(webhook_hosts, "resolve", resolve)
    return table


def test_with_no_allowed_hosts_no_webhook_may_be_made(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    assert "WEBHOOK_ALLOWED_HOSTS is empty" in refused("https://example.org/hook")[0]


def test_a_host_that_is_not_listed_is_refused_in_both_languages(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org"]
    assert "not among the webhook hosts" in refused("https://x.org/hook")[0]
    with translation.override("zh-hans"):
        message = refused("https://x.org/hook")[0]
    assert "WEBHOOK_ALLOWED_HOSTS" in message and any("\u4e00" <= c <= "\u9fff" for c in message)
    assert subscribe("https://example.org/hook").pk


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:8000/hook",
        "http://127.1.2.3/hook",
        "http://[::1]:8000/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_loopback_link_local_and_private_addresses_are_refused_unless_listed(settings, address):
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org"]
    refused(address)
    host = address.split("//", 1)[1].split("/", 1)[0]
    host = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.index("]")]
    listed = "127.0.0.1" if host == "::ffff:127.0.0.1" else host
    settings.WEBHOOK_ALLOWED_HOSTS = [listed]
    assert subscribe(address).pk


def test_a_listed_name_that_resolves_to_a_private_address_is_refused(settings, dns):
    """Checked after name resolution: listing a name does not let it reach the machine's own ports."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org", "localhost"]
    dns["hooks.example.org"] = ["93.184.215.15", "169.254.169.254"]
    dns["localhost"] = ["127.0.0.1", "::1"]
    assert "loopback, link-local or private" in refused("https://hooks.example.org/hook")[0]
    refused("http://localhost:8000/hook")
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost", "127.0.0.0/8", "::1"]
    assert subscribe("http://localhost:8000/hook").pk


def test_a_name_that_does_not_resolve_is_refused(settings, dns):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org"]
    assert "could not be resolved" in refused("https://hooks.example.org/hook")[0]


def test_the_api_names_the_url_field(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org"]
    admin = client_as("admin")
    body = {"url": "http://169.254.169.254/", "events": ["offer.made"], "secret": SECRET}
    assert_problem(admin.post(url("webhooks/"), body, format="json"), 400, "url")


def test_a_name_that_turns_private_after_subscribing_gets_nothing_and_the_log_says_only_refused(settings, dns):
    """Checked again at delivery (DNS rebinding): nothing is sent, and the log holds a fixed sentence."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org"]
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        dns["hooks.example.org"] = ["93.184.215.15"]
        subscribe(f"http://hooks.example.org:{port}/hook")
        dns["hooks.example.org"] = ["127.0.0.1"]
        (delivery,) = webhooks_enqueue(type="offer.made", data={})
        call_command("send_outbox", "--once", stdout=open("/dev/null", "w"))
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert delivery.last_error == webhook_hosts.REFUSED


def test_a_delivery_goes_to_the_address_that_was_checked(settings, dns):
    """The connection is made to the vetted address, with the name in the Host header."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.org", "127.0.0.1"]
    dns["hooks.example.org"] = ["127.0.0.1"]
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        subscribe(f"http://hooks.example.org:{port}/hook")
        (delivery,) = webhooks_enqueue(type="offer.made", data={})
        calls = []

        def resolve_once(host, port):  # a second lookup (at connect time) would get another answer
            calls.append(host)
            return ["127.0.0.1"] if len(calls) == 1 else ["93.184.215.15"]

        dns.clear()
        webhook_hosts_resolve = webhook_hosts.resolve
        webhook_hosts.resolve = resolve_once
        try:
            call_command("send_outbox", "--once", stdout=open("/dev/null", "w"))
        finally:
            webhook_hosts.resolve = webhook_hosts_resolve
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"hooks.example.org:{port}"
    assert len(calls) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_the_delivery_log_does_not_tell_a_closed_port_from_an_unresolvable_name(settings, dns):
    """No port scanner: whatever stopped the connection, the log says the same sentence."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()
    subscribe(f"http://127.0.0.1:{closed}/hook")
    (delivery,) = webhooks_enqueue(type="offer.made", data={})
    call_command("send_outbox", "--once", stdout=open("/dev/null", "w"))
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert delivery.last_error == webhook_hosts.NO_ANSWER
    assert "refused" not in delivery.last_error.lower() and "errno" not in delivery.last_error.lower()


def test_a_delivery_never_runs_inside_the_web_request(settings):
    """Without a broker the request only writes the outbox; `send_outbox` (started by `make run`
    beside the server) sends it."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    FacilityFactory(code="YX01")
    application = queued_application(choices=["YX01"])
    reviewer = client_as("reviewer")
    with Receiver() as receiver:
        webhook_subscribe(url=receiver.url, events=["application.state_changed"], secret=SECRET, actor=actor("admin"))
        response = reviewer.post(
            url(f"applications/{application.reference}/suspend/"), {"reason": "in hospital"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert receiver.requests == []
        (delivery,) = WebhookDelivery.objects.all()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        call_command("send_outbox", "--once", stdout=open("/dev/null", "w"))
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
