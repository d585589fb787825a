"""R-SEC-4: the client address is REMOTE_ADDR unless the request comes from a trusted proxy; then
the nearest untrusted address of X-Forwarded-For (config/proxies.py)."""

import pytest
from django.test import RequestFactory

from config.proxies import client_address, from_trusted_proxy


def _request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    request = _request("198.51.100.7", "203.0.113.9")
    assert not from_trusted_proxy(request)
    assert client_address(request) == "198.51.100.7"


def test_untrusted_peer_cannot_choose_its_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # The client wrote the left part; the proxy appended the real peer on the right.
        ("1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Two trusted proxies in a row: skip both.
        ("1.2.3.4, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
        ("203.0.113.9:5555", "203.0.113.9"),
        ("[2001:db8::5]:443", "2001:db8::5"),
        # A garbled entry ends the walk at the last trusted hop.
        ("203.0.113.9, not-an-address", "10.0.0.2"),
        ("", "10.0.0.2"),
    ],
)
def test_nearest_untrusted_forwarded_address(settings, forwarded, client):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    request = _request("10.0.0.2", forwarded)
    assert from_trusted_proxy(request)
    assert client_address(request) == client


def test_a_single_address_is_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    assert client_address(_request("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert client_address(_request("::1", "203.0.113.10")) == "203.0.113.10"
    assert client_address(_request("127.0.0.2", "203.0.113.9")) == "127.0.0.2"
