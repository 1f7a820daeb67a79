"""The safety net under webhooks: list what arrived since the last sync.

Nylas stops retrying a failing webhook endpoint after about 20 minutes and
never replays, so a periodic sweep per account lists messages received
since `last_synced_at` (with an overlap, because upserts make re-reading
harmless) and stores what webhooks missed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contacts.models import ContactEmail
from mailsync import backfill, nylas_client
from mailsync.headers import store_messages
from mailsync.models import AccountStatus, Backfill, EmailAccount

logger = logging.getLogger(__name__)

MAX_PAGES = 500


def accounts_to_sweep() -> list[int]:
    return list(
        EmailAccount.objects.filter(status=AccountStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )


def sweep_account(account_id: int) -> int:
    """Store the account's mail received since its last sync; return how
    many messages were kept. Raises NylasRetryableError for a later retry."""
    account = EmailAccount.objects.filter(pk=account_id).first()
    if account is None or account.status != AccountStatus.ACTIVE:
        return 0
    since = _sweep_start(account)
    if since is None:
        return 0

    started = timezone.now()
    kept, grant_valid = _store_received_since(account, since)
    if not grant_valid:
        return kept

    EmailAccount.objects.filter(pk=account.pk).filter(
        Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=started)
    ).update(last_synced_at=started)
    logger.info("Sweep of account %s kept %s messages", account.pk, kept)
    return kept


def _store_received_since(
    account: EmailAccount, since: datetime, any_email: str | None = None
) -> tuple[int, bool]:
    """List and store the account's mail received since `since`, page by
    page; return (messages kept, whether the grant was still valid)."""
    kept = 0
    cursor = ""
    try:
        for _ in range(MAX_PAGES):
            page = nylas_client.list_message_page(
                account.nylas_grant_id,
                received_after=int(since.timestamp()),
                received_before=None,
                page_token=cursor,
                limit=backfill.page_size_for(account),
                any_email=any_email,
            )
            kept += store_messages(account, page.messages).kept
            cursor = page.next_cursor
            if not cursor:
                break
    except nylas_client.GrantInvalidError as error:
        logger.info("Account %s needs reconnection: %s", account.pk, error)
        backfill.mark_reconnect_required(account, str(error))
        return kept, False
    return kept, True


def _sweep_start(account: EmailAccount) -> datetime | None:
    """From the last sync, or from where the backfill window ends."""
    overlap = timedelta(minutes=settings.MAILSYNC_SWEEP_OVERLAP_MINUTES)
    if account.last_synced_at is not None:
        return account.last_synced_at - overlap
    window_end = (
        Backfill.objects.filter(account=account)
        .values_list("window_end", flat=True)
        .first()
    )
    return window_end - overlap if window_end else None


def fetch_address_history(account_id: int, contact_email_id: int) -> int:
    """Store the last MAILSYNC_BACKFILL_DAYS of the account's mail with one
    address (a contact just saved); return how many messages were kept."""
    account = EmailAccount.objects.filter(pk=account_id).first()
    address = (
        ContactEmail.objects.filter(pk=contact_email_id)
        .values_list("email", flat=True)
        .first()
    )
    if account is None or account.status != AccountStatus.ACTIVE or not address:
        return 0
    since = timezone.now() - timedelta(days=settings.MAILSYNC_BACKFILL_DAYS)
    kept, _ = _store_received_since(account, since, any_email=address)
    logger.info(
        "History of a new contact address: account %s kept %s", account_id, kept
    )
    return kept
