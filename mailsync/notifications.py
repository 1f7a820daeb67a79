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
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from mailsync import backfill, nylas_client
from mailsync.headers import store_messages
from mailsync.models import (
    AccountStatus,
    EmailAccount,
    MessageHeader,
    WebhookDelivery,
)
from mailsync.upsert import concrete_column
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
MAX_ATTEMPTS = 10
CLAIM = timedelta(minutes=5)
_drain_lock = threading.Lock()
_next_drain_at = 0.0


def accept(notification: NylasNotification) -> bool:
    """Record a verified notification once and make sure a drain will run.

    Returns False for a notification already recorded (a redelivery, or the
    loser of a race on the unique notification id). The cost per call is one
    INSERT: processing happens in the drain task, which is queued at most
    once per MAILSYNC_WEBHOOK_DRAIN_DELAY_SECONDS per process.
    """
    handled = base_type_of(notification.type) in HANDLED_TYPES
    delivery = WebhookDelivery(
        nylas_notification_id=notification.id,
        trigger_type=notification.type,
        nylas_grant_id=notification.grant_id,
        object_id=notification.object_id,
        event_time=notification.time,
        delivery_attempt=notification.attempt,
        tracking_events=list(notification.tracking_events),
        tracking_label=notification.tracking_label,
        processed_at=None if handled else timezone.now(),
    )
    if not _insert_once(delivery):
        logger.debug("Webhook %s is a redelivery", notification.id)
        return False

    if handled:
        schedule_drain()
    else:
        ignored_types[notification.type] += 1
        logger.info(
            "Webhook %s has unhandled type %s (%s seen by this process)",
            notification.id,
            notification.type,
            ignored_types[notification.type],
        )
    return True


def base_type_of(trigger_type: str) -> str:
    """message.created.truncated and message.created.metadata → message.created."""
    return ".".join(trigger_type.split(".")[:2])


def _insert_once(delivery: WebhookDelivery) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: one statement, and no exception to
    recover from when a concurrent redelivery wins the unique id."""
    values = {
        concrete_column(field): field.get_db_prep_save(
            getattr(delivery, field.attname), connection
        )
        for field in WebhookDelivery._meta.concrete_fields
        if not field.primary_key
    }
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in values)
    placeholders = ", ".join(["%s"] * len(values))
    unique = connection.ops.quote_name("nylas_notification_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT ({unique}) DO NOTHING RETURNING 1",
            list(values.values()),
        )
        return cursor.fetchone() is not None


def schedule_drain() -> None:
    """Queue the drain task unless this process queued one that has not run yet.

    Called after the delivery row is committed, so any row committed before
    `_next_drain_at` is visible to the drain queued to run at that time.
    """
    from mailsync import tasks

    global _next_drain_at
    delay = settings.MAILSYNC_WEBHOOK_DRAIN_DELAY_SECONDS
    with _drain_lock:
        now = time.monotonic()
        if now < _next_drain_at:
            return
        _next_drain_at = now + delay
    transaction.on_commit(
        lambda: tasks.drain_webhook_deliveries.apply_async(countdown=delay)
    )


def drain(batch_size: int = 100, max_batches: int = 100) -> int:
    """Process recorded deliveries until none is waiting; return how many.

    Rows are claimed with SKIP LOCKED, so several drains share the work
    without processing a row twice at the same time. A failed row gets a
    later claim time and is picked up by a later drain (the beat schedule
    runs one every minute).
    """
    done = 0
    for _ in range(max_batches):
        claimed = _claim_batch(batch_size)
        if not claimed:
            break
        for delivery_id in claimed:
            done += _process_claimed(delivery_id)
    return done


def _claim_batch(size: int) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            claimed_until=now + CLAIM, attempts=F("attempts") + 1
        )
    return ids


def _process_claimed(delivery_id: int) -> int:
    try:
        process(delivery_id)
    except nylas_client.GrantInvalidError as error:
        record_grant_failure(delivery_id, str(error))
    except nylas_client.NylasRetryableError as error:
        _retry_later(delivery_id, str(error), error.retry_after)
        return 0
    except Exception as error:
        logger.exception("Webhook delivery %s failed", delivery_id)
        _retry_later(delivery_id, f"{type(error).__name__}: {error}", None)
        return 0
    return 1


def _retry_later(delivery_id: int, error: str, retry_after: int | None) -> None:
    attempts = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .values_list("attempts", flat=True)
        .first()
        or 1
    )
    wait = retry_after if retry_after is not None else min(30 * 2**attempts, 3600)
    logger.warning("Webhook delivery %s will be retried in %s s", delivery_id, wait)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        claimed_until=timezone.now() + timedelta(seconds=wait), error=error[:500]
    )


def process(delivery_id: int) -> None:
    """Apply one recorded notification; safe to run more than once."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.processed_at is not None:
        return
    handler = HANDLERS.get(base_type_of(delivery.trigger_type))
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
    """Resume syncing and catch up once the grant works again (re-authenticated)."""
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


def record_grant_failure(delivery_id: int, error: str) -> None:
    """Close a delivery whose grant stopped working while it was handled:
    nothing more can be read for it, so the row keeps the error."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    account = _account_for(delivery)
    if account is not None:
        backfill.mark_reconnect_required(account, error)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        processed_at=timezone.now(), error=error[:500]
    )
