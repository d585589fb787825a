"""gunicorn's settings, read by gunicorn from the directory it starts in (the image's, make run's, CI's).

R-SEC-4, R-SEC-6: whether a request came over HTTPS is decided by Django alone, from
`X-Forwarded-Proto` only when the request comes from TRUSTED_PROXIES (config/https.py). gunicorn
would otherwise decide it first: by default it believes `X-Forwarded-Proto` (and `X-Forwarded-SSL`,
`X-Forwarded-Protocol`) from 127.0.0.1, whatever TRUSTED_PROXIES says, so a client on the same host
(or a local proxy that passes the header on) escaped the HTTPS redirect with `X-Forwarded-Proto: https`.
"""

secure_scheme_headers: dict[str, str] = {}
