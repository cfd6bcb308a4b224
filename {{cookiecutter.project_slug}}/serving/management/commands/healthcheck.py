"""``manage.py healthcheck``: is the server on this machine alive, or ready?

The image's HEALTHCHECK asks for liveness (``/healthz/``), compose's web
service for readiness (``--ready``: ``/readyz/``); README: "Operations".
"""

import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse


def allowed_host() -> str:
    """Return a Host header that ALLOWED_HOSTS accepts: its first named host, else localhost.

    A leading dot (".example.com") allows the domain itself too; "*" names no
    host, and with an empty list and DEBUG on Django allows localhost.
    """
    named = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if host != "*"]
    return named[0] if named else "localhost"


class Command(BaseCommand):
    help = (
        "Exit 0 if the server on 127.0.0.1 answers GET /healthz/ (with --ready, /readyz/) "
        "with 200, else exit 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="the server's port")
        parser.add_argument("--timeout", type=float, default=5, help="seconds to wait")
        parser.add_argument(
            "--ready",
            action="store_true",
            help="ask /readyz/ (database and channel layer work) instead of /healthz/",
        )

    def handle(self, *args, port, timeout, ready, **options):
        # The request comes as the proxy would send it: an allowed Host, and
        # HTTPS said by X-Forwarded-Proto (no redirect to https://).
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{reverse('serving:ready' if ready else 'serving:health')}",
            headers={"Host": allowed_host(), "X-Forwarded-Proto": "https"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            raise CommandError(f"no answer from 127.0.0.1:{port}: {error}") from error
        if status != 200:
            raise CommandError(f"127.0.0.1:{port} answered {request.selector} with {status}")
        self.stdout.write(f"127.0.0.1:{port} is {'ready' if ready else 'alive'}")
