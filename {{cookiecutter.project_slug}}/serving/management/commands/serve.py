"""``manage.py serve``: run the production ASGI server, configured in config/server.py."""

import logging
import os
import tempfile

from django.conf import settings
from django.core.management.base import BaseCommand

from config import server

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve config.asgi:application with the production ASGI server (config/server.py)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on")

    def handle(self, *args, bind, port, **options):
        if settings.DEBUG:
            # The development .env sets it; production must not (README: "Deploying").
            self.stderr.write(
                "Warning: DJANGO_DEBUG is on: never in production (the development .env sets it)."
            )
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Every server process writes its figures here for /metrics to add
            # up (serving/metrics.py): a new directory, so none are left over.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-")
        argv = server.command(bind, port)
        # A log record, not a line on stdout: in the server's log format (LOGGING).
        logger.info("Starting %s", " ".join(argv))
        # The server replaces this process, so it gets the service manager's
        # signals (SIGTERM) itself.
        os.execv(argv[0], argv)
