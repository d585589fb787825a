"""The production settings as `loadtest` runs gunicorn with them (issue 18): config.settings as the
environment makes it, plus the bench's URLconf, which adds only the constant view every figure is
compared with (simulation/bench_urls.py). Never used by the product itself."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "simulation.bench_urls"
