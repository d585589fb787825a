"""config/proxies.py: who the client is, and whether X-Forwarded-Proto is believed (R-SEC-4, R-SEC-6)."""

import pytest
from django.test import RequestFactory

from config.proxies import client_address, from_trusted_proxy, parse_trusted_proxies

factory = RequestFactory()


def request_from(remote, forwarded_for=None, **extra):
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return factory.get("/", REMOTE_ADDR=remote, **extra)


def test_without_trusted_proxies_the_client_is_remote_addr_whatever_x_forwarded_for_says(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    assert not from_trusted_proxy(request_from("198.51.100.7"))


def test_behind_a_trusted_proxy_the_client_is_the_nearest_untrusted_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.10"]
    # The client wrote "1.2.3.4" itself; the first proxy appended the real client, then a second proxy.
    request = request_from("192.0.2.10", "1.2.3.4, 198.51.100.7, 10.1.2.3")
    assert from_trusted_proxy(request)
    assert client_address(request) == "198.51.100.7"


def test_a_request_from_an_untrusted_address_is_not_believed_about_forwarding(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("198.51.100.7", "10.1.2.3")) == "198.51.100.7"


def test_a_trusted_proxy_without_x_forwarded_for_is_itself_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("10.0.0.1")) == "10.0.0.1"
    assert client_address(request_from("10.0.0.1", "10.0.0.2")) == "10.0.0.2"


def test_garbage_before_the_trusted_chain_is_not_taken_as_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(request_from("10.0.0.1", "not-an-address, 10.0.0.2")) == "10.0.0.2"


def test_ports_brackets_and_ipv4_mapped_addresses_are_understood(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    assert client_address(request_from("::ffff:10.0.0.1", "198.51.100.7:5555")) == "198.51.100.7"
    assert client_address(request_from("2001:db8::1", "[2001:db9::5]:443")) == "2001:db9::5"


def test_a_mistyped_trusted_proxy_is_refused_naming_it():
    with pytest.raises(ValueError, match="10.0.0.300"):
        parse_trusted_proxies(["10.0.0.1", "10.0.0.300"])


def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_SSL_REDIRECT = True
    # From a stranger the header is dropped: the plain-HTTP request is redirected to HTTPS.
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    # From our proxy it is believed: the request was HTTPS, no redirect.
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.1")
    assert response.status_code != 301
