from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chat.models import Message


class Command(BaseCommand):
    help = "Delete the stored messages older than --days days (deploy/ runs it daily)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, required=True, help="keep the messages of the last N days"
        )

    def handle(self, *args, days, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = Message.objects.filter(created__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} messages older than {days} days.")
