"""gunicorn's settings, read by gunicorn from the directory it starts in (the image's, make run's, CI's).

R-SEC-4, R-SEC-6: whether a request came over HTTPS is decided by Django alone, from
`X-Forwarded-Proto` only when the request comes from TRUSTED_PROXIES (config/https.py). gunicorn
would otherwise decide it first: by default it believes `X-Forwarded-Proto` (and `X-Forwarded-SSL`,
`X-Forwarded-Protocol`) from 127.0.0.1, whatever TRUSTED_PROXIES says, so a client on the same host
(or a local proxy that passes the header on) escaped the HTTPS redirect with `X-Forwarded-Proto: https`.

Threaded workers (issue 18): a sync worker closes every connection after one answer and serves
one connection at a time, so a client that pauses between requests (a family's phone, the load
generator's paced connections) connects again, and the worker that accepts the new connection
waits on it, idle, until the next request arrives, while every request behind it waits: in the
publication-day mix lookups waited about a second so. A gthread worker keeps connections alive and
sets idle ones aside (no thread held), and runs a short lookup beside a long staff page. The
workers' count is WEB_CONCURRENCY (gunicorn's own reading, 3 in the image: see the README); the
threads are GUNICORN_THREADS, 4 by default (each thread keeps its own database connection; with 1,
gunicorn falls back to a sync worker).
"""

import os

secure_scheme_headers: dict[str, str] = {}

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
