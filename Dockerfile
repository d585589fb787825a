# syntax=docker/dockerfile:1
# One image for every process: docker-compose.yml runs it as web (gunicorn), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=3

# gettext compiles the translations below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

# The processes run as this user. The code stays owned by root, so a compromised process cannot
# rewrite it; the user owns only the folders it must write (uploads, beat's schedule).
RUN groupadd --system app && useradd --system --gid app --create-home --home-dir /home/app app

WORKDIR /app

# Requirements before the code, so that a code change does not reinstall them.
COPY requirements/ requirements/
RUN pip install -r requirements/prod.txt

COPY . .

# Static files and translations are built into the image. DEBUG=0 selects the manifest storage
# that production serves; the settings refuse to load without a SECRET_KEY when DEBUG is off,
# and this one is thrown away with the build step (nothing signed at build time).
RUN export DEBUG=0 SECRET_KEY=build-time-only-not-a-secret \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && if command -v msgfmt >/dev/null && find . -path '*/locale/*' -name '*.po' | grep -q .; then \
           python manage.py compilemessages --verbosity 0; \
       fi \
    && mkdir -p /app/media /app/var \
    && chown app:app /app/media /app/var

USER app
EXPOSE 8000

# gunicorn reads its worker count from WEB_CONCURRENCY (3 unless the environment says otherwise);
# access and error logs go to stdout/stderr, where `docker compose logs` finds them.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--error-logfile", "-"]
