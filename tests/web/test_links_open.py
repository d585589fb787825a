"""Every link a page shows opens for the person it is shown to (issue 15): each demo user walks the
staff pages and the public ones from the start page, following every link on the site, and meets no
403 or 404 from a link and no 5xx. A page shows a link only to those who may follow it
(web.access.allowed_url reads the same roles as the page's own check)."""

from __future__ import annotations

import re
from collections import Counter, deque
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

HREF = re.compile(r'href="([^"#]*)')
NOT_PAGES = ("/static/", "/accounts/logout", "/staff/logout", "/i18n/", "/admin/logout")
PAGES_PER_SHAPE = 2  # two pages of each URL shape (numbers and references blanked) are enough
MAX_PAGES = 400


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def walk(client: Client, start: list[str]) -> tuple[int, list[tuple[int, str, str]]]:
    """Breadth-first over the site's own links; (pages opened, [(status, url, shown on)])."""
    seen: set[str] = set()
    per_shape: Counter[str] = Counter()
    queue = deque((url, "(start)") for url in start)
    problems = []
    opened = 0
    while queue and opened < MAX_PAGES:
        url, shown_on = queue.popleft()
        if url in seen or url.startswith(NOT_PAGES) or per_shape[shape(url)] >= PAGES_PER_SHAPE:
            continue
        seen.add(url)
        per_shape[shape(url)] += 1
        response = client.get(url)
        opened += 1
        if response.status_code >= 400:
            problems.append((response.status_code, url, shown_on))
            continue
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for href in HREF.findall(response.content.decode()):
            href = href.replace("&amp;", "&")
            if href.startswith("/") and not href.startswith("//"):
                queue.append((href, url))
    return opened, problems


@pytest.fixture
def demo_city(settings):
    settings.DEBUG = True  # seed_demo refuses to run without it
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", applications=24, stdout=StringIO())
    settings.DEBUG = False


def test_every_link_shown_to_each_demo_user_and_to_families_opens(demo_city):
    found = {}
    for username in ["intake", "assessor", "reviewer", "facility", "admin"]:
        client = Client()
        client.force_login(User.objects.get(username=username))
        opened, problems = walk(client, ["/staff/", "/"])
        assert opened > 30, f"{username} opened only {opened} pages: the walk did not get going"
        found[username] = problems
    opened, problems = walk(Client(), ["/"])
    assert opened > 3
    found["family"] = problems
    assert found == {name: [] for name in found}
