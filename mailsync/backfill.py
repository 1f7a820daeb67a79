"""The resumable 90-day backfill of one mailbox's headers.

Each page is stored in one transaction together with the cursor of the next
page and the counts, so a worker killed at any point resumes from the last
committed page: pages are re-read at worst, and upserts make that harmless.
A lease on the Backfill row keeps two workers from running one account.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailsync import nylas_client
from mailsync.headers import StoreResult, store_messages
from mailsync.models import (
    AccountStatus,
    Backfill,
    BackfillStatus,
    EmailAccount,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# Written after each page. The lease token is written only when the
# backfill finishes, so a page never overwrites another worker's claim.
PAGE_FIELDS = [
    "page_cursor",
    "pages_done",
    "messages_scanned",
    "messages_kept",
    "skipped_by_reason",
    "lease_expires_at",
    "oldest_seen_at",
    "status",
    "finished_at",
]


class LeaseLost(Exception):
    """Another worker took over this backfill; this one must stop."""


def start_backfill(account: EmailAccount, days: int | None = None) -> Backfill:
    """Create or reset the account's backfill for a window ending now."""
    days = days or settings.MAILSYNC_BACKFILL_DAYS
    now = timezone.now()
    backfill, _ = Backfill.objects.update_or_create(
        account=account,
        defaults={
            "status": BackfillStatus.PENDING,
            "window_days": days,
            "window_start": now - timedelta(days=days),
            "window_end": now,
            "page_cursor": "",
            "pages_done": 0,
            "messages_scanned": 0,
            "messages_kept": 0,
            "skipped_by_reason": {},
            "oldest_seen_at": None,
            "started_at": None,
            "finished_at": None,
            "last_error": "",
            "lease_token": "",
            "lease_expires_at": None,
        },
    )
    return backfill


def extend_backfill(account: EmailAccount, days: int) -> Backfill:
    """Import older history: a window of `days` ending where the last one began."""
    backfill = Backfill.objects.get(account=account)
    backfill.window_end = backfill.window_start
    backfill.window_start = backfill.window_end - timedelta(days=days)
    backfill.window_days += days
    backfill.status = BackfillStatus.PENDING
    backfill.page_cursor = ""
    backfill.oldest_seen_at = None
    backfill.finished_at = None
    backfill.save()
    return backfill


def page_size_for(account: EmailAccount) -> int:
    """Gmail's per-user quota, not Nylas's, limits listing: keep Google pages small."""
    if account.provider == "google":
        return settings.MAILSYNC_GOOGLE_PAGE_SIZE
    return settings.MAILSYNC_PAGE_SIZE


def run_backfill(account_id: int) -> Backfill | None:
    """Fetch and store pages until the window is done; return the final state.

    Returns None when another worker holds the lease or takes it over (after
    this one stalled past its expiry). Raises
    NylasRetryableError for the caller to retry later; a GrantInvalidError
    stops the backfill and marks the account for reconnection.
    """
    token = _claim(account_id)
    if token is None:
        logger.info("Backfill of account %s is running elsewhere", account_id)
        return None

    backfill = Backfill.objects.select_related("account").get(account_id=account_id)
    try:
        _run_pages(backfill, token)
    except LeaseLost:
        logger.info("Backfill of account %s was taken over; stopping", account_id)
        return None
    except nylas_client.GrantInvalidError as error:
        _stop_for_reconnect(backfill, str(error))
    except nylas_client.NylasRetryableError as error:
        _release(backfill, token, str(error))
        raise
    return backfill


def _run_pages(backfill: Backfill, token: str) -> None:
    """Store pages in order while the next one is fetched in the background.

    The next page's cursor is known as soon as a page arrives, so listing
    page N+1 overlaps storing page N; the cursor saved with page N is still
    the one of page N+1, so a crash loses nothing.
    """
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-list")
    try:
        pending = prefetch.submit(_list_page, backfill, backfill.page_cursor)
        while backfill.status == BackfillStatus.RUNNING:
            try:
                page = pending.result()
            except nylas_client.NylasRequestError:
                if not backfill.page_cursor:
                    raise
                _restart_after_rejected_cursor(backfill, token)
                pending = prefetch.submit(_list_page, backfill, "")
                continue
            if page.next_cursor:
                pending = prefetch.submit(_list_page, backfill, page.next_cursor)
            _store_page(backfill, token, page)
    finally:
        prefetch.shutdown(wait=False, cancel_futures=True)


def _list_page(backfill: Backfill, cursor: str) -> nylas_client.MessagePage:
    account = backfill.account
    return nylas_client.list_message_page(
        account.nylas_grant_id,
        received_after=int(backfill.window_start.timestamp()),
        received_before=int(backfill.window_end.timestamp()),
        page_token=cursor,
        limit=page_size_for(account),
    )


