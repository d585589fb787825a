"""The tests' settings (tests/settings.py: DEBUG on, a fast hasher), with the test database in a
file that every mutant's run reuses.

Each mutant runs in a process forked from mutmut's; with the usual in-memory test database every one
of them would build the database and run every migration again (seconds each, more than most mutants'
tests). tools/mutate.py deletes the file when it starts, so each `make mutate` migrates once, then
every mutant's run opens the same file (pytest --reuse-db). Tests roll their transaction back, so
what one mutant's tests write is gone before the next starts.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["TEST"] = {"NAME": os.environ["MUTATION_TEST_DATABASE"]}
