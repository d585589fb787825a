"""Cheap guards on the deployment files: compose, Makefile and .ci/run (no database needed).

They catch the edits that break a deployment silently: a lost healthcheck, a second beat, a
worker pointed at the wrong Celery app, a CI script that no longer runs the suite.
"""

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def services() -> dict:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose["services"]


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def test_compose_defines_web_worker_beat_db_and_redis(services):
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)


@pytest.mark.parametrize("name", ["web", "worker", "beat", "db", "redis"])
def test_every_service_has_a_healthcheck_with_a_test(services, name):
    healthcheck = services[name].get("healthcheck", {})
    assert not healthcheck.get("disable", False)
    assert healthcheck.get("test"), f"{name} has no healthcheck test"


def test_beat_runs_exactly_one_replica(services):
    assert services["beat"]["deploy"]["replicas"] == 1


def test_web_worker_and_beat_share_one_image_built_once(services):
    images = {services[name].get("image") for name in APP_SERVICES}
    assert len(images) == 1 and None not in images
    built_by = [name for name in APP_SERVICES if "build" in services[name]]
    assert len(built_by) == 1, f"the image is built by {built_by}; build it in exactly one service"


def test_the_services_not_building_the_image_never_pull_it(services):
    """worker and beat use web's build: a pull of this local image name can only fail."""
    assert [services[name].get("pull_policy") for name in ("worker", "beat")] == ["never", "never"]


@pytest.mark.parametrize(
    "variable",
    ["SMS_BACKEND", "SMS_GATEWAY_URL", "SMS_GATEWAY_KEY", "SMS_TEMPLATE", "EMAIL_HOST", "EMAIL_PORT"]
    + ["EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "DEFAULT_FROM_EMAIL", "WEBHOOK_ALLOWED_HOSTS"],
)
def test_the_worker_gets_the_settings_it_sends_notifications_and_webhooks_with(services, variable):
    """R-OFF-6: without them the SMS reach only the log and email a server the container lacks."""
    assert variable in services["worker"]["environment"]
    assert services["worker"]["environment"][variable].startswith(f"${{{variable}:-")


@pytest.mark.parametrize("name,process", [("worker", "worker"), ("beat", "beat")])
def test_celery_services_load_the_config_app(services, name, process):
    words = command_words(services[name])
    assert words[0] == "celery" and process in words
    app = words[words.index("-A") + 1] if "-A" in words else None
    assert app == "config", f"{name} runs Celery app {app!r}, not config"


def test_web_migrates_before_it_starts_gunicorn(services):
    command = " ".join(command_words(services["web"]))
    assert "migrate" in command and "gunicorn" in command
    assert command.index("migrate") < command.index("gunicorn")


@pytest.mark.parametrize("target", ["run", "test"])
def test_makefile_has_the_readme_targets(target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"Makefile has no `{target}` target"


def test_ci_script_is_executable_and_runs_make_test():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run is not executable"
    code = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert any(re.search(r"\bmake test\b", line) for line in code)


def test_compose_connects_the_app_as_a_restricted_role_and_migrates_as_the_owner(services):
    """R-VER-5: two URLs with two users; web migrates and grants (as the owner) before serving."""
    import urllib.parse

    env = services["web"]["environment"]
    app = urllib.parse.urlsplit(env["DATABASE_URL"].replace("${", "").replace("}", ""))
    owner = urllib.parse.urlsplit(env["DATABASE_OWNER_URL"].replace("${", "").replace("}", ""))
    assert app.username == "waitlist_app" and owner.username == services["db"]["environment"]["POSTGRES_USER"]
    command = " ".join(services["web"]["command"])
    assert command.index("migrate") < command.index("db_roles") < command.index("gunicorn")
    assert services["worker"]["environment"]["DATABASE_URL"] == env["DATABASE_URL"]


def test_ci_sets_up_the_roles_on_postgresql():
    script = (ROOT / ".ci" / "run").read_text()
    assert "manage.py db_roles" in script and "DATABASE_OWNER_URL" in script