def _store_page(backfill: Backfill, token: str, page: nylas_client.MessagePage) -> None:
    with transaction.atomic():
        _check_lease(backfill, token)
        result = store_messages(backfill.account, page.messages)
        _record_page(backfill, result, len(page.messages), page.next_cursor)
    logger.debug(
        "Backfill of account %s stored page %s: %s kept of %s",
        backfill.account_id,
        backfill.pages_done,
        result.kept,
        len(page.messages),
    )


def _claim(account_id: int) -> str | None:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimable = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    claimed = (
        Backfill.objects.filter(account_id=account_id)
        .filter(claimable)
        .exclude(status__in=[BackfillStatus.FINISHED, BackfillStatus.STOPPED])
        .update(
            lease_token=token,
            lease_expires_at=now + LEASE,
            status=BackfillStatus.RUNNING,
            last_error="",
        )
    )
    if not claimed:
        return None
    Backfill.objects.filter(account_id=account_id, started_at__isnull=True).update(
        started_at=now
    )
    return token


def _record_page(
    backfill: Backfill, result: StoreResult, scanned: int, next_cursor: str
) -> None:
    now = timezone.now()
    skipped = dict(backfill.skipped_by_reason)
    for reason, count in result.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + count

    backfill.page_cursor = next_cursor
    backfill.pages_done += 1
    backfill.messages_scanned += scanned
    backfill.messages_kept += result.kept
    backfill.skipped_by_reason = skipped
    backfill.lease_expires_at = now + LEASE
    if result.oldest_date and (
        backfill.oldest_seen_at is None or result.oldest_date < backfill.oldest_seen_at
    ):
        backfill.oldest_seen_at = result.oldest_date
    if not next_cursor:
        backfill.status = BackfillStatus.FINISHED
        backfill.finished_at = now
        backfill.lease_token = ""
        backfill.lease_expires_at = None
    fields = [*PAGE_FIELDS, "lease_token"] if not next_cursor else PAGE_FIELDS
    backfill.save(update_fields=fields)

    if not next_cursor:
        _mark_synced(backfill.account, backfill.window_end)
        logger.info(
            "Backfill of account %s finished: %s pages, %s scanned, %s kept",
            backfill.account_id,
            backfill.pages_done,
            backfill.messages_scanned,
            backfill.messages_kept,
        )


def _mark_synced(account: EmailAccount, synced_until: object) -> None:
    """Move last_synced_at forward only: a sweep may already be further on."""
    EmailAccount.objects.filter(pk=account.pk).filter(
        Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=synced_until)
    ).update(last_synced_at=synced_until)


def _restart_after_rejected_cursor(backfill: Backfill, token: str) -> None:
    """Nylas rejected a saved cursor (expired): list again from the oldest
    message already stored, with one second of overlap, without a cursor."""
    logger.warning("Cursor of account %s rejected; restarting", backfill.account_id)
    with transaction.atomic():
        _check_lease(backfill, token)
        if backfill.oldest_seen_at is not None:
            backfill.window_end = backfill.oldest_seen_at + timedelta(seconds=1)
        backfill.page_cursor = ""
        backfill.save(update_fields=["window_end", "page_cursor"])


def _check_lease(backfill: Backfill, token: str) -> None:
    current = (
        Backfill.objects.select_for_update()
        .filter(pk=backfill.pk)
        .values_list("lease_token", flat=True)
        .first()
    )
    if current != token:
        raise LeaseLost(f"Backfill {backfill.pk} lease was taken by another worker.")


def _release(backfill: Backfill, token: str, error: str) -> None:
    Backfill.objects.filter(pk=backfill.pk, lease_token=token).update(
        lease_token="", lease_expires_at=None, last_error=error[:500]
    )


def _stop_for_reconnect(backfill: Backfill, error: str) -> None:
    logger.info("Backfill of account %s stopped: grant invalid", backfill.account_id)
    Backfill.objects.filter(pk=backfill.pk).update(
        status=BackfillStatus.STOPPED,
        lease_token="",
        lease_expires_at=None,
        last_error=error[:500],
    )
    backfill.refresh_from_db()
    mark_reconnect_required(backfill.account, error)


def mark_reconnect_required(account: EmailAccount, reason: str) -> None:
    EmailAccount.objects.filter(pk=account.pk).update(
        status=AccountStatus.RECONNECT_REQUIRED, status_reason=reason[:200]
    )


def resume_stopped_backfill(account: EmailAccount) -> Backfill | None:
    """After a reconnect, let a stopped backfill continue from its cursor."""
    updated = Backfill.objects.filter(
        account=account, status__in=[BackfillStatus.STOPPED, BackfillStatus.FAILED]
    ).update(status=BackfillStatus.PENDING, lease_token="", lease_expires_at=None)
    return Backfill.objects.filter(account=account).first() if updated else None


def mark_backfill_failed(account_id: int, error: str) -> None:
    logger.error("Backfill of account %s gave up after retries", account_id)
    Backfill.objects.filter(account_id=account_id).update(
        status=BackfillStatus.FAILED, last_error=error[:500]
    )
