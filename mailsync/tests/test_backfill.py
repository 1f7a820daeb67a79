"""The backfill through the real SDK against the Nylas emulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth.models import User
from django.utils import timezone

import pytest
import requests
from celery.exceptions import Retry

from conftest import EmulatorControl
from contacts.addresses import base_address, normalise_email
from contacts.models import Contact, Organisation
from mailsync import backfill, headers, nylas_client, tasks
from mailsync.models import (
    AccountStatus,
    Backfill,
    BackfillStatus,
    EmailAccount,
    MessageHeader,
)

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "alice@acme.example.com"
GRANT = "grant-alice"


@pytest.fixture
def mailbox(emulator: EmulatorControl) -> EmulatorControl:
    emulator.add_generated_mailbox(OWNER, count=400, days=120, grant_id=GRANT)
    return emulator


@pytest.fixture
def account(
    make_account: Callable[..., EmailAccount],
    alice: User,
    settings: Any,
    saved_contacts: set[str],
) -> EmailAccount:
    """Alice's mailbox, connected after the contacts were saved (saving a
    contact while a mailbox is connected fetches that contact's history)."""
    settings.MAILSYNC_PAGE_SIZE = 25
    return make_account(alice, email=OWNER, grant_id=GRANT, provider="imap")


@pytest.fixture
def saved_contacts(
    mailbox: EmulatorControl, make_contact: Callable[..., Contact], org_a: Organisation
) -> set[str]:
    """Save half of the generated mailbox's correspondents as contacts."""
    people = mailbox.get("/_emulator/mailboxes/x/correspondents")["data"]
    saved = set()
    for person in people[::2]:
        make_contact(org_a, person["name"], person["email"])
        saved.add(normalise_email(person["email"]))
    return saved


def expected_ids(
    emulator: EmulatorControl, saved: set[str], days: int = 90
) -> set[str]:
    """Independently compute which messages the backfill must keep."""
    since = (timezone.now() - timedelta(days=days)).timestamp()
    owner = base_address(OWNER)
    kept = set()
    for message in emulator.mailbox_messages(OWNER):
        if message["date"] < since:
            continue
        addresses = {
            normalise_email(entry["email"])
            for role in ("from", "to", "cc", "bcc", "reply_to")
            for entry in message.get(role) or []
        }
        others = {a for a in addresses if base_address(a) != owner}
        if others & saved:
            kept.add(message["id"])
    return kept


def stored_ids() -> list[str]:
    return list(MessageHeader.objects.values_list("nylas_message_id", flat=True))


def test_backfill_stores_exactly_the_contact_mail(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)

    state = backfill.run_backfill(account.pk)

    assert state is not None
    assert state.status == BackfillStatus.FINISHED
    assert set(stored_ids()) == expected_ids(mailbox, saved_contacts)
    assert len(stored_ids()) == len(set(stored_ids()))


def test_backfill_counts_every_message_it_scanned(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)

    state = backfill.run_backfill(account.pk)

    assert state is not None
    in_window = expected_ids(mailbox, saved_contacts)
    assert state.messages_kept == len(in_window)
    assert state.messages_scanned == state.messages_kept + state.messages_skipped
    assert state.messages_skipped > 0


