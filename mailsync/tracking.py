"""Read receipts (message.opened) and replies (thread.replied) on sent mail."""

from __future__ import annotations

import logging

from mailsync.models import WebhookDelivery

logger = logging.getLogger(__name__)


def apply(delivery: WebhookDelivery) -> None:
    # TODO: record opens and replies when compose and read receipts land.
    logger.debug("Tracking notification %s recorded", delivery.nylas_notification_id)
