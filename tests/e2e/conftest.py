"""End-to-end tests in a real browser: Playwright for Python driving Debian's `chromium`
(/usr/bin/chromium; never a downloaded browser), with axe-core from the npm registry injected into
every page checked (`npm ci` installs it into node_modules). `.ci/run` installs both; on a machine
without them these tests are skipped, saying which is missing.

Screenshots go to artifacts/screenshots/ (kept by CI as artifacts).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# WCAG 2.1 AA (issue 4, R-PUB-5).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

missing = []
if not Path(CHROMIUM).exists():
    missing.append("Debian's chromium package (apt-get install chromium)")
if not AXE.exists():
    missing.append("axe-core (npm ci)")
try:
    import playwright.sync_api  # noqa: F401
except ImportError:  # pragma: no cover - dev requirements install it
    missing.append("playwright (pip install -r requirements/dev.txt)")

pytestmark = pytest.mark.skipif(bool(missing), reason="needs " + ", ".join(missing))

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make between
# browser steps are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if missing:
        pytest.skip("needs " + ", ".join(missing))  # chromium, axe-core or playwright is not installed
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_factory(browser):
    contexts = []

    def make(*, viewport=None, locale="zh-CN"):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale=locale)
        # axe-core comes in as an init script, which the page's Content-Security-Policy does not
        # govern (R-SEC-6 allows no inline script, so a <script> tag with its text would be refused).
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()
        # Whatever the policy refuses (an inline script or style left in a page) fails check_page.
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                page.csp_violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.1 AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):  # a page made without page_factory
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page, name: str) -> None:
    """Screenshot the page and fail on any serious or critical accessibility violation."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    violations = axe_violations(page)
    assert violations == [], f"{name}: " + json.dumps(violations, ensure_ascii=False, indent=1)
    assert getattr(page, "csp_violations", []) == [], (
        f"{name}: refused by the Content-Security-Policy: {page.csp_violations}"
    )


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Browser tests are transactional (the live server reads committed data); the flush between
    tests removes the seeded districts, policy and calendar, so they are made again."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        from tests.reference_data import ensure_reference_data

        ensure_reference_data()


PHONE = {"width": 390, "height": 844}


def travel(moment):
    """The whole process at `moment`, the live server's thread included, the clock running on: the
    stories that last months move through them (time_machine; chromium keeps its own clock)."""
    import time_machine

    return time_machine.travel(moment, tick=True)


def status_on_a_phone(page_factory, live_server, application):
    """The family's status page on a phone, in Chinese: a new lookup code (as the intake office gives
    one) typed after opening the page with the reference, as the receipt's QR code does. Returns the
    page and the code."""
    from django.urls import reverse
    from django.utils import translation
    from playwright.sync_api import expect

    from admissions.services.applications import lookup_code_issue
    from tests.factories import actor

    code = lookup_code_issue(application=application, actor=actor("intake"))
    page = page_factory(viewport=PHONE)
    with translation.override("zh-hans"):
        status = reverse("portal:status")
    page.goto(f"{live_server.url}{status}?reference={application.reference}")
    page.fill("#id_code", code)
    page.click("form.lookup-form button[type=submit]")
    expect(page.locator("h1[data-lookup-done]")).to_be_visible()
    return page, code


def staff_page_on_a_phone(page_factory, live_server, username: str, password: str, *, language: str):
    """A new phone-sized browser context in `language`, logged in as `username` through the login page."""
    from django.urls import reverse
    from django.utils import translation

    with translation.override(language):
        login = reverse("login")
    page = page_factory(viewport=PHONE, locale="zh-CN" if language == "zh-hans" else "en-GB")
    page.goto(live_server.url + login)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    return page
