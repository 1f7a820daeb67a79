"""What each Nylas notification does to our store.

Message notifications are treated as "this message may have changed":
the handler re-reads the message's headers from Nylas (with `select`, so
no body) and stores them by the same rule as the backfill. Arrival order
therefore does not matter: created and updated are the same upsert, a
late or repeated notification re-reads the same current state, and a
message already reported deleted stays deleted.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailsync import backfill, nylas_client
from mailsync.headers import store_messages
from mailsync.models import (
    AccountStatus,
    EmailAccount,
    MessageHeader,
    WebhookDelivery,
)
from mailsync.webhooks import NylasNotification

logger = logging.getLogger(__name__)

MESSAGE_CHANGED = {"message.created", "message.updated"}
HANDLED_TYPES = MESSAGE_CHANGED | {
    "message.deleted",
    "message.opened",
    "thread.replied",
    "grant.created",
    "grant.updated",
    "grant.expired",
    "grant.deleted",
}
ignored_types: Counter[str] = Counter()


def accept(notification: NylasNotification) -> WebhookDelivery | None:
    """Record a verified notification once and queue its processing.

    Returns None for a notification already recorded (a redelivery). A race
    between two deliveries of one id ends in the unique constraint, which
    counts as "already recorded".
    """
    from mailsync import tasks

    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                nylas_notification_id=notification.id,
                trigger_type=notification.type,
                nylas_grant_id=notification.grant_id,
                object_id=notification.object_id,
                event_time=notification.time,
                delivery_attempt=notification.attempt,
                tracking_events=list(notification.tracking_events),
            )
    except IntegrityError:
        logger.debug("Webhook %s is a redelivery", notification.id)
        return None

    if notification.base_type not in HANDLED_TYPES:
        ignored_types[notification.type] += 1
        logger.info(
            "Webhook %s has unhandled type %s (%s seen by this process)",
            notification.id,
            notification.type,
            ignored_types[notification.type],
        )
        _mark_processed(delivery)
        return delivery

    transaction.on_commit(lambda: tasks.process_webhook_delivery.delay(delivery.pk))
    return delivery


def process(delivery_id: int) -> None:
    """Apply one recorded notification; safe to run more than once."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.processed_at is not None:
        return
    base_type = ".".join(delivery.trigger_type.split(".")[:2])
    handler = HANDLERS.get(base_type)
    if handler is not None:
        handler(delivery)
    _mark_processed(delivery)


def _mark_processed(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        processed_at=timezone.now(), error=""
    )


def _account_for(delivery: WebhookDelivery) -> EmailAccount | None:
    account = EmailAccount.objects.filter(
        nylas_grant_id=delivery.nylas_grant_id
    ).first()
    if account is None:
        logger.info("Webhook %s is for unknown grant", delivery.nylas_notification_id)
    return account


def handle_message_changed(delivery: WebhookDelivery) -> None:
    account = _account_for(delivery)
    if account is None or not delivery.object_id:
        return
    sync_one_message(account, delivery.object_id)


def sync_one_message(account: EmailAccount, message_id: str) -> None:
    """Store the current headers of one message, or drop it if it is gone."""
    try:
        summary = nylas_client.find_message_summary(account.nylas_grant_id, message_id)
    except nylas_client.NylasNotFoundError:
        _delete_header(account, message_id)
        return

    result = store_messages(account, [summary])
    if result.kept == 0 or _reported_deleted(account, message_id):
        # It no longer involves a saved contact, or a deletion was reported
        # while we were reading it: either way it must not stay stored.
        _delete_header(account, message_id)


def _reported_deleted(account: EmailAccount, message_id: str) -> bool:
    return WebhookDelivery.objects.filter(
        nylas_grant_id=account.nylas_grant_id,
        object_id=message_id,
        trigger_type="message.deleted",
    ).exists()


def handle_message_deleted(delivery: WebhookDelivery) -> None:
    account = _account_for(delivery)
    if account is not None:
        _delete_header(account, delivery.object_id)


def _delete_header(account: EmailAccount, message_id: str) -> None:
    MessageHeader.objects.filter(account=account, nylas_message_id=message_id).delete()


def handle_grant_invalid(delivery: WebhookDelivery) -> None:
    account = _account_for(delivery)
    if account is not None:
        logger.info(
            "Account %s needs reconnection (%s)", account.pk, delivery.trigger_type
        )
        backfill.mark_reconnect_required(
            account, f"Nylas reported {delivery.trigger_type}."
        )


def handle_grant_valid(delivery: WebhookDelivery) -> None:
    """The grant works again (re-authenticated): resume syncing and catch up."""
    from mailsync import tasks

    account = _account_for(delivery)
    if account is None:
        return
    updated = EmailAccount.objects.filter(
        pk=account.pk, status=AccountStatus.RECONNECT_REQUIRED
    ).update(status=AccountStatus.ACTIVE, status_reason="")
    if updated:
        backfill.resume_stopped_backfill(account)
        tasks.backfill_account.delay(account.pk)
        tasks.sweep_account.delay(account.pk)


def handle_tracking(delivery: WebhookDelivery) -> None:
    """Read receipts and replies are applied by mailsync.tracking."""
    from mailsync import tracking

    tracking.apply(delivery)


HANDLERS: dict[str, Callable[[WebhookDelivery], None]] = {
    "message.created": handle_message_changed,
    "message.updated": handle_message_changed,
    "message.deleted": handle_message_deleted,
    "message.opened": handle_tracking,
    "thread.replied": handle_tracking,
    "grant.created": handle_grant_valid,
    "grant.updated": handle_grant_valid,
    "grant.expired": handle_grant_invalid,
    "grant.deleted": handle_grant_invalid,
}


def record_failure(delivery_id: int, error: str) -> None:
    logger.error("Webhook delivery %s failed after retries: %s", delivery_id, error)
    WebhookDelivery.objects.filter(pk=delivery_id).update(error=error[:500])


def record_grant_failure(delivery_id: int, error: str) -> None:
    """The grant stopped working while handling a notification."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    account = _account_for(delivery)
    if account is not None:
        backfill.mark_reconnect_required(account, error)
    WebhookDelivery.objects.filter(pk=delivery_id).update(error=error[:500])
