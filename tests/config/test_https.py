"""config/https.py: X-Forwarded-Proto is believed only from TRUSTED_PROXIES (R-SEC-4, R-SEC-6).
(Who the client is behind them: config/proxies.py, tested in tests/test_proxies.py.)"""

import pytest

from config.https import ForwardedProtoMiddleware


def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_SSL_REDIRECT = True
    # From a stranger the header is dropped: the plain-HTTP request is redirected to HTTPS.
    response = client.get("/api/schema/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    # From our proxy it is believed: the request was HTTPS, no redirect.
    response = client.get("/api/schema/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200


def test_a_mistyped_trusted_proxy_stops_the_start_naming_it(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1", "10.0.0.300"]
    with pytest.raises(ValueError, match="10.0.0.300"):
        ForwardedProtoMiddleware(lambda request: None)
