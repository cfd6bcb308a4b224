#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import importlib
import os
import sys


def main():
    """Run administrative tasks; exit with one line when the settings cannot load.

    Settings come from the environment, so a missing or malformed value
    (DJANGO_SECRET_KEY, REDIS_URL, ...) raises ImproperlyConfigured on import:
    that message alone, not a traceback through Django's start-up, is what
    the person starting the server needs to read.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except ImproperlyConfigured as error:
        sys.exit(f"ImproperlyConfigured: {error}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
