"""Webhooks from the emulator to a live server: chaos, outages and the sweep."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command

import pytest
import requests

from conftest import EmulatorControl
from contacts.addresses import normalise_email
from contacts.models import Contact, Organisation
from mailsync import sweep, webhooks
from mailsync.models import EmailAccount, MessageHeader, WebhookDelivery, WebhookSecret

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "alex.morgan@acme.example.com"
GRANT = "grant-alex"
PEOPLE = [f"person{number}@customer{number % 7}.example" for number in range(40)]


@pytest.fixture
def alex_account(
    make_user: Callable[..., User],
    make_account: Callable[..., EmailAccount],
    org_a: Organisation,
    contacts: set[str],
) -> EmailAccount:
    """Alex's mailbox, connected after the contacts were saved (saving a
    contact while a mailbox is connected fetches that contact's history)."""
    alex = make_user("alex", organisations=(org_a,), email=OWNER)
    return make_account(alex, email=OWNER, grant_id=GRANT)


@pytest.fixture
def contacts(make_contact: Callable[..., Contact], org_a: Organisation) -> set[str]:
    """Save every other person as a contact."""
    for number, email in enumerate(PEOPLE[::2]):
        make_contact(org_a, f"Person {number}", email)
    return set(PEOPLE[::2])


@pytest.fixture
def registered(live_server: Any, emulator: EmulatorControl, settings: Any) -> str:
    """Register our live endpoint through the real challenge handshake."""
    settings.SITE_URL = live_server.url
    settings.NYLAS_WEBHOOK_SECRET = ""
    webhooks.forget_cached_secrets()
    call_command("register_webhook", stdout=StringIO())
    emulator.add_grant(OWNER, GRANT)
    return str(WebhookSecret.objects.get(retired_at__isnull=True).secret)


def inject(emulator: EmulatorControl, rng: random.Random, number: int) -> str:
    sender = rng.choice(PEOPLE)
    return emulator.inject(
        OWNER,
        **{
            "from": [{"name": "Sender", "email": sender}],
            "to": [{"email": OWNER}],
            "subject": f"Message {number}",
            "body": "<p>hello</p>",
        },
    )


def update(emulator: EmulatorControl, message_id: str, subject: str) -> None:
    emulator.post(
        f"/_emulator/messages/{GRANT}/{message_id}/update", {"subject": subject}
    )


def delete(emulator: EmulatorControl, message_id: str) -> None:
    answer = requests.delete(
        f"{emulator.url}/v3/grants/{GRANT}/messages/{message_id}",
        headers={"Authorization": f"Bearer {emulator.handle.api_key}"},
        timeout=10,
    )
    answer.raise_for_status()


def expected_headers(emulator: EmulatorControl, saved: set[str]) -> dict[str, str]:
    """Message id → subject for every mailbox message involving a contact."""
    found = {}
    for message in emulator.mailbox_messages(OWNER):
        addresses = {
            normalise_email(entry["email"])
            for role in ("from", "to", "cc", "bcc")
            for entry in message.get(role) or []
        }
        if addresses & saved:
            found[message["id"]] = message["subject"]
    return found


def stored_headers() -> dict[str, str]:
    return dict(MessageHeader.objects.values_list("nylas_message_id", "subject"))


def wait_until_delivered(emulator: EmulatorControl, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = emulator.post("/_emulator/webhooks/flush", {"timeout": 5})
        if state["empty"]:
            return
    raise AssertionError(f"deliveries still pending after {seconds} s")


def test_register_webhook_stores_secret_after_challenge(registered: str) -> None:
    assert len(registered) >= 16


def test_rotation_keeps_old_secret_valid(registered: str) -> None:
    call_command("register_webhook", "--rotate", stdout=StringIO())

    secrets = webhooks.signing_secrets()
    assert registered in secrets
    assert len(secrets) == 2


def test_shuffled_duplicated_notifications_match_ordered_replay(
    registered: str,
    emulator: EmulatorControl,
    alex_account: EmailAccount,
    contacts: set[str],
) -> None:
    """About 10,000 notifications (20 % duplicated, order shuffled) for
    messages created, updated and deleted: the stored headers equal the
    mailbox's final state, with no loss and no duplicate row."""
    rng = random.Random(20261204)
    emulator.post(
        "/_emulator/webhooks/chaos",
        {"duplicate_ratio": 0.2, "shuffle": True, "seed": 5},
    )
    emulator.post("/_emulator/webhooks/pause")

    created = [inject(emulator, rng, number) for number in range(4200)]
    for number, message_id in enumerate(rng.sample(created, 2600)):
        update(emulator, message_id, f"Updated {number}")
    for message_id in rng.sample(created, 1600):
        delete(emulator, message_id)
    emulator.post("/_emulator/webhooks/resume")
    wait_until_delivered(emulator, 600)

    attempts = emulator.get("/_emulator/webhooks/deliveries")["data"]
    assert len(attempts) >= 10_000
    assert WebhookDelivery.objects.count() == 4200 + 2600 + 1600
    assert stored_headers() == expected_headers(emulator, contacts)
    assert MessageHeader.objects.count() == len(set(stored_headers()))


def test_sweep_stores_what_webhooks_missed_while_down(
    live_server: Any,
    emulator: EmulatorControl,
    alex_account: EmailAccount,
    contacts: set[str],
    settings: Any,
) -> None:
    """The endpoint is unreachable for longer than the emulator retries; one
    sweep afterwards stores every message involving a contact."""
    emulator.add_grant(OWNER, GRANT)
    dead_url = "http://127.0.0.1:9/nylas/webhook/"
    from nylas_emulator.webhooks_api import create_destination

    create_destination(emulator.handle.app, dead_url, ["message.created"], "s")
    EmailAccount.objects.filter(pk=alex_account.pk).update(
        last_synced_at=alex_account.connected_at
    )
    rng = random.Random(7)
    for number in range(60):
        inject(emulator, rng, number)
    wait_until_delivered(emulator, 60)
    assert emulator.post("/_emulator/webhooks/flush", {"timeout": 1})["given_up"] > 0
    assert MessageHeader.objects.count() == 0

    kept = sweep.sweep_account(alex_account.pk)

    assert stored_headers() == expected_headers(emulator, contacts)
    assert kept == len(stored_headers())
    alex_account.refresh_from_db()
    assert alex_account.last_synced_at is not None
