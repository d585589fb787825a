"""R-SEC-6: a Content-Security-Policy with no inline script, and templates that need none."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines

TEMPLATE_DIRS = [Path(d) for d in engines["django"].engine.dirs] + [
    Path(settings.BASE_DIR) / app / "templates" for app in ("facilities", "assessments", "admissions", "api")
]
TEMPLATES = sorted(path for folder in TEMPLATE_DIRS if folder.is_dir() for path in folder.rglob("*.html"))


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", ["/en/accounts/login/", "/", "/api/docs/"])
def test_pages_carry_a_policy_that_allows_no_inline_script_or_style(client, path):
    directives = policy(client.get(path))
    for name in ("script-src", "style-src"):
        assert directives[name] == ["'self'"], name  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_api_docs_page_loads_its_script_from_a_url(client):
    page = client.get("/api/docs/").content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(settings.BASE_DIR)))
def test_no_template_has_an_inline_script_style_or_event_handler(template):
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>: move it to static/js"
    assert "<style" not in text, "inline <style>: move it to static/css"
    assert not re.search(r"\sstyle\s*=", text), "style attribute: use a class in static/css"
    assert not re.search(r"\son[a-z]+\s*=", text), "event handler attribute: use static/js"
