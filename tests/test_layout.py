"""The layout as a test (issue 12): the import contracts of pyproject.toml [tool.importlinter] hold on
this tree, and fail when someone plants a cycle between services or makes the domain import the pages.

The contracts: the apps in layers (core <- facilities <- assessments <- admissions <- api | web <-
simulation), admissions one way inside (commands and tasks <- services <- selectors <- models), and no
cycle between the modules of any package. `make lint` runs them too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "facilities", "assessments", "admissions", "api", "web", "simulation", "config")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"},
        timeout=120,
    )


def _copy_with(tmp_path: Path, module: str, planted: str) -> Path:
    """A copy of the project's packages with one import line added to `module`."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{planted}  # planted by tests/test_layout.py\n")
    return tmp_path


def test_the_import_contracts_hold_on_this_tree():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_cycle_planted_between_two_services_fails_the_contracts(tmp_path):
    # offers -> closing exists (the refusal limit); closing -> offers closes a circle.
    result = _lint(_copy_with(tmp_path, "admissions.services.closing", "from admissions.services import offers"))
    assert result.returncode == 1, result.stdout
    assert "No cycle between the modules of any package BROKEN" in result.stdout


def test_a_selector_importing_a_service_fails_the_contracts(tmp_path):
    result = _lint(_copy_with(tmp_path, "admissions.selectors", "from admissions.services import applications"))
    assert result.returncode == 1, result.stdout
    assert "admissions.selectors is not allowed to import admissions.services" in result.stdout


def test_the_domain_importing_the_pages_fails_the_contracts(tmp_path):
    result = _lint(_copy_with(tmp_path, "facilities.selectors", "import web.views.home"))
    assert result.returncode == 1, result.stdout
    assert "facilities is not allowed to import web" in result.stdout


def test_the_web_app_runs_without_the_planning_tools_requirements():
    """requirements/base.txt leaves out what only simulation/ needs (requirements/sim.txt): loading
    every URL, view, serializer, service and task of the web app imports none of it."""
    code = (
        "import sys, django, pkgutil, importlib; django.setup();\n"
        "import config.urls, config.celery, admissions.tasks\n"
        "for package in ('core', 'facilities', 'assessments', 'admissions', 'api', 'web'):\n"
        "    root = importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(root.__path__, package + '.'):\n"
        "        if '.migrations' not in info.name and '.management.commands.' not in info.name:\n"
        "            importlib.import_module(info.name)\n"
        "loaded = sorted(m for m in ('matplotlib', 'tqdm', 'time_machine') if m in sys.modules)\n"
        "print('loaded:', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
