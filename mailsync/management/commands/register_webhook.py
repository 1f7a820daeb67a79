"""Register (or update) the Nylas webhook destination and store its secret."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mailsync import notifications, nylas_client, webhooks
from mailsync.models import WebhookSecret

# Subscribe to exactly the triggers the notification handlers act on.
TRIGGERS = sorted(notifications.HANDLED_TYPES)


class Command(BaseCommand):
    help = (
        "Create or update the Nylas webhook destination for this site's endpoint "
        "and store its signing secret in the database. With --rotate, replace the "
        "secret; the previous one stays valid for two hours so that deliveries "
        "already signed with it are still accepted."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--url",
            help="public URL of the endpoint (default: SITE_URL + /nylas/webhook/)",
        )
        parser.add_argument(
            "--rotate", action="store_true", help="rotate the signing secret"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or settings.SITE_URL.rstrip("/") + reverse(
            "mailsync:webhook"
        )
        try:
            destination = nylas_client.register_webhook(url, TRIGGERS, "Convex CRM")
            secret = destination.secret
            if options["rotate"] or not secret:
                if not options["rotate"] and self._has_secret(destination.id):
                    self.stdout.write(
                        f"Updated destination {destination.id} for {url}."
                    )
                    return
                secret = nylas_client.rotate_webhook_secret(destination.id)
        except nylas_client.NylasError as error:
            raise CommandError(f"Registering {url} failed: {error}") from error
        if not secret:
            raise CommandError(
                f"Nylas returned no secret for destination {destination.id}."
            )

        self._store_secret(destination.id, secret)
        self.stdout.write(f"Destination {destination.id} for {url} has a new secret.")

    def _has_secret(self, webhook_id: str) -> bool:
        return WebhookSecret.objects.filter(
            nylas_webhook_id=webhook_id, retired_at__isnull=True
        ).exists()

    def _store_secret(self, webhook_id: str, secret: str) -> None:
        with transaction.atomic():
            WebhookSecret.objects.filter(retired_at__isnull=True).update(
                retired_at=timezone.now()
            )
            WebhookSecret.objects.create(nylas_webhook_id=webhook_id, secret=secret)
        webhooks.forget_cached_secrets()
