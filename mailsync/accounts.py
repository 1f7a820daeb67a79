"""Account lifecycle: start syncing after a connect, disconnect."""

from __future__ import annotations

import logging

from django.db import transaction

from mailsync import backfill, nylas_client
from mailsync.connect import ConnectOutcome
from mailsync.models import Backfill, EmailAccount

logger = logging.getLogger(__name__)


def start_syncing(outcome: ConnectOutcome) -> None:
    """Queue the backfill of a new account, or resume one after a reconnect."""
    from mailsync import tasks

    account = outcome.account
    has_backfill = Backfill.objects.filter(account=account).exists()
    if not has_backfill:
        backfill.start_backfill(account)
    elif outcome.reconnected:
        backfill.resume_stopped_backfill(account)
        # Catch up on mail that arrived while the grant was invalid.
        transaction.on_commit(lambda: tasks.sweep_account.delay(account.pk))
    transaction.on_commit(lambda: tasks.backfill_account.delay(account.pk))


def disconnect(account: EmailAccount) -> None:
    """Revoke the grant at Nylas, then delete the account and its headers.

    Raises NylasRetryableError when Nylas cannot be reached, and then
    nothing is deleted: a grant we forgot but Nylas kept would still hold
    access to the mailbox.
    """
    nylas_client.revoke_grant(account.nylas_grant_id)
    account_id = account.pk
    account.delete()
    logger.info("Account %s disconnected; its headers are deleted", account_id)
