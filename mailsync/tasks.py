"""Celery tasks: thin wrappers that pass primary keys only.

No task argument, result or retry state ever contains a message body,
snippet, subject or address list, so the broker and result store hold
nothing of a message. Every task is idempotent: the backfill resumes from
its saved cursor and headers are upserted on (account, Nylas message id).
"""

from __future__ import annotations

import logging
import random

from django.conf import settings

from celery import shared_task
from celery.app.task import Task

from mailsync import backfill, nylas_client

logger = logging.getLogger(__name__)

MAX_RETRIES = 8


def retry_delay(attempt: int, retry_after: int | None) -> int:
    """Seconds to wait: the server's Retry-After when given (capped), else
    exponential backoff with jitter, capped at ten minutes."""
    if retry_after is not None:
        return min(retry_after, settings.MAILSYNC_MAX_RETRY_AFTER_SECONDS)
    backoff: int = 2**attempt * 5
    return min(backoff, 600) + random.randint(0, 5)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def backfill_account(self: Task[[int], None], account_id: int) -> None:
    try:
        backfill.run_backfill(account_id)
    except nylas_client.NylasRetryableError as error:
        logger.warning(
            "Backfill of account %s will retry (attempt %s): %s",
            account_id,
            self.request.retries + 1,
            error,
        )
        if self.request.retries >= MAX_RETRIES:
            backfill.mark_backfill_failed(account_id, str(error))
            return
        raise self.retry(
            countdown=retry_delay(self.request.retries, error.retry_after)
        ) from error


@shared_task(acks_late=True)
def drain_webhook_deliveries() -> None:
    """Process recorded webhook deliveries (queued by the endpoint and beat)."""
    from mailsync import notifications

    processed = notifications.drain()
    logger.debug("Drained %s webhook deliveries", processed)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def sweep_account(self: Task[[int], None], account_id: int) -> None:
    from mailsync import sweep

    try:
        sweep.sweep_account(account_id)
    except nylas_client.NylasRetryableError as error:
        if self.request.retries >= MAX_RETRIES:
            logger.error("Sweep of account %s gave up: %s", account_id, error)
            return
        raise self.retry(
            countdown=retry_delay(self.request.retries, error.retry_after)
        ) from error


@shared_task
def sweep_all_accounts() -> None:
    """Beat entry: queue a sweep for every connected account."""
    from mailsync import sweep

    for account_id in sweep.accounts_to_sweep():
        sweep_account.delay(account_id)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def fetch_address_history(
    self: Task[[int, int], None], account_id: int, contact_email_id: int
) -> None:
    """Fetch one new contact address's recent mail from one mailbox."""
    from mailsync import sweep

    try:
        sweep.fetch_address_history(account_id, contact_email_id)
    except nylas_client.NylasRetryableError as error:
        if self.request.retries >= MAX_RETRIES:
            logger.error("History fetch for account %s gave up: %s", account_id, error)
            return
        raise self.retry(
            countdown=retry_delay(self.request.retries, error.retry_after)
        ) from error


@shared_task(acks_late=True)
def relink_contact(contact_id: int) -> None:
    """Drop headers that stopped involving a saved contact (ids only)."""
    from mailsync import headers

    deleted = headers.relink_contact(contact_id)
    logger.info("Contact %s changed: %s headers no longer kept", contact_id, deleted)