def test_backfill_never_requests_body_or_snippet(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    with mock.patch(
        "nylas.handler.http_client.requests.request", wraps=requests.request
    ) as sent:
        backfill.run_backfill(account.pk)

    listing_urls = [c.args[1] for c in sent.call_args_list if "/messages" in c.args[1]]
    assert listing_urls
    for url in listing_urls:
        selected = parse_qs(urlsplit(url).query)["select"][0].split(",")
        assert "body" not in selected
        assert "snippet" not in selected


@pytest.mark.parametrize("crash_after_pages", [1, 2, 5])
def test_backfill_resumes_after_crash_without_gaps(
    mailbox: EmulatorControl,
    account: EmailAccount,
    saved_contacts: set[str],
    crash_after_pages: int,
) -> None:
    backfill.start_backfill(account)
    calls = {"pages": 0}
    real_store = headers.store_messages

    def crashing_store(*args: Any, **kwargs: Any) -> Any:
        calls["pages"] += 1
        if calls["pages"] > crash_after_pages:
            raise SystemExit("worker killed")
        return real_store(*args, **kwargs)

    with (
        mock.patch("mailsync.backfill.store_messages", crashing_store),
        pytest.raises(SystemExit),
    ):
        backfill.run_backfill(account.pk)
    Backfill.objects.filter(account=account).update(lease_expires_at=timezone.now())

    state = backfill.run_backfill(account.pk)

    assert state is not None
    assert state.status == BackfillStatus.FINISHED
    assert set(stored_ids()) == expected_ids(mailbox, saved_contacts)
    assert len(stored_ids()) == len(set(stored_ids()))
    assert state.messages_scanned == state.messages_kept + state.messages_skipped


def test_second_worker_does_not_run_a_leased_backfill(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    Backfill.objects.filter(account=account).update(
        lease_token="other-worker",
        lease_expires_at=timezone.now() + timedelta(minutes=1),
    )

    assert backfill.run_backfill(account.pk) is None
    assert stored_ids() == []


def test_rate_limit_raises_retryable_with_retry_after(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    mailbox.fault(kind="rate_limit", grant_id=GRANT, count=1, retry_after=7)

    with pytest.raises(nylas_client.NylasRetryableError) as raised:
        backfill.run_backfill(account.pk)

    assert raised.value.retry_after == 7
    state = Backfill.objects.get(account=account)
    assert state.lease_token == ""
    assert "429" in state.last_error


def test_task_retries_through_429_and_5xx_then_finishes(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    mailbox.fault(kind="rate_limit", grant_id=GRANT, count=1, retry_after=11)
    mailbox.fault(kind="server_error", status=503, count=2)
    delays = []

    for _ in range(10):
        try:
            tasks.backfill_account.delay(account.pk)
            break
        except Retry as retry:
            delays.append(retry.when)

    assert delays[0] == 11
    assert len(delays) == 3
    state = Backfill.objects.get(account=account)
    assert state.status == BackfillStatus.FINISHED
    assert set(stored_ids()) == expected_ids(mailbox, saved_contacts)


def test_expired_grant_stops_backfill_and_asks_reconnect(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    mailbox.post(f"/_emulator/grants/{GRANT}/expire")

    backfill.run_backfill(account.pk)

    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT_REQUIRED
    assert Backfill.objects.get(account=account).status == BackfillStatus.STOPPED


def test_reconnect_resumes_stopped_backfill(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    mailbox.post(f"/_emulator/grants/{GRANT}/expire")
    backfill.run_backfill(account.pk)
    mailbox.post(f"/_emulator/grants/{GRANT}/restore")

    backfill.resume_stopped_backfill(account)
    state = backfill.run_backfill(account.pk)

    assert state is not None
    assert state.status == BackfillStatus.FINISHED
    assert set(stored_ids()) == expected_ids(mailbox, saved_contacts)


def test_google_mailbox_is_listed_in_small_pages(
    mailbox: EmulatorControl,
    account: EmailAccount,
    saved_contacts: set[str],
    settings: Any,
) -> None:
    EmailAccount.objects.filter(pk=account.pk).update(provider="google")
    settings.MAILSYNC_GOOGLE_PAGE_SIZE = 40
    backfill.start_backfill(account)

    state = backfill.run_backfill(account.pk)

    assert state is not None
    assert state.pages_done >= state.messages_scanned // 40
    assert state.pages_done > 1


def test_progress_fraction_reaches_one_when_finished(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)

    state = backfill.run_backfill(account.pk)

    assert state is not None
    assert state.fraction_done == 1.0
    account.refresh_from_db()
    assert account.last_synced_at == state.window_end


def test_worker_whose_lease_was_taken_stops_quietly(
    mailbox: EmulatorControl, account: EmailAccount, saved_contacts: set[str]
) -> None:
    backfill.start_backfill(account)
    real_store = headers.store_messages

    def store_then_lose_lease(*args: Any, **kwargs: Any) -> Any:
        Backfill.objects.filter(account=account).update(lease_token="other-worker")
        return real_store(*args, **kwargs)

    with mock.patch("mailsync.backfill.store_messages", store_then_lose_lease):
        result = backfill.run_backfill(account.pk)

    assert result is None
    assert Backfill.objects.get(account=account).lease_token == "other-worker"
