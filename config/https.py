"""Whether a request came over HTTPS, when a proxy says so (R-SEC-6).

Django's SECURE_PROXY_SSL_HEADER believes `X-Forwarded-Proto` from anyone; a client could send
`https` over plain HTTP and escape the HTTPS redirect and the secure-cookie checks. This middleware,
first in MIDDLEWARE, drops the header unless the request's REMOTE_ADDR is one of TRUSTED_PROXIES
(config/proxies.py, R-SEC-4: the same setting decides both).
"""

from config.proxies import from_trusted_proxy, trusted_networks


class ForwardedProtoMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        trusted_networks()  # a mistyped TRUSTED_PROXIES entry stops the start, naming it

    def __call__(self, request):
        if "HTTP_X_FORWARDED_PROTO" in request.META and not from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)
