#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # DEBUG is off unless set (R-SEC-1), and then SECRET_KEY is required. A checkout with neither
    # is a developer's: its offline commands (check, migrate, makemigrations, spectacular, shell…)
    # run with DEBUG on. Never runserver, which serves pages: `make run` turns DEBUG on itself.
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command != "runserver" and "DEBUG" not in os.environ and "SECRET_KEY" not in os.environ:
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
